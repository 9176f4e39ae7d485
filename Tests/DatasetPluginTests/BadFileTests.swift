import PluginHost
import XCTest

/// Every file under fixtures/data/bad gives the error the fixtures README describes, naming the
/// file and the 1-based line; nothing is half-read in silence.
final class BadFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Paths.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func jsonl(_ name: String) -> [String: String] { ["path": Paths.bad.appendingPathComponent(name).path] }

    /// HH reads `train.jsonl(.gz)` from a folder: the bad file is copied in under that name.
    func hhFolder(with name: String, as fileName: String) throws -> [String: String] {
        let folder = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Paths.bad.appendingPathComponent(name), to: folder.appendingPathComponent(fileName))
        return ["data_dir": folder.path]
    }

    func testTruncatedLineIsAJSONSyntaxErrorAtLine2() {
        XCTAssertLoadFails("jsonl", jsonl("truncated_line.jsonl"),
                           contains: ["truncated_line.jsonl:2:", "JSON syntax error", "unexpected end of input"])
    }

    func testMissingRejectedIsNamedAtLine2() {
        XCTAssertLoadFails("jsonl", jsonl("missing_field.jsonl"), contains: ["missing_field.jsonl:2:", "missing field 'rejected'"])
    }

    func testWrongTypesNameBothFieldsAtLine2() {
        XCTAssertLoadFails("jsonl", jsonl("wrong_type.jsonl"),
                           contains: ["wrong_type.jsonl:2:", "type error", "'chosen' is a number", "'rejected' is an array", "strings expected"])
    }

    func testInvalidUTF8GivesLine2AndTheByteOffset() {
        XCTAssertLoadFails("jsonl", jsonl("invalid_utf8.jsonl"),
                           contains: ["invalid_utf8.jsonl:2:", "invalid UTF-8", "byte 0xE9", "byte offset 201"])
    }

    func testEmptyFileIsAnEmptyDatasetError() {
        XCTAssertLoadFails("jsonl", jsonl("empty.jsonl"), contains: ["empty.jsonl", "no records", "empty dataset"])
    }

    func testTruncatedGzipIsAnErrorNotAHalfReadDataset() throws {
        XCTAssertLoadFails("hh", try hhFolder(with: "truncated.jsonl.gz", as: "train.jsonl.gz"),
                           contains: ["truncated.jsonl.gz/train.jsonl.gz:", "corrupt or truncated gzip stream", "not fully read"])
    }

    func testHHRowWithoutAssistantMarkerCannotSplitItsPromptAtLine2() throws {
        XCTAssertLoadFails("hh", try hhFolder(with: "hh_no_assistant.jsonl", as: "train.jsonl"),
                           contains: ["hh_no_assistant.jsonl/train.jsonl:2:", "cannot split prompt"])
    }

    func testArrayRowIsNotAnObjectAtLine2() {
        XCTAssertLoadFails("jsonl", jsonl("not_an_object.jsonl"),
                           contains: ["not_an_object.jsonl:2:", "must be a JSON object", "found an array"])
    }

    func testGzNameWithoutGzipDataIsRefused() throws {
        let fake = dir.appendingPathComponent("fake.jsonl.gz")
        try FileManager.default.copyItem(at: Paths.data.appendingPathComponent("preference.jsonl"), to: fake)
        XCTAssertLoadFails("jsonl", ["path": fake.path], contains: ["fake.jsonl.gz", "not a gzip file"])
    }

    func testGzipWithBytesAfterTheCompressedStreamIsRefusedNamingTheOffset() throws {
        let gz = dir.appendingPathComponent("garbage.jsonl.gz")
        try Run.gzip(Paths.data.appendingPathComponent("preference.jsonl"), to: gz)
        let compressed = try FileManager.default.attributesOfItem(atPath: gz.path)[.size] as! Int
        let handle = try FileHandle(forWritingTo: gz)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not gzip at all\n".utf8))
        try handle.close()
        XCTAssertLoadFails("jsonl", ["path": gz.path],
                           contains: ["garbage.jsonl.gz", "not gzip data follow the compressed stream", "from byte \(compressed)"])
    }

    func testGzipOfSeveralMembersIsReadWhole() throws {
        let source = Paths.data.appendingPathComponent("preference.jsonl")
        let plain = try BuiltinPlugins.records("jsonl", ["path": source.path], split: "train")
        let gz = dir.appendingPathComponent("two.jsonl.gz"), second = dir.appendingPathComponent("second.gz")
        try Run.gzip(source, to: gz)
        try Run.gzip(source, to: second)
        let handle = try FileHandle(forWritingTo: gz)
        try handle.seekToEnd()
        try handle.write(contentsOf: try Data(contentsOf: second))
        try handle.close()
        let twice = try BuiltinPlugins.records("jsonl", ["path": gz.path], split: "train")
        // Rows sharing a prompt merge into one record (the reference's dictionary): the second
        // member's rows show as twice the pairs.
        XCTAssertEqual(twice.map(\.prompt), plain.map(\.prompt))
        XCTAssertEqual(twice.map(\.pairs.count), plain.map { 2 * $0.pairs.count })
    }
}
