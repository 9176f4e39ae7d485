import Checkpoint
import Foundation

/// Where a run's metrics go besides metrics.jsonl, which is always written (`report_to`).
public enum ReportDestination: String, CaseIterable, Sendable {
    case jsonl, tensorboard
}

/// Everything the run logs as it goes: metrics.jsonl (the record every other view is made from)
/// and, where `report_to` asks, TensorBoard's event file. The event file is made anew from
/// metrics.jsonl and samples.jsonl whenever a run starts, so a resumed run, whose files were
/// rewound to its checkpoint, continues the same TensorBoard run without a duplicated point.
public final class RunLogs {
    public let metrics: MetricsLog
    private let tensorBoard: TensorBoardLog?

    /// The hyper-parameters TensorBoard shows are the run's config.yaml in `directory`.
    public init(directory: URL, destinations: [ReportDestination], samplesFile: URL) throws {
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        let kept = FileManager.default.fileExists(atPath: metricsURL.path) ? try MetricsLog.read(metricsURL) : []
        metrics = try MetricsLog(url: metricsURL)
        guard destinations.contains(.tensorboard) else { tensorBoard = nil; return }
        for old in TensorBoardLog.files(in: directory) { try FileManager.default.removeItem(at: old) }
        let board = try TensorBoardLog(directory: directory)
        let configFile = directory.appendingPathComponent("config.yaml")
        if FileManager.default.fileExists(atPath: configFile.path) {
            try board.hyperparameters(Self.hyperparameters(try YAMLReader.read(file: configFile)), time: Date())
        }
        for record in kept { try board.scalars(record.values, step: record.examples, time: record.date) }
        for sample in try SampleRecord.read(samplesFile) { try board.text(sample.markdown, tag: sample.tag, step: sample.step, time: Date()) }
        tensorBoard = board
    }

    public func append(_ record: MetricsRecord) throws {
        var stamped = record
        if stamped.time == nil { stamped.time = Date().timeIntervalSince1970 }
        try metrics.append(stamped)
        try tensorBoard?.scalars(stamped.values, step: stamped.examples, time: stamped.date)
    }

    /// One eval sample (already in samples.jsonl) for TensorBoard's TEXT tab.
    public func sample(_ sample: SampleRecord) throws {
        try tensorBoard?.text(sample.markdown, tag: sample.tag, step: sample.step, time: Date())
    }

    /// The settings as flat dotted keys (`loss.beta`), lists as their text.
    static func hyperparameters(_ settings: ConfigValue) -> [(String, TensorBoardLog.HyperparameterValue)] {
        var out: [(String, TensorBoardLog.HyperparameterValue)] = []
        func walk(_ value: ConfigValue, _ path: String) {
            switch value {
            case let .mapping(m): for (k, v) in m.entries { walk(v, path.isEmpty ? k : path + "." + k) }
            case let .int(i): out.append((path, .number(Double(i))))
            case let .double(x): out.append((path, .number(x)))
            case let .bool(b): out.append((path, .flag(b)))
            case .null, .missing: break
            default: out.append((path, .text(value.displayText)))
            }
        }
        walk(settings, "")
        return out
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

    /// The records of a samples file (none when it does not exist).
    static func read(_ url: URL) throws -> [SampleRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let step = object["step"] as? Int, let model = object["model"] as? String,
                  let prompt = object["prompt"] as? String, let sample = object["sample"] as? String else { return nil }
            return SampleRecord(step: step, model: model, prompt: prompt, sample: sample)
        }
    }
}

extension MetricsRecord {
    var date: Date { time.map(Date.init(timeIntervalSince1970:)) ?? Date() }
}
