import Checkpoint
import Foundation
import Training
import XCTest

/// FSDPTrainer and TensorParallelTrainer across hosts (network namespaces, TCP only, a hostfile
/// and a remote launcher: `NamespaceHosts`) against BasicTrainer on the same batches, resume
/// between a multi-host run and one host, and a host cut off mid-run. Tolerances as
/// FSDPTrainerTests and TensorParallelTrainerTests explain: the same float32 operations in
/// another order.
final class MultiHostTests: XCTestCase, CLIRunning {
    let dpo = ["loss=dpo", "loss.beta=0.1"]

    func hosts(_ n: Int) throws -> NamespaceHosts {
        _ = try MPIHarness.requireMPIRun()
        let hosts = try NamespaceHosts(n, runner: self)
        addTeardownBlock { hosts.tearDown() }
        return hosts
    }

    /// Twelve DPO examples with SGD under `trainer` across `count` hosts against BasicTrainer: the
    /// same metrics and parameters. Batches of 4 examples on two hosts, of 6 on three (each rank
    /// takes an equal slice). Returns the multi-host run's log.
    func compareAcrossHosts(trainer: String, banner: String, count: Int = 2,
                            file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let hosts = try hosts(count)
        let basic = tempRun("basic"), across = tempRun("across-hosts")
        let batch = count == 3 ? ["batch_size=6", "eval_batch_size=6", "n_eval_examples=6", "eval_every=6"] : []
        let args = dpo + ["n_examples=12", "optimizer=SGD", "lr=0.05"] + batch
        XCTAssertEqual(try dpohost(["train"] + common(basic) + args).status, 0, file: file, line: line)
        let b = try mpirun(count, ["train"] + common(across) + args + ["trainer=\(trainer)"], timeout: 120, hosts: hosts)
        XCTAssertEqual(b.result.status, 0, b.result.output, file: file, line: line)
        XCTAssertTrue(b.result.output.contains(banner), b.result.output, file: file, line: line)
        let names = (1...count).map { "dph-h\($0)" }.joined(separator: ", ")
        XCTAssertTrue(b.result.output.contains("ranks on \(count) hosts: \(names)"), b.result.output, file: file, line: line)
        try assertSameMetrics(basic, across, steps: count == 3 ? [6, 12] : [4, 8, 12], file: file, line: line)
        try assertCheckpointsAgree(basic, across, checkpointFile: "policy.safetensors", tolerance: 1e-6, outliers: 0, outlierBound: 0,
                                   file: file, line: line)
        return b.result.output
    }

    func testFSDPAcrossTwoHostsMatchesBasicTrainer() throws {
        let log = try compareAcrossHosts(trainer: "FSDPTrainer", banner: "FSDP: 2 ranks")
        // Each rank's collectives per update: FSDP all-gathers every unit twice and reduce-scatters
        // its gradients, so at least three times the parameters' bytes go through them.
        for host in ["rank 0 on dph-h1", "rank 1 on dph-h2"] {
            let line = try XCTUnwrap(log.split(separator: "\n").first { $0.hasPrefix("communication \(host): ") }, log)
            let mib = try XCTUnwrap(Double(line.split(separator: " ")[5]), String(line))
            XCTAssertGreaterThan(mib, 3 * 0.87, String(line))   // pythia-tiny: 0.87 MiB of float32 parameters
        }
    }

    func testFSDPAcrossThreeHostsMatchesBasicTrainer() throws {
        _ = try compareAcrossHosts(trainer: "FSDPTrainer", banner: "FSDP: 3 ranks", count: 3)
    }

    func testTensorParallelAcrossTwoHostsMatchesBasicTrainer() throws {
        _ = try compareAcrossHosts(trainer: "TensorParallelTrainer", banner: "TP: 2 ranks")
    }

