import ArgumentParser
import Foundation
import Training

/// `dpohost report RUN_DIR`: a self-contained HTML page of the run's curves and eval samples.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write RUN_DIR/report.html: loss, reward accuracy, margins and rewards over training, and eval samples.")

    @Argument(help: "A run directory (holding metrics.jsonl).") var runDirectory: String
    @Option(help: "Output file (default: RUN_DIR/report.html).") var output: String?

    func run() throws {
        try CLIErrors.run {
            let dir = URL(fileURLWithPath: runDirectory)
            let metricsURL = dir.appendingPathComponent("metrics.jsonl")
            guard FileManager.default.fileExists(atPath: metricsURL.path) else {
                throw ReportError.missing("\(metricsURL.path): no metrics.jsonl; is \(runDirectory) a run directory?")
            }
            let records = try MetricsLog.read(metricsURL)
            var samples: [(step: Int, model: String, prompt: String, sample: String)] = []
            let samplesURL = dir.appendingPathComponent("samples.jsonl")
            if let text = try? String(contentsOf: samplesURL, encoding: .utf8) {
                for (i, line) in text.split(separator: "\n").enumerated() {
                    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                          let step = obj["step"] as? Int, let model = obj["model"] as? String,
                          let prompt = obj["prompt"] as? String, let sample = obj["sample"] as? String else {
                        throw ReportError.missing("\(samplesURL.path):\(i + 1): not a sample record")
                    }
                    samples.append((step, model, prompt, sample))
                }
            }
            let out = output ?? dir.appendingPathComponent("report.html").path
            let html = HTMLReport(title: "dpohost run \(dir.lastPathComponent)", records: records, samples: samples).render()
            try Data(html.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            print(out)
        }
    }
}
