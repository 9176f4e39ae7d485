import Checkpoint
import Foundation
@testable import Parallel
import PluginHost
import TensorCore
@testable import Training
import XCTest

/// TensorParallelTrainer with real processes (`mpirun -np 2` running the built binary) against
/// BasicTrainer on the same batches, for the three model plugins' layouts: NeoX's per-head fused
/// qkv `[out, in]`, Llama's grouped-query projections, GPT-2's Conv1D `[in, out]` q|k|v blocks.
///
/// Tolerances: the ranks compute the same float32 operations as BasicTrainer, re-associated: a
/// row-parallel product is two half-length dot products summed (and its bias added after the
/// sum, not inside the GEMM), and the gradient of a split linear's input is the sum of two
/// halves. Each re-association changes the last bits (relative ~1e-7), so losses, norms and
/// metrics agree to 1e-4 relative after 5 steps, and with SGD (linear in the gradient) the
/// parameters to 1e-6. With RMSprop the first updates are ~lr*g/sqrt((1-alpha) g^2) =
/// 10*lr*sign(g): an element whose gradient is at rounding level may flip sign, so a handful of
/// elements differ by up to ~10*lr while all others agree to 1e-6 (as FSDPTrainerTests explain).
final class TensorParallelTrainerTests: XCTestCase, CLIRunning {
    let dpo = ["loss=dpo", "loss.beta=0.1"]
    let tp = ["trainer=TensorParallelTrainer"]

    func testPythiaFiveDPOStepsMatchBasicTrainerWithSGD() throws {
        try compareWithBasic(model: "pythia-tiny", extra: ["optimizer=SGD", "lr=0.05"], parameterTolerance: 1e-6, outliers: 0)
    }

    func testPythiaFiveDPOStepsMatchBasicTrainerWithRMSprop() throws {
        try compareWithBasic(model: "pythia-tiny", extra: [], parameterTolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3)
    }

    func testLlamaGQAFiveDPOStepsMatchBasicTrainer() throws {
        try compareWithBasic(model: "llama-tiny", extra: [], parameterTolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3)
    }

    func testGPT2FiveDPOStepsMatchBasicTrainer() throws {
        try compareWithBasic(model: "gpt2-tiny", extra: [], parameterTolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3)
    }

    func testTRDPOReferenceSyncOfASplitReferenceMatchesBasicTrainer() throws {
        // The reference moves toward the policy block by block and is checkpointed in full.
        try compareWithBasic(model: "llama-tiny", extra: ["sync_ref_model=true", "ref_model_sync_steps=2", "ref_model_mixup_alpha=0.5"],
                             parameterTolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3,
                             files: ["policy.safetensors", "optimizer.safetensors", CheckpointStore.referenceFileName])
    }

    private func compareWithBasic(model: String, extra: [String], parameterTolerance: Float, outliers: Double,
                                  outlierBound: Float = 0, files: [String] = ["policy.safetensors", "optimizer.safetensors"],
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try MPIHarness.requireMPIRun()
        let basic = tempRun("basic"), split = tempRun("tp")
        let args = dpo + ["n_examples=20"] + extra   // 5 updates of 4 examples
        let a = try dpohost(["train"] + common(basic, model: model) + args)
        XCTAssertEqual(a.status, 0, a.output, file: file, line: line)
        let b = try mpirun(2, ["train"] + common(split, model: model) + args + tp)
        XCTAssertEqual(b.result.status, 0, b.result.output, file: file, line: line)
        XCTAssertTrue(b.result.output.contains("TP: 2 ranks"), b.result.output, file: file, line: line)
        try assertSameMetrics(basic, split, steps: [4, 8, 12, 16, 20], file: file, line: line)

        for checkpointFile in files {
            // Full tensors in BasicTrainer's layout, whatever was split.
            try assertCheckpointsAgree(basic, split, checkpointFile: checkpointFile, tolerance: parameterTolerance,
                                       outliers: outliers, outlierBound: outlierBound, file: file, line: line)
        }
    }

