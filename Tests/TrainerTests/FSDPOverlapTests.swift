import Reporting
import Training
import Foundation
import XCTest

/// FSDP's overlap of communication with compute (`fsdp_overlap`) and shared prompts under FSDP,
/// with real `mpirun -np 2` processes.
final class FSDPOverlapTests: XCTestCase, CLIRunning {
    let dpo = ["loss=dpo", "loss.beta=0.1", "trainer=FSDPTrainer"]

    func testOverlapOnAndOffGiveIdenticalLossesAndCheckpoints() throws {
        _ = try MPIHarness.requireMPIRun()
        // Plain float32; bfloat16 communication with two microbatches per update (reductions of
        // the first still running when the second's backward adds to the same shard gradients).
        for extra in [[String](), ["model.fsdp_policy_mp=bfloat16", "gradient_accumulation_steps=2"]] {
            var runs: [String: URL] = [:]
            for overlap in ["true", "false"] {
                let run = tempRun("overlap-\(overlap)")
                let r = try mpirun(2, ["train"] + common(run) + dpo + extra + ["n_examples=16", "fsdp_overlap=\(overlap)"])
                XCTAssertEqual(r.result.status, 0, r.result.output)
                XCTAssertTrue(r.result.output.contains(overlap == "true" ? "collectives overlapped with compute" : "each collective waited for"),
                              r.result.output)
                XCTAssertTrue(r.result.output.contains("communication rank 1 on "), r.result.output)
                runs[overlap] = run
            }
            let on = try trainRecords(runs["true"]!), off = try trainRecords(runs["false"]!)
            XCTAssertEqual(on.map(\.examples), [4, 8, 12, 16], "\(extra)")
            XCTAssertEqual(on, off, "every metric of every update, bit for bit (\(extra))")
            for file in ["policy.safetensors", "optimizer.safetensors"] {
                let a = try Data(contentsOf: runs["true"]!.appendingPathComponent("LATEST/\(file)"))
                let b = try Data(contentsOf: runs["false"]!.appendingPathComponent("LATEST/\(file)"))
                XCTAssertTrue(a == b, "\(file) identical with and without overlap (\(extra))")
            }
        }
    }

    func testSharedPromptsRunUnderFSDPAndMatchBasicTrainer() throws {
        _ = try MPIHarness.requireMPIRun()
        let basic = tempRun("share-basic"), fsdp = tempRun("share-fsdp")
        let a = try dpohost(["train"] + common(basic) + ["loss=dpo", "loss.beta=0.1", "n_examples=16"])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try mpirun(2, ["train"] + common(fsdp) + dpo + ["n_examples=16"])
        XCTAssertEqual(b.result.status, 0, b.result.output)
        XCTAssertTrue(b.result.output.contains("share_prompt: each pair's first"), b.result.output)
        try assertSameMetrics(basic, fsdp, steps: [4, 8, 12, 16])
        try assertCheckpointsAgree(basic, fsdp, checkpointFile: "policy.safetensors", tolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3)
    }

    func testRanksWhoseSlicesDisagreeOnSharingRunWholeRowsTogether() throws {
        _ = try MPIHarness.requireMPIRun()
        // Pairs with a one-token prompt cannot share it (no position before the first scored
        // label); mixed with long prompts, some batch gives one rank a slice that can share and
        // the other one that cannot. Every rank must then run whole rows, or their collectives
        // would no longer match.
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-mixed-prompts-\(UUID()).jsonl")
        var lines: [String] = []
        for i in 0..<16 {
            let prompt = i % 4 == 1 ? "Q" : "\\n\\nHuman: Name a colour that the sky can be, number \(i).\\n\\nAssistant:"
            lines.append("{\"prompt\": \"\(prompt)\", \"chosen\": \" Blue, \(i).\", \"rejected\": \" No.\"}")
        }
        try lines.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        func args(_ run: URL) -> [String] {
            common(run).filter { !$0.hasPrefix("datasets=") && !$0.hasPrefix("dataset_options.") && !$0.hasPrefix("n_eval_examples") }
                + ["datasets=[jsonl]", "dataset_options.jsonl.path=\(data.path)", "n_eval_examples=0", "loss=dpo", "loss.beta=0.1",
                   "n_examples=16", "collective_timeout_secs=30"]
        }
        let basic = tempRun("mixed-basic"), fsdp = tempRun("mixed-fsdp")
        let a = try dpohost(["train"] + args(basic))
        XCTAssertEqual(a.status, 0, a.output)
        let b = try mpirun(2, ["train"] + args(fsdp) + ["trainer=FSDPTrainer"], timeout: 90)
        XCTAssertEqual(b.result.status, 0, b.result.output)
        XCTAssertTrue(b.result.output.contains("share_prompt: each pair's first"), "some batches still share: \(b.result.output)")
        try assertSameMetrics(basic, fsdp, steps: [4, 8, 12, 16])
    }

    /// The train records of a run's metrics.jsonl without the wall-clock ones.
    private func trainRecords(_ run: URL) throws -> [Record] {
        try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).filter { $0.split == "train" }.map { r in
            Record(examples: r.examples, values: r.values.filter { !$0.key.contains("per_second") && !$0.key.hasPrefix("time") })
        }
    }

    private struct Record: Equatable { let examples: Int; let values: [String: Double] }
}
