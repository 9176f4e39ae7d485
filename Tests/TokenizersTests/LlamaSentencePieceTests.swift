import Foundation
import XCTest
@testable import Tokenizers

/// Our Llama behaviour is sentencepiece's (see `SentencePieceTokenizer`), so the golden
/// `sentencepiece_*` fields are the reference; the transformers 5 fields must agree wherever
/// the golden file says sentencepiece agrees with them.
final class LlamaSentencePieceTests: XCTestCase {
    private let golden = Fixtures.golden.tokenizers["llama-spm"]!

    private func tokenizer() throws -> SentencePieceTokenizer {
        try SentencePieceTokenizer(directory: Fixtures.llama)
    }

    private var agreeingCases: [GoldenCase] {
        golden.cases.filter { $0.sentencepieceAgrees == true }
    }

    func testGoldenSentencePieceIds() throws {
        let tokenizer = try tokenizer()
        for item in golden.cases {
            XCTAssertEqual(tokenizer.encode(item.text), item.sentencepieceIds, "\(item.text.debugDescription)")
        }
    }

    /// Byte pieces decode as tokenizer.json's decoder chain (Replace, ByteFallback, Fuse, Strip)
    /// does: a valid run as its UTF-8 text, an invalid run as one U+FFFD per byte, never merged
    /// with the text around it. Expected texts from `tokenizers` 0.23.3's own
    /// `Tokenizer.from_file("tokenizer.json").decode(ids, skip_special_tokens=True)`; ids are
    /// ▁a 261, ▁b 289, <0xC3> 198, <0xA9> 172, <0xFF> 258, <0xE2> 229, <0x82> 133, <0xF0> 243,
    /// <0x9F> 162, <0x98> 155. A truncated sequence gives one U+FFFD per byte (a lenient UTF-8
    /// decode of all bytes gives one per sequence).
    func testByteFallbackRunsDecodeAsTheTokenizersDecoderChain() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.decode([261, 198, 172, 289], skipSpecialTokens: true), "aé b")
        XCTAssertEqual(t.decode([261, 198, 258, 289], skipSpecialTokens: true), "a\u{FFFD}\u{FFFD} b")
        XCTAssertEqual(t.decode([172, 261, 198, 172], skipSpecialTokens: true), "\u{FFFD} aé")
        XCTAssertEqual(t.decode([198, 261, 172], skipSpecialTokens: true), "\u{FFFD} a\u{FFFD}")
        XCTAssertEqual(t.decode([261, 229, 133, 289], skipSpecialTokens: true), "a\u{FFFD}\u{FFFD} b")
        XCTAssertEqual(t.decode([261, 243, 162, 155, 289], skipSpecialTokens: true), "a\u{FFFD}\u{FFFD}\u{FFFD} b")
        XCTAssertEqual(t.decode([229, 133, 172], skipSpecialTokens: true), "\u{20A9}")
    }

    func testLeadingSpaceKeepsTheDummyPrefixPiece() throws {
        XCTAssertEqual(try tokenizer().encode(" Hello"), [815, 268, 673, 820])
    }

    func testHuggingFaceIdsMatchWhereSentencePieceAgrees() throws {
        let tokenizer = try tokenizer()
        XCTAssertGreaterThan(agreeingCases.count, 30)
        for item in agreeingCases {
            XCTAssertEqual(tokenizer.encode(item.text), item.ids, "\(item.text.debugDescription)")
        }
    }

    func testAddSpecialTokensPrependsBOS() throws {
        let tokenizer = try tokenizer()
        for item in golden.cases {
            XCTAssertEqual(tokenizer.encode(item.text, addSpecialTokens: true), [1] + (item.sentencepieceIds ?? []),
                           "\(item.text.debugDescription)")
        }
        for item in agreeingCases {
            XCTAssertEqual(tokenizer.encode(item.text, addSpecialTokens: true), item.idsAddSpecialTokens,
                           "\(item.text.debugDescription)")
        }
    }

    func testGoldenSentencePieceDecodedText() throws {
        let tokenizer = try tokenizer()
        for item in golden.cases {
            assertSameScalars(tokenizer.decode(item.sentencepieceIds ?? [], skipSpecialTokens: false),
                              item.sentencepieceDecoded, "\(item.text.debugDescription)")
        }
    }

    func testGoldenDecodedTextWhereSentencePieceAgrees() throws {
        let tokenizer = try tokenizer()
        for item in agreeingCases {
            assertSameScalars(tokenizer.decode(item.ids, skipSpecialTokens: false), item.decoded,
                              "\(item.text.debugDescription)")
        }
    }

    func testDecodeSkippingSpecialTokensDropsBOS() throws {
        let tokenizer = try tokenizer()
        for item in golden.cases {
            assertSameScalars(tokenizer.decode([1] + (item.sentencepieceIds ?? []), skipSpecialTokens: true),
                              item.sentencepieceDecoded, "\(item.text.debugDescription)")
        }
        for item in agreeingCases {
            assertSameScalars(tokenizer.decode(item.idsAddSpecialTokens, skipSpecialTokens: true),
                              item.decodedAddSpecialTokensSkipSpecial, "\(item.text.debugDescription)")
        }
    }

    func testDecodeShowsControlTokensUnlessSkipped() throws {
        let tokenizer = try tokenizer()
        let ids = [1] + tokenizer.encode("Hello") + [2]
        assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: false), "<s>Hello</s>")
        assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: true), "Hello")
    }

    func testSpecialTokenTextIsEncodedAsCharacters() throws {
        let tokenizer = try tokenizer()
        let ids = tokenizer.encode("<s> and </s>")
        XCTAssertFalse(ids.contains(1))
        XCTAssertFalse(ids.contains(2))
        assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: true), "<s> and </s>")
    }

    func testSpecialTokenIdsAndPadFallsBackToEOS() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, golden.vocabSize)
        XCTAssertEqual(tokenizer.bosTokenId, golden.bosTokenId)
        XCTAssertEqual(tokenizer.eosTokenId, golden.eosTokenId)
        XCTAssertEqual(tokenizer.unknownTokenId, golden.unkTokenId)
        XCTAssertNil(golden.padTokenId)
        XCTAssertEqual(tokenizer.padTokenId, 2)
    }

    func testTokenStringsWhereSentencePieceAgrees() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.token(for: 815), "\u{2581}")
        XCTAssertEqual(tokenizer.token(for: 13), "<0x0A>")
        for item in agreeingCases {
            XCTAssertEqual(item.ids.map { tokenizer.token(for: $0) }, item.tokens, "\(item.text.debugDescription)")
        }
    }

    func testDecodeAgreesWithSentencePieceOnCorpus() throws {
        let tokenizer = try tokenizer()
        for line in Fixtures.corpusLines {
            let ids = tokenizer.encode(line)
            assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: true), tokenizer.sentencePieceDecode(ids))
            assertSameScalars(tokenizer.decode(ids, skipSpecialTokens: true), line)
        }
    }
}
