import Foundation
import XCTest
@testable import Tokenizers

final class GPT2BPETests: XCTestCase {
    private let golden = Fixtures.golden.tokenizers["gpt2-bpe"]!

    private func tokenizer() throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(tokenizerJSONIn: Fixtures.gpt2)
    }

    func testGoldenIdsWithoutSpecialTokens() throws { GoldenChecks.ids(try tokenizer(), golden) }
    func testGoldenIdsWithSpecialTokensAddNothing() throws { GoldenChecks.idsWithSpecialTokens(try tokenizer(), golden) }
    func testGoldenTokenStrings() throws { GoldenChecks.tokenStrings(try tokenizer(), golden) }
    func testGoldenDecodedText() throws { GoldenChecks.decoded(try tokenizer(), golden) }
    func testGoldenDecodedSkippingSpecialTokens() throws { GoldenChecks.decodedSkippingSpecial(try tokenizer(), golden) }

    func testSpecialTokenIdsAndPadFallsBackToEOS() throws {
        let tokenizer = try tokenizer()
        GoldenChecks.specialTokenIds(tokenizer, golden)
        XCTAssertEqual(tokenizer.padTokenId, 999)
    }

    func testLiteralEndOfTextBecomesEOS() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.encode("<|endoftext|>"), [tokenizer.eosTokenId])
        XCTAssertEqual(tokenizer.encode("a<|endoftext|>").last, tokenizer.eosTokenId)
    }

    func testSkippingSpecialTokensDropsEndOfText() throws {
        let tokenizer = try tokenizer()
        let ids = tokenizer.encode("Hi there") + [tokenizer.eosTokenId]
        assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: true), "Hi there")
        assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: false), "Hi there<|endoftext|>")
    }

    func testVocabAndMergesMatchTokenizerJSONOnGoldenStrings() throws {
        let fromJSON = try tokenizer()
        let classic = try ByteLevelBPETokenizer(vocabularyAndMergesIn: Fixtures.gpt2)
        for item in golden.cases {
            XCTAssertEqual(classic.encode(item.text), fromJSON.encode(item.text), "\(item.text.debugDescription)")
        }
    }

    func testVocabAndMergesMatchTokenizerJSONOnCorpus() throws {
        let fromJSON = try tokenizer()
        let classic = try ByteLevelBPETokenizer(vocabularyAndMergesIn: Fixtures.gpt2)
        XCTAssertGreaterThan(Fixtures.corpusLines.count, 100)
        for line in Fixtures.corpusLines {
            XCTAssertEqual(classic.encode(line), fromJSON.encode(line), "\(line.debugDescription)")
        }
    }

    func testVocabAndMergesGiveTheSameSpecialTokens() throws {
        let classic = try ByteLevelBPETokenizer(vocabularyAndMergesIn: Fixtures.gpt2)
        XCTAssertEqual(classic.vocabularySize, 1000)
        XCTAssertEqual(classic.eosTokenId, 999)
        XCTAssertEqual(classic.bosTokenId, 999)
        XCTAssertEqual(classic.padTokenId, 999)
        XCTAssertEqual(classic.encode("Hello<|endoftext|>World"), [39, 691, 78, 999, 54, 883])
    }

    func testMergesWrittenAsStringsEqualMergesWrittenAsPairs() throws {
        // The fixture stores merges as [a, b] pairs; rewrite them as "a b" strings.
        let directory = try Fixtures.temporaryDirectory(for: self)
        let data = try Data(contentsOf: Fixtures.gpt2.appendingPathComponent("tokenizer.json"))
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        var model = try XCTUnwrap(json["model"] as? [String: Any])
        let pairs = try XCTUnwrap(model["merges"] as? [[String]])
        model["merges"] = pairs.map { $0.joined(separator: " ") }
        json["model"] = model
        try JSONSerialization.data(withJSONObject: json).write(to: directory.appendingPathComponent("tokenizer.json"))
        try Fixtures.copy(["tokenizer_config.json"], from: Fixtures.gpt2, to: directory)

        let strings = try ByteLevelBPETokenizer(tokenizerJSONIn: directory)
        let original = try tokenizer()
        for line in Fixtures.corpusLines.prefix(200) {
            XCTAssertEqual(strings.encode(line), original.encode(line), "\(line.debugDescription)")
        }
    }

    func testCorpusRoundTripsThroughDecode() throws {
        let tokenizer = try tokenizer()
        for line in Fixtures.corpusLines {
            assertSameScalars(tokenizer.decode(tokenizer.encode(line), skipSpecialTokens: false), line)
        }
    }

    func testLongWordWithoutMergeableBreaksRoundTrips() throws {
        let tokenizer = try tokenizer()
        let word = String(repeating: "supercalifragilistic", count: 500)
        let ids = tokenizer.encode(word)
        XCTAssertLessThan(ids.count, word.utf8.count)
        assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: false), word)
    }

    func testPreTokenizerSplitsLikeTheGPT2Pattern() {
        let text = "I'm  here's 42x\u{00A0}\u{00A0}ok\n\nHi!! ü"
        let scalars = Array(text.unicodeScalars)
        let pieces = GPT2PreTokenizer().split(scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
        XCTAssertEqual(pieces, ["I", "'m", " ", " here", "'s", " 42", "x", "\u{00A0}", "\u{00A0}", "ok",
                                "\n", "\n", "Hi", "!!", " ü"])
    }

    func testInvalidUTF8FromPartialTokensDecodesToReplacementCharacter() throws {
        let tokenizer = try tokenizer()
        let ids = tokenizer.encode("😀")
        assertSameScalars(tokenizer.decode(Array(ids.prefix(1)), skipSpecialTokens: false), "\u{FFFD}")
    }
}
