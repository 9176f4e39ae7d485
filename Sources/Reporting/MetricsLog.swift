import Checkpoint
import Foundation

/// One logged event: the step (examples seen), the split, and named values, as the reference
/// logs them (`loss/train`, `rewards_eval/accuracies`, ...).
public struct MetricsRecord: Codable, Equatable, Sendable {
    public var examples: Int
    public var split: String
    public var values: [String: Double]
    /// When it was logged (seconds since 1970); absent in files of earlier versions.
    public var time: Double?

    public init(examples: Int, split: String, values: [String: Double], time: Double? = nil) {
        self.examples = examples
        self.split = split
        self.values = values
        self.time = time
    }
}

/// Appends records to `metrics.jsonl` in the run directory, one JSON object per line, each line
/// written whole and synced (`JSONLinesFile`), so neither a kill nor a full disk leaves part of one.
public final class MetricsLog {
    public let url: URL
    private let file: JSONLinesFile

    public init(url: URL) throws {
        self.url = url
        file = try JSONLinesFile(url: url)
    }

    public func append(_ record: MetricsRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A diverged run logs its NaN/inf values too (as strings, since JSON has no such numbers).
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try file.append(try encoder.encode(record))
    }

    /// Keeps the records of the first `examples` examples: what a run resumed from the checkpoint
    /// at `examples` had logged when it was saved (it logs the rest again).
    public static func rewind(_ url: URL, toExamples examples: Int) throws {
        try JSONLinesFile.rewind(url) { line in
            (try? JSONDecoder().decode(ExamplesField.self, from: line)).map { $0.examples <= examples } ?? false
        }
    }

    private struct ExamplesField: Decodable { let examples: Int }

    /// Reads a metrics file; a malformed line is an error naming the file and line.
    public static func read(_ url: URL) throws -> [MetricsRecord] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var out: [MetricsRecord] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            do {
                let decoder = JSONDecoder()
                decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                out.append(try decoder.decode(MetricsRecord.self, from: Data(line.utf8)))
            } catch {
                throw ReportError.malformedMetrics(file: url.path, line: i + 1)
            }
        }
        return out
    }
}

public enum ReportError: Error, CustomStringConvertible, Equatable {
    case malformedMetrics(file: String, line: Int)
    case missing(String)
    public var description: String {
        switch self {
        case let .malformedMetrics(file, line): return "\(file):\(line): not a metrics record (expected a JSON object with examples, split, values)"
        case let .missing(what): return what
        }
    }
}
