import Foundation
import Reporting
import TestSupport
import Training
import XCTest

/// Runs the built `dpohost` binary the way a user does, from the repository root.
enum CLIHarness {
    static let repo = Repository.root
    static let binary = Repository.products.appendingPathComponent("dpohost").path
}

protocol CLIRunning {}

/// Exit status and everything the command printed (stdout and stderr together).
struct RunResult { let status: Int32; let output: String }

extension CLIRunning {

    /// `unsetting` names variables of this process's environment the command runs without.
    func dpohost(_ args: [String], killWhen: ((URL) -> Bool)? = nil, watch: URL? = nil,
                 environment: [String: String] = [:], unsetting: [String] = []) throws -> RunResult {
        try run(URL(fileURLWithPath: CLIHarness.binary), args, killWhen: killWhen, watch: watch,
                environment: environment, unsetting: unsetting)
    }

    /// `python3 -c script args...` from the repository root, or a skip naming `modules` where
    /// Python cannot import them.
    func python(_ script: String, _ args: [String], modules: [String]) throws -> RunResult {
        let env = URL(fileURLWithPath: "/usr/bin/env")
        let probe = try run(env, ["python3", "-c", "import " + modules.joined(separator: ", ")])
        try XCTSkipIf(probe.status != 0, "python3 with \(modules.joined(separator: ", ")) is not importable here (pip install \(modules.joined(separator: " ")))")
        return try run(env, ["python3", "-c", script] + args)
    }

    /// Runs `executable` from the repository root; stdout and stderr together.
    func run(_ executable: URL, _ args: [String], killWhen: ((URL) -> Bool)? = nil, watch: URL? = nil,
             environment: [String: String] = [:], unsetting: [String] = []) throws -> RunResult {
        var env = ProcessInfo.processInfo.environment
        env["DPOHOST_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-home-\(UUID())").path
        env.merge(environment) { $1 }
        for name in unsetting { env[name] = nil }
        var poll: ((Int32) -> Bool)?
        if let killWhen, let watch {
            poll = { pid in
                guard killWhen(watch) else { return false }
                kill(pid, SIGKILL)
                return true
            }
        }
        let r = try ProcessRunner.run(executable, args, environment: env, currentDirectory: CLIHarness.repo,
                                      combineOutput: true, poll: poll)
        return RunResult(status: r.status, output: r.stdout)
    }

    func tempRun(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-runs-\(UUID())").appendingPathComponent(name)
    }

    /// Small but real: batch 4, eval every 8 examples, fixture Pythia and HH samples.
    func common(_ runDir: URL) -> [String] {
        ["model=pythia-tiny", "datasets=[hh]", "dataset_options.hh.data_dir=Tests/Fixtures/data/hh", "exp_name=e2e",
         "local_run_dir=\(runDir.path)", "batch_size=4", "eval_batch_size=4", "n_eval_examples=8", "eval_every=8",
         "lr=1e-4", "warmup_steps=2", "max_length=128", "max_prompt_length=64", "sample_during_eval=false",
         "minimum_log_interval_secs=0", "progress=lines", "threads=1"]
    }

    func trainLosses(_ runDir: URL) throws -> [Int: Double] {
        var out: [Int: Double] = [:]
        for r in try MetricsLog.read(runDir.appendingPathComponent("metrics.jsonl")) where r.split == "train" {
            out[r.examples] = r.values["loss/train"]
        }
        return out
    }

}
