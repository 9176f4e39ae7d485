import Foundation
import Reporting
import TestSupport
import Training
import XCTest

/// Starts `mpirun -np N dpohost ...` as a user would, with Open MPI's allow-run-as-root settings
/// when the tests run as root, and finds the rank processes it started.
enum MPIHarness {
    /// `mpirun` on PATH, or nil (the MPI tests are then skipped, saying why).
    static let mpirun: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    static func requireMPIRun() throws -> String {
        guard let mpirun else { throw XCTSkip("mpirun not found on PATH: install openmpi-bin (scripts/install-deps.sh) to run the MPI tests") }
        return mpirun
    }

    /// The processes whose command line contains `text` (ranks on other namespace hosts are not
    /// `mpirun`'s children, but their arguments name the run).
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                  let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            return String(decoding: line, as: UTF8.self).contains(text) ? pid : nil
        }
    }

    /// The process ids of `mpirun`'s children by their MPI rank (from OMPI_COMM_WORLD_RANK).
    static func ranks(of mpirunPid: Int32) -> [Int: Int32] {
        var out: [Int: Int32] = [:]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return out }
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm)": state, then the parent pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == mpirunPid,
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            for item in environ.split(separator: 0) {
                let text = String(decoding: item, as: UTF8.self)
                if text.hasPrefix("OMPI_COMM_WORLD_RANK="), let rank = Int(text.dropFirst("OMPI_COMM_WORLD_RANK=".count)) {
                    out[rank] = pid
                }
            }
        }
        return out
    }
}

struct TimedResult { let result: RunResult; let seconds: Double }

extension CLIRunning {
    /// `mpirun -np ranks dpohost args`. `monitor(mpirunPid)` is polled every 20 ms while it runs
    /// until it returns true. The job is killed (and the test fails) after `timeout` seconds.
    /// `oversubscribe`: more ranks than cores (Open MPI refuses that by default).
    /// `hosts`: one rank per namespace host, over TCP (`NamespaceHosts`).
    func mpirun(_ ranks: Int, _ args: [String], timeout: Double = 180, oversubscribe: Bool = false, hosts: NamespaceHosts? = nil,
                monitor: ((Int32) -> Bool)? = nil) throws -> TimedResult {
        let mpirun = try MPIHarness.requireMPIRun()
        let (program, before) = hosts?.launching(mpirun) ?? (mpirun, [])
        let arguments = before + ["-np", "\(ranks)"] + (oversubscribe ? ["--oversubscribe"] : []) + (hosts?.mpirunArguments ?? [])
            + [CLIHarness.binary] + args
        var env = ProcessInfo.processInfo.environment
        env["DPOHOST_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-home-\(UUID())").path
        if geteuid() == 0 {
            env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        }
        // Ranks waiting in a collective give the core away instead of spinning: a test machine
        // busy with other work would otherwise slow every MPI test many times over.
        env["OMPI_MCA_mpi_yield_when_idle"] = "1"
        let r = try ProcessRunner.run(URL(fileURLWithPath: program), arguments, environment: env, currentDirectory: CLIHarness.repo,
                                      combineOutput: true, poll: monitor, pollInterval: 0.02, timeout: timeout,
                                      onTimeout: { pid in
                                          for rank in MPIHarness.ranks(of: pid).values { kill(rank, SIGKILL) }
                                          kill(pid, SIGKILL)
                                          hosts?.tearDown()   // ranks on namespace hosts are not mpirun's children
                                      })
        if r.timedOut { XCTFail("mpirun still running after \(timeout) s: killed") }
        return TimedResult(result: RunResult(status: r.status, output: r.stdout), seconds: r.seconds)
    }

    /// Training metrics of two runs agree at every step in `steps` (a sharded run against
    /// BasicTrainer on the same global batch: float32 sums in another order).
    func assertSameMetrics(_ expected: URL, _ got: URL, steps: Set<Int>, relativeTolerance: Double = 1e-4,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try MetricsLog.read(expected.appendingPathComponent("metrics.jsonl")).filter { $0.split == "train" }
        let b = try MetricsLog.read(got.appendingPathComponent("metrics.jsonl")).filter { $0.split == "train" }
        XCTAssertEqual(Set(a.map(\.examples)), steps, file: file, line: line)
        XCTAssertEqual(Set(b.map(\.examples)), steps, file: file, line: line)
        let byStep = Dictionary(b.map { ($0.examples, $0.values) }, uniquingKeysWith: { $1 })
        for record in a {
            let other = try XCTUnwrap(byStep[record.examples], file: file, line: line)
            for key in ["loss/train", "grad_norm", "rewards_train/margins", "logps_train/chosen"] {
                let x = try XCTUnwrap(record.values[key], key, file: file, line: line)
                let y = try XCTUnwrap(other[key], key, file: file, line: line)
                XCTAssertEqual(y, x, accuracy: relativeTolerance * max(1, abs(x)), "\(key) after \(record.examples) examples", file: file, line: line)
            }
        }
    }

    /// The tensors of `checkpointFile` in two runs' LATEST checkpoints have the same names and
    /// shapes, and at most a fraction `outliers` of their values differ by more than `tolerance`
    /// (none by more than `max(tolerance, outlierBound)`): an update that is not linear in the
    /// gradient (RMSprop) can flip near-zero gradients' signs when float sums are re-associated.
    func assertCheckpointsAgree(_ expected: URL, _ got: URL, checkpointFile: String, tolerance: Float,
                                outliers: Double, outlierBound: Float,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try CheckpointStore.tensors(inFile: expected.appendingPathComponent("LATEST/\(checkpointFile)").path)
        let b = try CheckpointStore.tensors(inFile: got.appendingPathComponent("LATEST/\(checkpointFile)").path)
        XCTAssertEqual(a.mapValues(\.shape), b.mapValues(\.shape), checkpointFile, file: file, line: line)
        var total = 0, far = 0
        var largest: Float = 0
        for (name, x) in a {
            guard let y = b[name], y.shape == x.shape else { continue }
            for i in 0..<x.count {
                let d = abs(x.pointer[i] - y.pointer[i])
                total += 1
                if d > tolerance { far += 1 }
                largest = max(largest, d)
            }
        }
        XCTAssertLessThanOrEqual(Double(far), outliers * Double(total),
                                 "\(checkpointFile): \(far) of \(total) values differ by more than \(tolerance)", file: file, line: line)
        XCTAssertLessThanOrEqual(largest, max(tolerance, outlierBound), checkpointFile, file: file, line: line)
    }
}