    func testResumeAcrossWorldSizesContinuesIdentically() throws {
        _ = try MPIHarness.requireMPIRun()
        let straight = tempRun("straight")
        let s = try mpirun(2, ["train"] + common(straight) + dpo + ["n_examples=24"] + tp)
        XCTAssertEqual(s.result.status, 0, s.result.output)

        // 2 ranks -> 1 process (BasicTrainer) and -> 1 rank (TensorParallelTrainer without mpirun).
        for oneRank in [["trainer=BasicTrainer"], tp] {
            let run = tempRun("two-to-one")
            let first = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=12"] + tp)
            XCTAssertEqual(first.result.status, 0, first.result.output)
            let second = try dpohost(["train"] + common(run) + dpo + ["n_examples=24", "resume=\(run.path)"] + oneRank)
            XCTAssertEqual(second.status, 0, second.output)
            XCTAssertTrue(second.output.contains("resumed from"), second.output)
            try assertSameMetrics(straight, run, steps: [4, 8, 12, 16, 20, 24])
        }

        // 1 process -> 2 ranks.
        let run = tempRun("one-to-two")
        let first = try dpohost(["train"] + common(run) + dpo + ["n_examples=12"])
        XCTAssertEqual(first.status, 0, first.output)
        let second = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=24", "resume=\(run.path)"] + tp)
        XCTAssertEqual(second.result.status, 0, second.result.output)
        XCTAssertTrue(second.result.output.contains("resumed from"), second.result.output)
        try assertSameMetrics(straight, run, steps: [4, 8, 12, 16, 20, 24])
    }

    func testEachRankHoldsHalfOfTheSplitLinears() throws {
        _ = try MPIHarness.requireMPIRun()
        let a = try dpohost(["train"] + common(tempRun("mem-basic")) + dpo + ["n_examples=4"])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try mpirun(2, ["train"] + common(tempRun("mem-tp")) + dpo + ["n_examples=4"] + tp)
        XCTAssertEqual(b.result.status, 0, b.result.output)
        let basic = try XCTUnwrap(numbers(a.output, prefix: "memory rank ")[0])
        let memory = numbers(b.result.output, prefix: "memory rank ")
        let split = numbers(b.result.output, prefix: "tensor parallel rank ")
        XCTAssertEqual(memory.count, 2, b.result.output)
        XCTAssertEqual(split.count, 2, b.result.output)
        for rank in 0..<2 {
            let m = try XCTUnwrap(memory[rank]), s = try XCTUnwrap(split[rank])
            // [local split, full split, replicated] MiB: the blocks are exactly half.
            XCTAssertEqual(s[0] / s[1], 0.5, accuracy: 0.005, "split linears (rank \(rank))")
            XCTAssertEqual(s[1] + s[2], basic[0], accuracy: 0.002, "the whole model is split + replicated")
            // Parameters, gradients and optimizer state: this rank's blocks plus the replicated rest.
            for (i, what) in [(0, "parameters"), (2, "gradients"), (3, "optimizer state")] {
                XCTAssertEqual(m[i], s[0] + s[2], accuracy: 0.002, "\(what) (rank \(rank))")
                XCTAssertLessThan(m[i], basic[i], "\(what) (rank \(rank))")
            }
        }
    }

    func testSamplingDuringEvalRunsOnEveryRankAndTheRootWrites() throws {
        _ = try MPIHarness.requireMPIRun()
        let sampling = ["n_examples=8", "sample_during_eval=true", "n_eval_model_samples=4", "max_length=72"]
        let basic = tempRun("sample-basic"), split = tempRun("sample-tp")
        let a = try dpohost(["train"] + common(basic) + dpo + sampling)
        XCTAssertEqual(a.status, 0, a.output)
        let b = try mpirun(2, ["train"] + common(split) + dpo + sampling + tp, timeout: 120)
        XCTAssertEqual(b.result.status, 0, b.result.output)
        let lines = { (run: URL) in
            (try? String(contentsOf: run.appendingPathComponent("samples.jsonl"), encoding: .utf8))?
                .split(separator: "\n").count ?? 0
        }
        XCTAssertGreaterThan(lines(basic), 0)
        XCTAssertEqual(lines(split), lines(basic))
    }

    func testAWorldSizeThatDoesNotDivideTheLinearsIsAClearErrorBeforeARunDirectory() throws {
        _ = try MPIHarness.requireMPIRun()
        let run = tempRun("three")
        let r = try mpirun(3, ["train"] + common(run) + dpo + ["n_examples=4"] + tp, timeout: 120, oversubscribe: true)
        XCTAssertNotEqual(r.result.status, 0, r.result.output)
        XCTAssertTrue(r.result.output.contains("not divisible by 3"), r.result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "no run directory for a run that cannot start")
    }

