import Foundation
import XCTest
import Tokenizers

final class NeoXBPETests: XCTestCase {
    private let golden = Fixtures.golden.tokenizers["neox-bpe"]!

    private func tokenizer() throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(tokenizerJSONIn: Fixtures.neox)
    }

    func testGoldenIdsWithoutSpecialTokens() throws { GoldenChecks.ids(try tokenizer(), golden) }
    func testGoldenIdsWithSpecialTokensAddNothing() throws { GoldenChecks.idsWithSpecialTokens(try tokenizer(), golden) }
    func testGoldenTokenStrings() throws { GoldenChecks.tokenStrings(try tokenizer(), golden) }
    func testGoldenDecodedText() throws { GoldenChecks.decoded(try tokenizer(), golden) }
    func testGoldenDecodedSkippingSpecialTokens() throws { GoldenChecks.decodedSkippingSpecial(try tokenizer(), golden) }

    func testSpecialTokenIdsAndPadFallsBackToEOS() throws {
        let tokenizer = try tokenizer()
        GoldenChecks.specialTokenIds(tokenizer, golden)
        XCTAssertEqual(tokenizer.padTokenId, 0)
    }

    func testNFCNormalisationComposesDecomposedAccents() throws {
        let tokenizer = try tokenizer()
        let decomposed = "Cafe\u{0301} au lait"
        let composed = "Caf\u{00E9} au lait"
        XCTAssertEqual(tokenizer.encode(decomposed), tokenizer.encode(composed))
        assertSameScalars(tokenizer.decode(tokenizer.encode(decomposed), skipSpecialTokens: false), composed)
    }

    func testAddedWhitespaceTokensAreMatchedBeforePreTokenization() throws {
        let tokenizer = try tokenizer()
        // 997 = two spaces: the words keep no "Ġ" because the spaces are taken by the added token.
        XCTAssertEqual(tokenizer.encode("  Hello  world"),
                       [997] + tokenizer.encode("Hello") + [997] + tokenizer.encode("world"))
        XCTAssertEqual(tokenizer.encode("        x"), [999] + tokenizer.encode("x"))
        XCTAssertEqual(tokenizer.encode("      x"), [998, 997] + tokenizer.encode("x"))
    }

    func testLiteralEndOfTextBecomesEOS() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.encode("<|endoftext|>"), [0])
        XCTAssertEqual(tokenizer.encode("<|padding|>"), [1])
    }

    func testSkippingSpecialTokensKeepsNonSpecialAddedTokens() throws {
        let tokenizer = try tokenizer()
        assertSameScalars(tokenizer.decode([997, 0, 1], skipSpecialTokens: true), "  ")
        assertSameScalars(tokenizer.decode([997, 0, 1], skipSpecialTokens: false), "  <|endoftext|><|padding|>")
    }

    func testCorpusRoundTripsThroughDecode() throws {
        let tokenizer = try tokenizer()
        // NFC changes decomposed lines; compare scalars, since String's == ignores that.
        let nfcLines = Fixtures.corpusLines.filter {
            $0.unicodeScalars.elementsEqual($0.precomposedStringWithCanonicalMapping.unicodeScalars)
        }
        XCTAssertGreaterThan(nfcLines.count, 100)
        for line in nfcLines {
            assertSameScalars(tokenizer.decode(tokenizer.encode(line), skipSpecialTokens: false), line)
        }
    }
}
