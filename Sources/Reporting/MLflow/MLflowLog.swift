import Checkpoint
import Configuration
import Foundation

/// The run in MLflow's local file store, so `mlflow ui --backend-store-uri <store>` shows it with
/// no server (MLflow 3 keeps that store behind `MLFLOW_ALLOW_FILE_STORE=true`). The store is
/// `MLFLOW_TRACKING_URI` when it is a `file:` URI or a path, else `mlruns` in the current
/// directory, as MLflow's own default was. The experiment is the run's `exp_name` (found by name,
/// or created), the run keeps its id across resumes (`mlflow.json` in the run directory), the
/// config's flat keys are its params and every metrics.jsonl value a metric with the examples
/// seen as its step. Layout and formats are MLflow's FileStore's: `meta.yaml` files,
/// `params/<key>`, `tags/<key>`, `metrics/<key>` lines of "milliseconds value step".
final class MLflowLog {
    let store: URL
    let experimentID: String
    let runID: String
    private let runFolder: URL
    private let runName: String
    /// When the run started (a resumed run keeps it), in milliseconds as MLflow counts.
    private let startMilliseconds: Int64
    private var metricFiles: [String: JSONLinesFile] = [:]

    enum Failure: Error, CustomStringConvertible {
        case notAFileStore(String)
        var description: String {
            switch self {
            case let .notAFileStore(uri):
                return "report_to mlflow writes MLflow's local file store, but MLFLOW_TRACKING_URI is '\(uri)'; "
                    + "set it to a file: URI or a path, or unset it (mlruns in the current directory)"
            }
        }
    }

    /// The store `MLFLOW_TRACKING_URI` names, or `mlruns`.
    static func store(environment: [String: String], currentDirectory: URL) throws -> URL {
        guard let uri = environment["MLFLOW_TRACKING_URI"], !uri.isEmpty else {
            return currentDirectory.appendingPathComponent("mlruns")
        }
        if uri.hasPrefix("file:") {
            guard let url = URL(string: uri), url.isFileURL else { throw Failure.notAFileStore(uri) }
            return url
        }
        guard !uri.contains("://") && !uri.hasPrefix("databricks") && !uri.hasPrefix("sqlite:") else {
            throw Failure.notAFileStore(uri)
        }
        return (uri.hasPrefix("/") ? URL(fileURLWithPath: uri) : currentDirectory.appendingPathComponent(uri)).standardizedFileURL
    }