    func testAHangingRankIsAbortedByTheCollectiveTimeout() throws {
        _ = try MPIHarness.requireMPIRun()
        let run = tempRun("hung")
        var stopped: Int32?
        let r = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=4000", "n_epochs=1000", "collective_timeout_secs=3"] + tp,
                           timeout: 120) { mpirunPid in
            guard FileManager.default.fileExists(atPath: run.appendingPathComponent("metrics.jsonl").path),
                  let rank1 = MPIHarness.ranks(of: mpirunPid)[1] else { return false }
            kill(rank1, SIGSTOP)   // alive but never answers again
            stopped = rank1
            return true
        }
        if let stopped { kill(stopped, SIGKILL) }
        XCTAssertNotNil(stopped)
        XCTAssertNotEqual(r.result.status, 0, r.result.output)
        XCTAssertTrue(r.result.output.contains("a rank died or hangs"), r.result.output)
        XCTAssertLessThan(r.seconds, 60)
    }

    // MARK: helpers

    private func common(_ runDir: URL, model: String = "pythia-tiny") -> [String] {
        common(runDir).map { $0 == "model=pythia-tiny" ? "model=\(model)" : $0 }
    }

    /// The numbers of each `<prefix>R: ...` log line, by rank R.
    private func numbers(_ log: String, prefix: String) -> [Int: [Double]] {
        var out: [Int: [Double]] = [:]
        for line in log.split(separator: "\n") where line.hasPrefix(prefix) {
            let rank = Int(line.dropFirst(prefix.count).prefix { $0.isNumber })!
            out[rank] = line.split(separator: " ").dropFirst(3).compactMap { Double($0) }
        }
        return out
    }
}

/// Which parameters a tensor-parallel plan splits, along which axis (no MPI needed).
final class TensorParallelPlanTests: XCTestCase {
    let specs = [
        ParameterSpec(name: "embed.weight", shape: [10, 4]),
        ParameterSpec(name: "qkv.weight", shape: [12, 4], parallel: .column),
        ParameterSpec(name: "qkv.bias", shape: [12]),
        ParameterSpec(name: "dense.weight", shape: [4, 4], parallel: .row),
        ParameterSpec(name: "dense.bias", shape: [4]),
        ParameterSpec(name: "fc.weight", shape: [4, 8], parallel: .column),   // Conv1D [in, out]
        ParameterSpec(name: "fc.bias", shape: [8]),
        ParameterSpec(name: "proj.weight", shape: [8, 4], parallel: .row),    // Conv1D [in, out]
    ]
    let uses: [String: LinearUse?] = [
        "qkv.weight": LinearUse(layout: .outIn, bias: "qkv.bias"), "dense.weight": LinearUse(layout: .outIn, bias: "dense.bias"),
        "fc.weight": LinearUse(layout: .inOut, bias: "fc.bias"), "proj.weight": LinearUse(layout: .inOut, bias: nil),
    ]

    func testColumnsSplitOutputFeaturesWithTheirBiasRowsSplitInputFeatures() throws {
        let plan = try TensorParallelPlan(specs: specs, uses: uses, worldSize: 2)
        XCTAssertEqual(plan.axes, ["qkv.weight": 0, "qkv.bias": 0, "dense.weight": 1, "fc.weight": 1, "fc.bias": 0, "proj.weight": 0])
        XCTAssertEqual(plan.linears.map(\.weight), ["qkv.weight", "dense.weight", "fc.weight", "proj.weight"])
    }

    func testAnIndivisibleDimensionNamesTheParameterAndTheWorldSize() {
        XCTAssertThrowsError(try TensorParallelPlan(specs: specs, uses: uses, worldSize: 3)) { error in
            XCTAssertEqual(error as? TensorParallelError,
                           .indivisible(parameter: "dense.weight", shape: [4, 4], axis: 1, what: "input features", worldSize: 3))
            XCTAssertTrue("\(error)".contains("not divisible by 3"), "\(error)")
        }
    }

    func testAMarkedWeightNeverUsedAsALinearIsAnError() {
        var partial = uses
        partial["proj.weight"] = nil
        XCTAssertThrowsError(try TensorParallelPlan(specs: specs, uses: partial, worldSize: 2)) { error in
            XCTAssertEqual(error as? TensorParallelError, .notALinearWeight(parameter: "proj.weight", style: "row"))
        }
        var conflicting = uses
        conflicting["fc.weight"] = .some(nil)
        XCTAssertThrowsError(try TensorParallelPlan(specs: specs, uses: conflicting, worldSize: 2)) { error in
            XCTAssertEqual(error as? TensorParallelError, .conflictingUses(parameter: "fc.weight"))
        }
    }
}
