import Foundation

/// One logged event: the step (examples seen), the split, and named values, as the reference
/// logs them (`loss/train`, `rewards_eval/accuracies`, ...).
public struct MetricsRecord: Codable, Equatable, Sendable {
    public var examples: Int
    public var split: String
    public var values: [String: Double]

    public init(examples: Int, split: String, values: [String: Double]) {
        self.examples = examples
        self.split = split
        self.values = values
    }
}

/// Appends records to `metrics.jsonl` in the run directory, one JSON object per line, flushed at
/// each write so a killed run keeps every logged line.
public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func append(_ record: MetricsRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // A diverged run logs its NaN/inf values too (as strings, since JSON has no such numbers).
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var line = try encoder.encode(record)
        line.append(0x0A)
        try handle.write(contentsOf: line)
        try handle.synchronize()
    }

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
