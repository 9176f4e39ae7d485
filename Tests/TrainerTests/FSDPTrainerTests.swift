import Checkpoint
import Foundation
import Model
import TensorCore
import Training
import XCTest

/// FSDPTrainer with real processes (`mpirun -np 2` running the built binary) against
/// BasicTrainer on the same global batches.
///
/// Tolerances: both trainers compute the same float32 operations, but FSDP sums each gradient as
/// two half-batch gradients (one per rank) reduce-scattered and averaged, where BasicTrainer
/// sums over the whole batch in one backward; float32 re-association changes the last bits
/// (relative ~1e-7 per sum). Losses, norms and metrics therefore agree to 1e-4 relative after
/// 5 steps. Parameters: with SGD an update is linear in the gradient, so they agree to 1e-6. With
/// RMSprop the first updates are ~lr*g/sqrt((1-alpha) g^2) = 10*lr*sign(g): an element whose
/// gradient is itself at rounding level (a near-cancelling sum) may take a different sign, so a
/// handful of elements differ by up to ~10*lr while all the others agree to 1e-6.
final class FSDPTrainerTests: XCTestCase, CLIRunning {
    let dpo = ["loss=dpo", "loss.beta=0.1"]

    func testFiveDPOStepsMatchBasicTrainerWithSGD() throws {
        try compareWithBasic(extra: ["optimizer=SGD", "lr=0.05"], parameterTolerance: 1e-6, outliers: 0)
    }

    func testFiveDPOStepsMatchBasicTrainerWithRMSprop() throws {
        // lr=1e-4 (common): outliers bounded by 10*lr = 1e-3, at most 0.1% of the elements.
        try compareWithBasic(extra: [], parameterTolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3)
    }

