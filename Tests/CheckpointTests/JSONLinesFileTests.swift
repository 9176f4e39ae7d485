@testable import Checkpoint
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// metrics.jsonl and samples.jsonl never end in part of a line, whatever stops a write.
final class JSONLinesFileTests: XCTestCase {
    func file(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID()).jsonl")
        try Data(text.utf8).write(to: url)
        return url
    }

    func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    func testAppendWritesWholeLines() throws {
        let url = try file("")
        let lines = try JSONLinesFile(url: url)
        try lines.append(Data(#"{"a":1}"#.utf8))
        try lines.append(Data(#"{"a":2}"#.utf8))
        XCTAssertEqual(try text(url), "{\"a\":1}\n{\"a\":2}\n")
    }

    func testOpeningCutsOffAPartialLastLineAKillLeft() throws {
        let url = try file("{\"a\":1}\n{\"a\":")
        let lines = try JSONLinesFile(url: url)
        try lines.append(Data(#"{"a":3}"#.utf8))
        XCTAssertEqual(try text(url), "{\"a\":1}\n{\"a\":3}\n")
    }

    func testAWriteThatRunsOutOfSpaceLeavesTheFileAsItWasAndNamesIt() throws {
        let url = try file("{\"a\":1}\n")
        let lines = try JSONLinesFile(url: url)
        // The file-size limit stands in for a full disk: the write stops part-way through the line.
        signal(SIGXFSZ, SIG_IGN)
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        var limited = saved
        limited.rlim_cur = 20
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited)
        defer { setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved) }
        XCTAssertThrowsError(try lines.append(Data(String(repeating: "x", count: 100).utf8))) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            XCTAssertTrue("\(error)".contains("File too large"), "\(error)")
        }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        XCTAssertEqual(try text(url), "{\"a\":1}\n")
    }

    func testRewindKeepsTheAcceptedCompleteLines() throws {
        let url = try file("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":")
        try JSONLinesFile.rewind(url) { line in !String(decoding: line, as: UTF8.self).contains("2") }
        XCTAssertEqual(try text(url), "{\"n\":1}\n{\"n\":3}\n")
    }
}
