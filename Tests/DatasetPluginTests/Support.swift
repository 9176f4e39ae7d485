import DataPipeline
import Foundation
import PluginHost
import TestSupport
import XCTest

/// Paths of the repository, its fixtures and the built products (plugins and the dpohost binary).
enum Paths {
    static let root = Repository.root
    static let data = root.appendingPathComponent("Tests/Fixtures/data")
    static let bad = data.appendingPathComponent("bad")
    static let gpt2 = root.appendingPathComponent("Tests/Fixtures/tokenizers/gpt2-bpe")
    /// SwiftPM's products folder: `libdph_*.so` and `dpohost` are built next to the test bundle.
    static let products = Repository.products

    static func tempDir() throws -> URL { try Repository.temporaryDirectory(prefix: "dph-data-test-") }

    /// Writes `text` to `dir/relative`, creating folders.
    @discardableResult
    static func write(_ text: String, to relative: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// JSON Lines text of `rows`.
    static func jsonl(_ rows: [[String: Any]]) throws -> String {
        try rows.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            .joined(separator: "\n") + "\n"
    }
}

/// The built-in dataset plugins, loaded from the products folder.
enum BuiltinPlugins {
    static func registry(explicit: [String] = []) throws -> PluginRegistry {
        let registry = PluginRegistry()
        let discovery = PluginDiscovery(builtinDirectory: Paths.products.path, installDirectory: nil, searchPath: [],
                                        explicit: explicit)
        try discovery.discover(into: registry)
        return registry
    }

    static func records(_ name: String, _ options: [String: String], split: String = "train") throws -> [PromptRecord] {
        let plugin = try registry().resolve(kind: .dataset, name: name)
        return try DatasetPlugin(plugin, options: options).load(split: split)
    }
}

/// A record of `expected_parsed.json`.
struct ExpectedRecord: Decodable {
    let prompt: String
    let responses: [String]
    let pairs: [[Int]]
    let sft_target: String
}

struct ExpectedParsed: Decodable {
    let hh_train, hh_test, shp_train, shp_test, stack_exchange_train: [ExpectedRecord]
    let counts: [String: Int]

    static func load() throws -> ExpectedParsed {
        try JSONDecoder().decode(ExpectedParsed.self, from: Data(contentsOf: Paths.data.appendingPathComponent("expected_parsed.json")))
    }
}

/// Asserts every field of every record, in order.
func XCTAssertRecords(_ got: [PromptRecord], _ expected: [ExpectedRecord], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, "record count", file: file, line: line)
    for (k, (g, e)) in zip(got, expected).enumerated() {
        XCTAssertEqual(g.prompt, e.prompt, "record \(k) prompt", file: file, line: line)
        XCTAssertEqual(g.responses, e.responses, "record \(k) responses", file: file, line: line)
        XCTAssertEqual(g.pairs.map { [$0.preferred, $0.dispreferred] }, e.pairs, "record \(k) pairs", file: file, line: line)
        XCTAssertEqual(g.sftTarget, e.sft_target, "record \(k) sft_target", file: file, line: line)
    }
}

/// Asserts that loading fails with a plugin error whose message holds every fragment.
func XCTAssertLoadFails(_ name: String, _ options: [String: String], split: String = "train", contains fragments: [String],
                        file: StaticString = #filePath, line: UInt = #line) {
    do {
        let records = try BuiltinPlugins.records(name, options, split: split)
        XCTFail("expected an error, got \(records.count) records", file: file, line: line)
    } catch {
        for f in fragments {
            XCTAssertTrue("\(error)".contains(f), "'\(error)' lacks '\(f)'", file: file, line: line)
        }
    }
}

/// Runs a program and collects its output (TestSupport's `ProcessRunner`).
enum Run {
    typealias Result = ProcessRunner.Result

    static func program(_ exe: String, _ args: [String], environment: [String: String]? = nil) throws -> Result {
        try ProcessRunner.run(exe, args, environment: environment)
    }

    /// The built `dpohost` with no installed bundles or plugin path.
    static func dpohost(_ args: [String], home: URL) throws -> Result { try Repository.dpohost(args, home: home) }

    /// `gzip -c source > destination`.
    static func gzip(_ source: URL, to destination: URL) throws {
        let r = try program("/bin/sh", ["-c", "gzip -cn \"$0\" > \"$1\"", source.path, destination.path])
        guard r.status == 0 else { throw NSError(domain: "gzip", code: Int(r.status)) }
    }
}