    /// Opens (or creates) the run recorded in `runDirectory/mlflow.json`, else a new run in the
    /// experiment `experiment`; its metrics start empty (`RunLogs` replays metrics.jsonl).
    init(store: URL, experiment: String, runDirectory: URL, params: [(String, String)], now: Date = Date()) throws {
        self.store = store
        let fm = FileManager.default
        try fm.createDirectory(at: store.appendingPathComponent(".trash"), withIntermediateDirectories: true)
        let milliseconds = Int64(now.timeIntervalSince1970 * 1000)
        if !fm.fileExists(atPath: store.appendingPathComponent("0/meta.yaml").path) {
            try Self.writeExperiment(id: "0", name: "Default", store: store, milliseconds: milliseconds)
        }
        let record = runDirectory.appendingPathComponent("mlflow.json")
        let previous = (try? JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: record)))
            .flatMap { $0.store == store.path && fm.fileExists(atPath: store.appendingPathComponent("\($0.experimentID)/\($0.runID)/meta.yaml").path) ? $0 : nil }
        if let previous {
            experimentID = previous.experimentID
            runID = previous.runID
        } else {
            experimentID = try Self.experimentID(named: experiment, store: store)
                ?? Self.createExperiment(named: experiment, store: store, milliseconds: milliseconds)
            runID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        }
        let folder = store.appendingPathComponent("\(experimentID)/\(runID)")
        runFolder = folder
        runName = runDirectory.lastPathComponent
        // A resumed run keeps the start time it had.
        startMilliseconds = (previous == nil ? nil : Self.startTime(of: folder)) ?? milliseconds
        try? fm.removeItem(at: runFolder.appendingPathComponent("metrics"))
        for folder in ["metrics", "params", "tags", "artifacts"] {
            try fm.createDirectory(at: runFolder.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try writeRunMeta(status: 1, end: nil)
        for (key, value) in params { try Self.write(value, to: runFolder.appendingPathComponent("params").appendingPathComponent(key)) }
        let tags = [("mlflow.runName", runName), ("mlflow.user", NSUserName()), ("mlflow.source.type", "LOCAL"),
                    ("mlflow.source.name", "dpohost")]
        for (key, value) in tags { try Self.write(value, to: runFolder.appendingPathComponent("tags").appendingPathComponent(key)) }
        if previous == nil {
            try JSONEncoder().encode(RunRecord(store: store.path, experimentID: experimentID, runID: runID)).write(to: record, options: .atomic)
        }
    }

    /// One value per key at `step` (non-finite values as MLflow writes them: nan, inf, -inf).
    func metrics(_ values: [String: Double], step: Int, time: Date) throws {
        let milliseconds = Int64(time.timeIntervalSince1970 * 1000)
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            let file = try metricFile(key)
            try file.append(Data("\(milliseconds) \(Self.text(value)) \(step)".utf8))
        }
    }

    /// The run ends as FINISHED (3) or FAILED (4), with its end time.
    func finish(failed: Bool, now: Date = Date()) throws {
        try writeRunMeta(status: failed ? 4 : 3, end: Int64(now.timeIntervalSince1970 * 1000))
    }

    private func metricFile(_ key: String) throws -> JSONLinesFile {
        if let file = metricFiles[key] { return file }
        let url = runFolder.appendingPathComponent("metrics").appendingPathComponent(key)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let file = try JSONLinesFile(url: url)
        metricFiles[key] = file
        return file
    }

    static func text(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    private struct RunRecord: Codable {
        let store: String
        let experimentID: String
        let runID: String
    }

    private func writeRunMeta(status: Int, end: Int64?) throws {
        let lines = [
            "artifact_uri: \(Self.quoted(runFolder.appendingPathComponent("artifacts").absoluteString))",
            "end_time: \(end.map(String.init) ?? "null")",
            "entry_point_name: ''",
            "experiment_id: \(Self.quoted(experimentID))",
            "lifecycle_stage: active",
            "run_id: \(runID)",
            "run_name: \(Self.quoted(runName))",
            "source_name: ''",
            "source_type: 4",
            "source_version: ''",
            "start_time: \(startMilliseconds)",
            "status: \(status)",
            "tags: []",
            "user_id: \(Self.quoted(NSUserName()))",
        ]
        try Self.write(lines.joined(separator: "\n") + "\n", to: runFolder.appendingPathComponent("meta.yaml"))
    }

    private static func startTime(of runFolder: URL) -> Int64? {
        guard let text = try? String(contentsOf: runFolder.appendingPathComponent("meta.yaml"), encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("start_time: ") }.flatMap { Int64($0.dropFirst(12)) }
    }

    private static func writeExperiment(id: String, name: String, store: URL, milliseconds: Int64) throws {
        let folder = store.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lines = [
            "artifact_location: \(quoted(folder.absoluteString))",
            "creation_time: \(milliseconds)",
            "experiment_id: \(quoted(id))",
            "last_update_time: \(milliseconds)",
            "lifecycle_stage: active",
            "name: \(quoted(name))",
        ]
        try write(lines.joined(separator: "\n") + "\n", to: folder.appendingPathComponent("meta.yaml"))
    }

    /// The id of the active experiment named `name`, if the store has one.
    private static func experimentID(named name: String, store: URL) throws -> String? {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: store.path)) ?? []
        for id in folders.sorted() where !id.hasPrefix(".") {
            guard let meta = try? YAMLReader.read(file: store.appendingPathComponent("\(id)/meta.yaml")),
                  case let .mapping(m) = meta, m["name"]?.displayText == name,
                  m["lifecycle_stage"]?.displayText != "deleted" else { continue }
            return id
        }
        return nil
    }

    private static func createExperiment(named name: String, store: URL, milliseconds: Int64) throws -> String {
        // MLflow's own ids are large random integers.
        let id = String(UInt64.random(in: 100_000_000_000_000_000...999_999_999_999_999_999))
        try writeExperiment(id: id, name: name, store: store, milliseconds: milliseconds)
        return id
    }

    /// A YAML single-quoted scalar.
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    private static func write(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}