    func testAMultiHostRunResumesOnOneHostAndAOneHostRunAcrossHosts() throws {
        let hosts = try hosts(2)
        let args = dpo + ["optimizer=SGD", "lr=0.05"]
        let straight = tempRun("straight")
        XCTAssertEqual(try dpohost(["train"] + common(straight) + args + ["n_examples=16"]).status, 0)
        // Two hosts, then one process.
        let across = tempRun("hosts-then-one")
        let a = try mpirun(2, ["train"] + common(across) + args + ["n_examples=8", "trainer=FSDPTrainer"], timeout: 120, hosts: hosts)
        XCTAssertEqual(a.result.status, 0, a.result.output)
        let a2 = try dpohost(["train"] + common(across) + args + ["n_examples=16", "resume=\(across.path)"])
        XCTAssertEqual(a2.status, 0, a2.output)
        try assertSameMetrics(straight, across, steps: [4, 8, 12, 16])
        // One process, then two hosts.
        let back = tempRun("one-then-hosts")
        XCTAssertEqual(try dpohost(["train"] + common(back) + args + ["n_examples=8"]).status, 0)
        let b2 = try mpirun(2, ["train"] + common(back) + args + ["n_examples=16", "trainer=FSDPTrainer", "resume=\(back.path)"],
                            timeout: 120, hosts: hosts)
        XCTAssertEqual(b2.result.status, 0, b2.result.output)
        XCTAssertTrue(b2.result.output.contains("resumed from"), b2.result.output)
        try assertSameMetrics(straight, back, steps: [4, 8, 12, 16])
    }

    func testAHostCutOffMidRunEndsTheJobWithinTheCollectiveTimeoutAndTheLastCheckpointStays() throws {
        let hosts = try hosts(2)
        let run = tempRun("cut")
        let timeout = 5.0
        var cutAt: Date?
        // Checkpoints every 8 examples; the link goes down once the first one is complete.
        let r = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=4000", "n_epochs=1000", "trainer=FSDPTrainer",
                                                               "collective_timeout_secs=\(Int(timeout))"],
                           timeout: 150, hosts: hosts) { _ in
            guard FileManager.default.fileExists(atPath: run.appendingPathComponent("LATEST/policy.safetensors").path) else { return false }
            try? hosts.cut(2)
            cutAt = Date()
            return true
        }
        let ended = Date()
        let cut = try XCTUnwrap(cutAt, "the run never wrote a checkpoint")
        XCTAssertNotEqual(r.result.status, 0, r.result.output)
        XCTAssertLessThan(ended.timeIntervalSince(cut), timeout + 15, "the job must end within collective_timeout_secs plus a few seconds")
        XCTAssertTrue(r.result.output.contains("error: rank 0 on dph-h1"), r.result.output)
        XCTAssertTrue(r.result.output.contains("rank 1 on dph-h2"), r.result.output)
        // The last complete checkpoint is intact: it loads, and the host coming back changes nothing.
        let before = try CheckpointStore.weights(in: run.appendingPathComponent("LATEST").path)
        try hosts.restore(2)
        Thread.sleep(forTimeInterval: 2)
        let after = try CheckpointStore.weights(in: run.appendingPathComponent("LATEST").path)
        XCTAssertEqual(before.mapValues(\.scalars), after.mapValues(\.scalars))
        let resumed = try dpohost(["train"] + common(run) + dpo + ["n_examples=24", "resume=\(run.path)"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed from"), resumed.output)
    }

    /// A rank that fails (here rank 0 cannot write its next checkpoint: LATEST became a folder)
    /// prints its error naming itself and exits; the job then ends on every host at once instead
    /// of the other rank waiting out `collective_timeout_secs` in its next collective.
    func testARankThatFailsEndsTheJobOnEveryHostAtOnceWithItsError() throws {
        let hosts = try hosts(2)
        let run = tempRun("rank-fails")
        var brokeAt: Date?
        let r = try mpirun(2, ["train"] + common(run) + dpo + ["n_examples=4000", "n_epochs=1000", "trainer=FSDPTrainer",
                                                               "collective_timeout_secs=100"],
                           timeout: 150, hosts: hosts) { _ in
            let latest = run.appendingPathComponent("LATEST")
            guard FileManager.default.fileExists(atPath: latest.appendingPathComponent("policy.safetensors").path) else { return false }
            try? FileManager.default.removeItem(at: latest)
            try? FileManager.default.createDirectory(at: latest.appendingPathComponent("in-the-way"), withIntermediateDirectories: true)
            brokeAt = Date()
            return true
        }
        let broke = try XCTUnwrap(brokeAt, "the run never wrote a checkpoint")
        XCTAssertNotEqual(r.result.status, 0, r.result.output)
        XCTAssertLessThan(Date().timeIntervalSince(broke), 20, "the job must end when a rank fails, not at collective_timeout_secs")
        XCTAssertTrue(r.result.output.contains("error: rank 0 on dph-h1: \(run.path)/LATEST: could not replace LATEST"), r.result.output)
        XCTAssertFalse(r.result.output.contains("waited"), r.result.output)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(MPIHarness.processes(mentioning: run.path), [], "no rank may outlive the job")
    }
}
