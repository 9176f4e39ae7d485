import Foundation

/// Runs the PyTorch anchor script (`bench step --vs-torch`) on the same configuration, for the
/// side-by-side.
struct TorchAnchor {
    struct Result {
        let median, best, tokensPerSecond, gflops, peakRSSMiB: Double
        let otherLoad: Double?
    }

    let python: String
    let script: String

    /// Why PyTorch cannot run here, or nil when `python` imports torch and transformers.
    func unavailableReason() -> String? {
        guard FileManager.default.fileExists(atPath: script) else { return "no PyTorch script at \(script)" }
        let (status, _, err) = Self.execute(python, ["-c", "import torch, transformers"])
        if status == 0 { return nil }
        let last = err.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
        return "`\(python) -c \"import torch, transformers\"` failed: \(last)"
    }

    /// `autocast`: "bf16" runs the forwards under `torch.autocast("cpu", torch.bfloat16)`, PyTorch's
    /// CPU mixed precision (the second anchor); nil is float32.
    /// `lora`: the same step with peft's LoRA of that rank (scripts/bench/torch_lora_dpo_step.py).
    func run(_ c: BenchCaseSpec, threads: Int, autocast: String? = nil, lora: Int? = nil) throws -> Result {
        var prefix = [script]
        if let lora {
            guard let wrapper = Self.locate("scripts/bench/torch_lora_dpo_step.py") else {
                throw BenchError("scripts/bench/torch_lora_dpo_step.py not found above the binary or the current directory")
            }
            prefix = [wrapper, "--shared-script", script, "--lora", "\(lora)"]
        }
        var args = prefix + ["--arch", c.arch.rawValue, "--size", c.size.rawValue, "--loss", c.loss.rawValue,
                    "--batch", "\(c.pairs)", "--seq", "\(c.sequence)", "--steps", "\(c.steps)",
                    "--warmup", "\(c.warmup)", "--threads", "\(threads)", "--json"]
        if let autocast { args += ["--autocast", autocast] }
        let (status, out, err) = Self.execute(python, args)
        guard status == 0, let line = out.split(separator: "\n").last,
              let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BenchError("PyTorch run failed (status \(status)): \(err.split(separator: "\n").suffix(3).joined(separator: " | "))")
        }
        let number = { (key: String) in (obj[key] as? NSNumber)?.doubleValue ?? .nan }
        return Result(median: number("step_s_median"), best: number("step_s_min"), tokensPerSecond: number("tokens_per_s"),
                      gflops: number("gflops_per_s"), peakRSSMiB: number("peak_rss_mib"),
                      otherLoad: (obj["other_cpu_load"] as? NSNumber)?.doubleValue)
    }

    /// The script beside the repository: `<ancestor>/shared/bench/torch_dpo_step.py` for the
    /// first ancestor of the current directory or of the binary that has one.
    static func locateScript() -> String? { locate("shared/bench/torch_dpo_step.py") }

    /// `relative` under the first ancestor of the current directory or of the binary that has it.
    static func locate(_ relative: String) -> String? {
        let starts: [String?] = [FileManager.default.currentDirectoryPath, Bundle.main.executableURL?.deletingLastPathComponent().path]
        for start in starts.compactMap({ $0 }) {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while dir.path != "/" {
                let candidate = dir.appendingPathComponent(relative).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }

    /// Runs a program found on PATH (or at a path) and returns status, stdout and stderr.
    static func execute(_ program: String, _ arguments: [String], environment: [String: String] = [:]) -> (Int32, String, String) {
        let p = Process()
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if program.contains("/") {
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = arguments
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [program] + arguments
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", "\(error)") }
        // Read both pipes before waiting so a chatty child cannot block on a full pipe.
        let errData = DataBox()
        let group = DispatchGroup()
        let reader = err.fileHandleForReading
        DispatchQueue.global().async(group: group) { errData.data = reader.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
    }
}

/// Bytes filled in by one reader thread and read after it has finished.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
