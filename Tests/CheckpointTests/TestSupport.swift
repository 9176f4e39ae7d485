import Foundation
import XCTest
@testable import Checkpoint

/// Fixtures live next to the tests in the repo (not SwiftPM resources).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A fresh directory under the system temp dir, removed when the test ends.
func makeTempDirectory(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("checkpoint-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

/// Hand-built safetensors bytes: length prefix, header text as given, then raw data. Lets
/// tests produce files that are malformed in exactly one way.
func safetensorsBytes(header: String, data: [UInt8] = [], claimedLength: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (claimedLength ?? UInt64(headerBytes.count)).littleEndian) { out += $0 }
    return out + headerBytes + data
}

func writeFile(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var out: [UInt8] = []
    for v in values { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    return out
}

func floatBytes(_ values: [Float]) -> [UInt8] { littleEndianBytes(values.map(\.bitPattern)) }

/// Asserts `body` throws a `CheckpointError` that `matches`, and that its message names `file`
/// (and `tensor` when given).
func assertCheckpointError<T>(_ body: @autoclosure () throws -> T, file: String, tensor: String? = nil,
                              sourceFile: StaticString = #filePath, line: UInt = #line,
                              _ matches: (CheckpointError) -> Bool) {
    XCTAssertThrowsError(try body(), file: sourceFile, line: line) { error in
        guard let error = error as? CheckpointError else {
            return XCTFail("expected CheckpointError, got \(error)", file: sourceFile, line: line)
        }
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: sourceFile, line: line)
        XCTAssertTrue(error.description.contains(file), "message does not name \(file): \(error)", file: sourceFile, line: line)
        XCTAssertEqual(error.file, file, file: sourceFile, line: line)
        if let tensor {
            XCTAssertTrue(error.description.contains(tensor), "message does not name \(tensor): \(error)", file: sourceFile, line: line)
        }
    }
}