    private func compareWithBasic(extra: [String], parameterTolerance: Float, outliers: Double,
                                  outlierBound: Float = 0, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try MPIHarness.requireMPIRun()
        let basic = tempRun("basic"), fsdp = tempRun("fsdp")
        let args = dpo + ["n_examples=20"] + extra   // 5 updates of 4 examples
        let a = try dpohost(["train"] + common(basic) + args)
        XCTAssertEqual(a.status, 0, a.output, file: file, line: line)
        let b = try mpirun(2, ["train"] + common(fsdp) + args + ["trainer=FSDPTrainer"])
        XCTAssertEqual(b.result.status, 0, b.result.output, file: file, line: line)
        XCTAssertTrue(b.result.output.contains("FSDP: 2 ranks"), b.result.output, file: file, line: line)
        func reports(_ log: String) -> Int { log.split(separator: "\n").filter { $0.hasPrefix("run directory:") }.count }
        XCTAssertEqual(reports(b.result.output), reports(a.output), "only rank 0 reports", file: file, line: line)
        try assertSameMetrics(basic, fsdp, steps: [4, 8, 12, 16, 20], file: file, line: line)

        try assertCheckpointsAgree(basic, fsdp, checkpointFile: "policy.safetensors", tolerance: parameterTolerance,
                                   outliers: outliers, outlierBound: outlierBound, file: file, line: line)
        let got = try CheckpointStore.weights(in: fsdp.appendingPathComponent("LATEST").path)
        // The optimizer state is saved in full, in BasicTrainer's layout.
        let optA = try CheckpointStore.tensors(inFile: basic.appendingPathComponent("LATEST/optimizer.safetensors").path)
        let optB = try CheckpointStore.tensors(inFile: fsdp.appendingPathComponent("LATEST/optimizer.safetensors").path)
        XCTAssertEqual(Set(optA.keys), Set(optB.keys), file: file, line: line)
        XCTAssertEqual(optA.mapValues(\.shape), optB.mapValues(\.shape), file: file, line: line)
        // A sharded run exports the same Hugging Face directory as any other run.
        let export = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-export-\(UUID())")
        let e = try dpohost(["export", fsdp.path, export.path])
        XCTAssertEqual(e.status, 0, e.output, file: file, line: line)
        let exported = try CheckpointStore.weights(in: export.path)
        XCTAssertEqual(Set(exported.keys), Set(got.keys), file: file, line: line)
        for (name, t) in got {
            XCTAssertEqual(exported[name].map { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) },
                           Array(UnsafeBufferPointer(start: t.pointer, count: t.count)), name, file: file, line: line)
        }
    }

    func testResumeAcrossWorldSizesContinuesIdentically() throws {
        _ = try MPIHarness.requireMPIRun()
        let straight = tempRun("straight")
        let s = try mpirun(2, ["train"] + common(straight) + dpo + ["n_examples=24", "trainer=FSDPTrainer"])
        XCTAssertEqual(s.result.status, 0, s.result.output)

        // 2 ranks -> 1 process (BasicTrainer) and -> 1 rank (FSDPTrainer without mpirun).
        for oneRank in [["trainer=BasicTrainer"], ["trainer=FSDPTrainer"]] {
            let run = tempRun("two-to-one")
            let first = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=12", "trainer=FSDPTrainer"])
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
        let second = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=24", "resume=\(run.path)", "trainer=FSDPTrainer"])
        XCTAssertEqual(second.result.status, 0, second.result.output)
        XCTAssertTrue(second.result.output.contains("resumed from"), second.result.output)
        try assertSameMetrics(straight, run, steps: [4, 8, 12, 16, 20, 24])
    }

    func testAKilledRankEndsTheJobWithAnErrorAndTheRunResumes() throws {
        _ = try MPIHarness.requireMPIRun()
        let run = tempRun("killed")
        let long = dpo + ["n_examples=4000", "n_epochs=1000", "trainer=FSDPTrainer"]
        var killedAt: Date?
        let r = try mpirun(2, ["train"] + common(run) + long, timeout: 120) { mpirunPid in
            guard FileManager.default.fileExists(atPath: run.appendingPathComponent("step-8/trainer_state.json").path),
                  let rank1 = MPIHarness.ranks(of: mpirunPid)[1] else { return false }
            kill(rank1, SIGKILL)
            killedAt = Date()
            return true
        }
        XCTAssertNotNil(killedAt, "rank 1 was never killed")
        XCTAssertNotEqual(r.result.status, 0, r.result.output)
        if let killedAt { XCTAssertLessThan(Date().timeIntervalSince(killedAt), 60, "the job must end soon after a rank dies") }

        let resumed = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=16", "trainer=FSDPTrainer", "resume=\(run.path)"])
        XCTAssertEqual(resumed.result.status, 0, resumed.result.output)
        XCTAssertTrue(resumed.result.output.contains("resumed from"), resumed.result.output)
    }

    func testAHangingRankIsAbortedByTheCollectiveTimeout() throws {
        _ = try MPIHarness.requireMPIRun()
        let run = tempRun("hung")
        var stopped: Int32?
        let r = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=4000", "n_epochs=1000", "trainer=FSDPTrainer",
                                                               "collective_timeout_secs=3"], timeout: 120) { mpirunPid in
            guard FileManager.default.fileExists(atPath: run.appendingPathComponent("metrics.jsonl").path),
                  let rank1 = MPIHarness.ranks(of: mpirunPid)[1] else { return false }
            kill(rank1, SIGSTOP)   // alive but never answers again
            stopped = rank1
            return true
        }
        if let stopped { kill(stopped, SIGKILL) }
        XCTAssertNotNil(stopped)
        XCTAssertNotEqual(r.result.status, 0, r.result.output)
        XCTAssertTrue(r.result.output.contains("waited") && r.result.output.contains("a rank died or hangs"), r.result.output)
        XCTAssertLessThan(r.seconds, 60)
    }

    func testMemoryPerRankOfShardedStateIsHalfOfBasicTrainers() throws {
        _ = try MPIHarness.requireMPIRun()
        let a = try dpohost(["train"] + common(tempRun("mem-basic")) + dpo + ["n_examples=4"])
        XCTAssertEqual(a.status, 0, a.output)
        let units = try unitMiB(model: "Tests/Fixtures/models/pythia-tiny", blockName: "gpt_neox.layers.{i}", worldSize: 2)
        // Whole parameters exist one unit at a time when each collective is waited for: the peak
        // is the largest unit, padded. Overlapped, the next unit arrives while one computes.
        for (overlap, peak) in [("false", units[0]), ("true", units[0] + units[1])] {
            let b = try mpirun(2, ["train"] + common(tempRun("mem-fsdp")) + dpo + ["n_examples=4", "trainer=FSDPTrainer", "fsdp_overlap=\(overlap)"])
            XCTAssertEqual(b.result.status, 0, b.result.output)
            let basic = try XCTUnwrap(memory(a.output)[0])
            let ranks = memory(b.result.output)
            XCTAssertEqual(ranks.count, 2, b.result.output)
            for (rank, m) in ranks {
                if overlap == "false" {
                    XCTAssertEqual(m.parameters, peak, accuracy: 0.0015, "peak of gathered parameters (rank \(rank))")
                } else {
                    XCTAssertGreaterThan(m.parameters, units[0] + 0.0015, "a unit gathered ahead (rank \(rank))")
                    XCTAssertLessThanOrEqual(m.parameters, peak + 0.0015, "at most one unit ahead (rank \(rank))")
                }
                XCTAssertLessThan(m.parameters, basic.parameters, "never all parameters at once (rank \(rank))")
                // Padding to a multiple of the world size adds at most one element per unit.
                XCTAssertEqual(m.master / basic.parameters, 0.5, accuracy: 0.01, "parameter shard kept between uses (rank \(rank))")
                XCTAssertEqual(m.gradients / basic.gradients, 0.5, accuracy: 0.01, "gradients (rank \(rank))")
                XCTAssertEqual(m.optimizer / basic.optimizer, 0.5, accuracy: 0.01, "optimizer state (rank \(rank))")
            }
        }
    }

    func testAccumulationSamplingCachedReferenceAndReferenceSyncMatchBasicTrainer() throws {
        _ = try MPIHarness.requireMPIRun()
        // Every path that runs a sharded model outside the plain step: two microbatches per
        // update (two forward/backward passes before the optimizer), evaluation samples (every
        // rank generates, token by token), reference log-probs computed once up front, and
        // TR-DPO's reference moving toward the policy (sharded slice by slice), and a float16
        // reference.
        for extra in [["gradient_accumulation_steps=2", "sample_during_eval=true", "n_eval_model_samples=4", "max_length=48", "max_prompt_length=24"],
                      ["precompute_ref_log_probs=true"],
                      ["sync_ref_model=true", "ref_model_sync_steps=2", "ref_model_mixup_alpha=0.5"],
                      // float16 reference: 16-bit weights in one process, rounded slices under FSDP.
                      ["model.reference_dtype=float16", "sync_ref_model=true", "ref_model_sync_steps=2", "ref_model_mixup_alpha=0.5"]] {
            let basic = tempRun("paths-basic"), fsdp = tempRun("paths-fsdp")
            let args = dpo + ["n_examples=16"] + extra
            let a = try dpohost(["train"] + common(basic) + args)
            XCTAssertEqual(a.status, 0, a.output)
            let b = try mpirun(2, ["train"] + common(fsdp) + args + ["trainer=FSDPTrainer"])
            XCTAssertEqual(b.result.status, 0, b.result.output)
            try assertSameMetrics(basic, fsdp, steps: [4, 8, 12, 16])
            try assertCheckpointsAgree(basic, fsdp, checkpointFile: "policy.safetensors", tolerance: 1e-6, outliers: 0.001, outlierBound: 1e-3)
            if extra.contains("sample_during_eval=true") {
                let samples = try String(contentsOf: fsdp.appendingPathComponent("samples.jsonl"), encoding: .utf8)
                XCTAssertFalse(samples.isEmpty, "the root writes the samples every rank generated")
            }
        }
    }

    func testLoRAWithTheBaseShardedAndTheAdaptersReplicatedMatchesBasicTrainerAndResumesInOneProcess() throws {
        _ = try MPIHarness.requireMPIRun()
        // SGD: an update linear in the gradient, so the adapters agree to rounding. A bfloat16
        // base: rounded slices under FSDP, held compact in one process.
        let lora = ["lora.r=4", "lora.alpha=8", "lora.target_modules=all-linear", "optimizer=SGD", "lr=0.05", "model.reference_dtype=bfloat16"]
        let basic = tempRun("lora-basic"), fsdp = tempRun("lora-fsdp")
        let a = try dpohost(["train"] + common(basic) + dpo + lora + ["n_examples=16"])
        XCTAssertEqual(a.status, 0, a.output)
        let b = try mpirun(2, ["train"] + common(fsdp) + dpo + lora + ["n_examples=8", "trainer=FSDPTrainer"])
        XCTAssertEqual(b.result.status, 0, b.result.output)
        XCTAssertTrue(b.result.output.contains("LoRA adapters replicated on every rank"), b.result.output)
        // The second half in one process, from the sharded run's checkpoint.
        let c = try dpohost(["train"] + common(fsdp) + dpo + lora + ["n_examples=16", "resume=\(fsdp.path)"])
        XCTAssertEqual(c.status, 0, c.output)
        try assertSameMetrics(basic, fsdp, steps: [4, 8, 12, 16])
        try assertCheckpointsAgree(basic, fsdp, checkpointFile: "adapter_model.safetensors", tolerance: 1e-6, outliers: 0, outlierBound: 0)
        let adapter = try CheckpointStore.tensors(inFile: fsdp.appendingPathComponent("LATEST/adapter_model.safetensors").path)
        XCTAssertTrue(adapter.values.contains { t in t.scalars.contains { $0 != 0 } && t.shape[1] == 4 }, "B moved from zero")
    }

    /// MiB of each FSDP unit of a model directory, padded to the world size, largest first.
    private func unitMiB(model: String, blockName: String, worldSize: Int) throws -> [Double] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let weights = try CheckpointStore.weights(in: root.appendingPathComponent(model).path)
        let layout = ShardLayout(parameters: weights.keys.sorted().map { (name: $0, count: weights[$0]!.count) },
                                 blockName: blockName, worldSize: worldSize)
        return layout.units.map { Double($0.shardLength * worldSize * 4) / 1_048_576 }.sorted(by: >)
    }

    // MARK: helpers

    private struct Memory { let parameters, master, gradients, optimizer: Double }

    /// The `memory rank R: ...` lines of a train log, by rank (MiB).
    private func memory(_ log: String) -> [Int: Memory] {
        var out: [Int: Memory] = [:]
        for line in log.split(separator: "\n") where line.hasPrefix("memory rank ") {
            let rank = Int(line.dropFirst("memory rank ".count).prefix { $0.isNumber })!
            let numbers = line.split(separator: " ").compactMap { Double($0) }
            guard numbers.count == 4 else { continue }
            out[rank] = Memory(parameters: numbers[0], master: numbers[1], gradients: numbers[2], optimizer: numbers[3])
        }
        return out
    }
}

