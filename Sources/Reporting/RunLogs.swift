import Checkpoint
import Configuration
import Foundation

/// Everything the run logs as it goes: metrics.jsonl (the record every other view is made from)
/// and, where `report_to` asks, TensorBoard's event file and the MLflow run. Those are made anew
/// from metrics.jsonl and samples.jsonl whenever a run starts, so a resumed run, whose files were
/// rewound to its checkpoint, continues the same TensorBoard and MLflow run without a duplicated
/// point.
public final class RunLogs {
    public let metrics: MetricsLog
    private let tensorBoard: TensorBoardLog?
    private let mlflow: MLflowLog?

    /// The settings TensorBoard and MLflow show are the run's config.yaml in `directory`; the
    /// MLflow experiment is `experiment` (the run's exp_name).
    public init(directory: URL, destinations: [ReportDestination], samplesFile: URL, experiment: String,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        // What the other destinations are rebuilt from; read only when there is one.
        let rebuilds = destinations.contains(.tensorboard) || destinations.contains(.mlflow)
        let kept = rebuilds && FileManager.default.fileExists(atPath: metricsURL.path) ? try MetricsLog.read(metricsURL) : []
        metrics = try MetricsLog(url: metricsURL)
        let configFile = directory.appendingPathComponent("config.yaml")
        let settings = rebuilds && FileManager.default.fileExists(atPath: configFile.path)
            ? Self.flat(try YAMLReader.read(file: configFile)) : []
        if destinations.contains(.tensorboard) {
            for old in TensorBoardLog.files(in: directory) { try FileManager.default.removeItem(at: old) }
            let board = try TensorBoardLog(directory: directory)
            if !settings.isEmpty { try board.hyperparameters(settings.map { ($0, Self.hyperparameter($1)) }, time: Date()) }
            for record in kept { try board.scalars(record.values, step: record.examples, time: record.date) }
            for sample in try SampleRecord.read(samplesFile) {
                try board.text(sample.markdown, tag: sample.tag, step: sample.step, time: Date())
            }
            tensorBoard = board
        } else {
            tensorBoard = nil
        }
        if destinations.contains(.mlflow) {
            let store = try MLflowLog.store(environment: environment,
                                            currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            let run = try MLflowLog(store: store, experiment: experiment, runDirectory: directory,
                                    params: settings.map { ($0, $1.displayText) })
            for record in kept { try run.metrics(record.values, step: record.examples, time: record.date) }
            mlflow = run
        } else {
            mlflow = nil
        }
    }

    /// The MLflow store the run is in, when `report_to` has mlflow.
    public var mlflowStore: URL? { mlflow?.store }

    /// The end of the run: MLflow marks it finished (or failed).
    public func finish(failed: Bool) throws { try mlflow?.finish(failed: failed) }

    public func append(_ record: MetricsRecord) throws {
        var stamped = record
        if stamped.time == nil { stamped.time = Date().timeIntervalSince1970 }
        try metrics.append(stamped)
        try tensorBoard?.scalars(stamped.values, step: stamped.examples, time: stamped.date)
        try mlflow?.metrics(stamped.values, step: stamped.examples, time: stamped.date)
    }

    /// One eval sample (already in samples.jsonl) for TensorBoard's TEXT tab.
    public func sample(_ sample: SampleRecord) throws {
        try tensorBoard?.text(sample.markdown, tag: sample.tag, step: sample.step, time: Date())
    }

    /// The settings as flat dotted keys (`loss.beta`), nulls left out.
    public static func flat(_ settings: ConfigValue) -> [(String, ConfigValue)] {
        var out: [(String, ConfigValue)] = []
        func walk(_ value: ConfigValue, _ path: String) {
            switch value {
            case let .mapping(m): for (k, v) in m.entries { walk(v, path.isEmpty ? k : path + "." + k) }
            case .null, .missing: break
            default: out.append((path, value))
            }
        }
        walk(settings, "")
        return out
    }

    /// Numbers, booleans and strings as such, anything else (a list) as its text.
    static func hyperparameter(_ value: ConfigValue) -> TensorBoardLog.HyperparameterValue {
        switch value {
        case let .int(i): return .number(Double(i))
        case let .double(x): return .number(x)
        case let .bool(b): return .flag(b)
        default: return .text(value.displayText)
        }
    }
}

/// One line of samples.jsonl: the step, which model, the prompt and what it generated.
public struct SampleRecord: Equatable, Sendable {
    public var step: Int
    public var model: String
    public var prompt: String
    public var sample: String

    public init(step: Int, model: String, prompt: String, sample: String) {
        self.step = step
        self.model = model
        self.prompt = prompt
        self.sample = sample
    }

    var tag: String { "samples/\(model)" }
    var markdown: String { "**prompt**\n\n```\n\(prompt)\n```\n\n**\(model)**\n\n```\n\(sample)\n```" }

    /// The records of a samples file (none when it does not exist); a line that is not one is an
    /// error naming the file and line.
    public static func read(_ url: URL) throws -> [SampleRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { i, line in
            if line.isEmpty { return nil }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let step = object["step"] as? Int, let model = object["model"] as? String,
                  let prompt = object["prompt"] as? String, let sample = object["sample"] as? String else {
                throw ReportError.missing("\(url.path):\(i + 1): not a sample record (expected step, model, prompt, sample)")
            }
            return SampleRecord(step: step, model: model, prompt: prompt, sample: sample)
        }
    }
}

extension MetricsRecord {
    var date: Date { time.map(Date.init(timeIntervalSince1970:)) ?? Date() }
}
