import Checkpoint
import Foundation
import Model
import TensorCore
import Training
import XCTest

/// bfloat16 rounding as FSDP's `fsdp_policy_mp=bfloat16` communication applies it.
final class BFloat16Tests: XCTestCase {
    func testRoundsToNearestEvenAndKeepsSpecialValues() {
        XCTAssertEqual(BFloat16.bits(1), 0x3F80)
        XCTAssertEqual(BFloat16.bits(-2), 0xC000)
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even pattern (1).
        XCTAssertEqual(BFloat16.bits(1 + 0x1p-8), 0x3F80)
        // 1 + 3*2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        XCTAssertEqual(BFloat16.bits(1 + 3 * 0x1p-8), 0x3F82)
        XCTAssertEqual(BFloat16.bits(1 + 0x1p-8 + 0x1p-20), 0x3F81, "above halfway rounds up")
        XCTAssertEqual(BFloat16.value(0x3F81), 1 + 0x1p-7)
        XCTAssertTrue(BFloat16.rounded(.nan).isNaN)
        XCTAssertEqual(BFloat16.rounded(.infinity), .infinity)
        XCTAssertEqual(BFloat16.rounded(-.infinity), -.infinity)
        XCTAssertEqual(BFloat16.rounded(.greatestFiniteMagnitude), .infinity, "beyond bf16's range, as torch rounds it")
        XCTAssertEqual(BFloat16.rounded(0x1p-130), 0x1p-130, "subnormals keep their top bits")
    }
}

/// FSDPTrainer with `model.fsdp_policy_mp=bfloat16` against the float32 FSDP run.
final class FSDPMixedPrecisionTests: XCTestCase, CLIRunning {
    let dpo = ["loss=dpo", "loss.beta=0.1"]

    func testBFloat16CommunicationTrainsCloseToFloat32ButNotIdentically() throws {
        _ = try MPIHarness.requireMPIRun()
        let fp32 = tempRun("fsdp-fp32"), bf16 = tempRun("fsdp-bf16")
        let args = dpo + ["n_examples=20", "trainer=FSDPTrainer"]
        let a = try mpirun(2, ["train"] + common(fp32) + args)
        XCTAssertEqual(a.result.status, 0, a.result.output)
        let b = try mpirun(2, ["train"] + common(bf16) + args + ["model.fsdp_policy_mp=bfloat16"])
        XCTAssertEqual(b.result.status, 0, b.result.output)
        XCTAssertTrue(b.result.output.contains("bfloat16 communication for the policy"), b.result.output)
        // bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3 per value); the losses and
        // norms of 5 steps stay within 2e-2 of float32's.
        try assertSameMetrics(fp32, bf16, steps: [4, 8, 12, 16, 20], relativeTolerance: 2e-2)
        // The master parameters stay float32; each update used bf16-rounded gradients, so they
        // differ from float32's by about lr per step at most (lr 1e-4, RMSprop, 5 steps).
        let p32 = try CheckpointStore.tensors(inFile: fp32.appendingPathComponent("LATEST/policy.safetensors").path)
        let p16 = try CheckpointStore.tensors(inFile: bf16.appendingPathComponent("LATEST/policy.safetensors").path)
        var largest: Float = 0
        for (name, x) in p32 {
            let y = try XCTUnwrap(p16[name])
            for i in 0..<x.count { largest = max(largest, abs(x.pointer[i] - y.pointer[i])) }
        }
        XCTAssertLessThanOrEqual(largest, 5 * 10 * 1e-4, "at most 5 updates of up to 10*lr apart")
        XCTAssertGreaterThan(largest, 1e-6, "bf16 communication must change something")
    }

    func testFloat16PolicyPrecisionIsRefusedNamingTheKey() throws {
        _ = try MPIHarness.requireMPIRun()
        let r = try mpirun(2, ["train"] + common(tempRun("fsdp-fp16")) + dpo + ["n_examples=4", "trainer=FSDPTrainer", "model.fsdp_policy_mp=float16"])
        XCTAssertNotEqual(r.result.status, 0)
        XCTAssertTrue(r.result.output.contains("model.fsdp_policy_mp=float16"), r.result.output)
    }
}