/// How parameters fall into FSDP units and shards (no MPI needed).
final class ShardLayoutTests: XCTestCase {
    func testBlocksAreUnitsAndTheRestIsOneUnitPaddedToTheWorldSize() {
        let params = [("gpt_neox.embed_in.weight", 10), ("gpt_neox.layers.0.attention.dense.weight", 4),
                      ("gpt_neox.layers.0.mlp.bias", 3), ("gpt_neox.layers.1.mlp.bias", 3),
                      ("gpt_neox.layers.10.mlp.bias", 2), ("gpt_neox.final_layer_norm.weight", 5), ("embed_out.weight", 1)]
        let layout = ShardLayout(parameters: params.map { (name: $0.0, count: $0.1) }, blockName: "gpt_neox.layers.{i}", worldSize: 2)
        XCTAssertEqual(layout.units.map(\.name), ["non_block", "gpt_neox.layers.0", "gpt_neox.layers.1", "gpt_neox.layers.10"])
        XCTAssertEqual(layout.units.map(\.length), [16, 7, 3, 2])
        XCTAssertEqual(layout.units.map(\.shardLength), [8, 4, 2, 1])
        XCTAssertEqual(layout.units[0].members.map(\.parameter), [0, 5, 6])
        XCTAssertEqual(layout.units[0].members.map(\.offset), [0, 10, 15])
        XCTAssertEqual(layout.totalElements, 28)
        XCTAssertEqual(layout.shardElements, 15)
    }

    func testGPT2StyleBlockNamesWithASuffix() {
        let layout = ShardLayout(parameters: [("transformer.h.3.attn.c_attn.weight", 6), ("transformer.h.3x.weight", 1),
                                              ("transformer.wte.weight", 4)].map { (name: $0.0, count: $0.1) },
                                 blockName: "transformer.h.{i}", worldSize: 3)
        XCTAssertEqual(layout.units.map(\.name), ["transformer.h.3", "non_block"])
        XCTAssertEqual(layout.units.map(\.shardLength), [2, 2])
    }
}
