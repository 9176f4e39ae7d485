import Foundation
import Tokenizers
import XCTest

/// Paths of the shared fixtures (Tests/Fixtures), found relative to this source file.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tokenizers = root.appendingPathComponent("tokenizers")
    static let gpt2 = tokenizers.appendingPathComponent("gpt2-bpe")
    static let neox = tokenizers.appendingPathComponent("neox-bpe")
    static let llama = tokenizers.appendingPathComponent("llama-spm")
    static let models = root.appendingPathComponent("models")

    /// `tokenizers/golden.json`, decoded once.
    static let golden: GoldenFile = {
        let data = try! Data(contentsOf: tokenizers.appendingPathComponent("golden.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(GoldenFile.self, from: data)
    }()

    /// The non-empty lines of `tokenizers/corpus.txt`.
    static let corpusLines: [String] = {
        let text = try! String(contentsOf: tokenizers.appendingPathComponent("corpus.txt"), encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }()

    /// A fresh empty folder, removed when the test ends.
    static func temporaryDirectory(for test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dpohost-tokenizers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Copies fixture files into `directory`.
    static func copy(_ names: [String], from source: URL, to directory: URL) throws {
        for name in names {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
    }
}

struct GoldenFile: Decodable {
    var tokenizers: [String: GoldenTokenizer]
}

struct GoldenTokenizer: Decodable {
    var vocabSize: Int
    var bosTokenId: Int32?
    var eosTokenId: Int32
    var unkTokenId: Int32?
    var padTokenId: Int32?
    var cases: [GoldenCase]
}

struct GoldenCase: Decodable {
    var text: String
    var ids: [Int32]
    var idsAddSpecialTokens: [Int32]
    var tokens: [String]
    var decoded: String
    var decodedAddSpecialTokensSkipSpecial: String
    var sentencepieceIds: [Int32]?
    var sentencepieceAgrees: Bool?
    var sentencepieceDecoded: String?
}

/// Asserts `body` throws a `TokenizerError` whose message contains every string in `fragments`.
func assertTokenizerError<T>(_ body: @autoclosure () throws -> T, mentions fragments: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch {
        let message = "\(error)"
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "'\(message)' does not mention '\(fragment)'",
                          file: file, line: line)
        }
    }
}

/// Asserts two strings hold the same Unicode scalars. `XCTAssertEqual` on `String` compares up to
/// canonical equivalence, which would hide a missing (or extra) NFC normalization.
func assertSameScalars(_ actual: String, _ expected: String?, _ message: String = "",
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.unicodeScalars.map(\.value), expected?.unicodeScalars.map(\.value),
                   "\(actual.debugDescription) vs \(expected.debugDescription) \(message)", file: file, line: line)
}

/// The golden.json checks every byte-level BPE tokenizer passes, one per behaviour (GPT-2 and
/// NeoX test classes call these with their own tokenizer and golden entry).
enum GoldenChecks {
    static func ids(_ t: any Tokenizer, _ g: GoldenTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        for item in g.cases {
            XCTAssertEqual(t.encode(item.text), item.ids, "\(item.text.debugDescription)", file: file, line: line)
        }
    }

    static func idsWithSpecialTokens(_ t: any Tokenizer, _ g: GoldenTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        for item in g.cases {
            XCTAssertEqual(t.encode(item.text, addSpecialTokens: true), item.idsAddSpecialTokens,
                           "\(item.text.debugDescription)", file: file, line: line)
        }
    }

    static func tokenStrings(_ t: any Tokenizer, _ g: GoldenTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        for item in g.cases {
            XCTAssertEqual(item.ids.map { t.token(for: $0) }, item.tokens, "\(item.text.debugDescription)", file: file, line: line)
        }
    }

    static func decoded(_ t: any Tokenizer, _ g: GoldenTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        for item in g.cases {
            assertSameScalars(t.decode(item.ids, skipSpecialTokens: false), item.decoded,
                              "\(item.text.debugDescription)", file: file, line: line)
        }
    }

    static func decodedSkippingSpecial(_ t: any Tokenizer, _ g: GoldenTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        for item in g.cases {
            assertSameScalars(t.decode(item.idsAddSpecialTokens, skipSpecialTokens: true),
                              item.decodedAddSpecialTokensSkipSpecial, "\(item.text.debugDescription)", file: file, line: line)
        }
    }

    static func specialTokenIds(_ t: any Tokenizer, _ g: GoldenTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.vocabularySize, g.vocabSize, file: file, line: line)
        XCTAssertEqual(t.bosTokenId, g.bosTokenId, file: file, line: line)
        XCTAssertEqual(t.eosTokenId, g.eosTokenId, file: file, line: line)
        XCTAssertEqual(t.unknownTokenId, g.unkTokenId, file: file, line: line)
        XCTAssertNil(g.padTokenId, file: file, line: line)
    }
}
