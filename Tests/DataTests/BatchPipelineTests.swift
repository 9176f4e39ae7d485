import DataPipeline
import Foundation
import TensorCore
import Tokenizers
import XCTest

/// One character = one token, so lengths in the tests are readable; ids are the scalar values,
/// EOS is 1 and pad is 2. (The real tokenizers are covered by TokenizersTests and the last tests here.)
struct CharacterTokenizer: Tokenizer {
    var vocabularySize: Int { 0x110000 }
    var bosTokenId: Int32? { nil }
    var eosTokenId: Int32 { 1 }
    var padTokenId: Int32 { 2 }
    var unknownTokenId: Int32? { nil }
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] { text.unicodeScalars.map { Int32($0.value) } }
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        String(String.UnicodeScalarView(ids.compactMap { Unicode.Scalar(UInt32($0)) }))
    }
    func token(for id: Int32) -> String? { decode([id], skipSpecialTokens: false) }
}

final class TruncationTests: XCTestCase {
    func element(_ p: Int, _ c: Int, _ r: Int, _ mode: TruncationMode, maxLength: Int = 12, maxPrompt: Int = 5,
                 completion: Int? = nil) throws -> BatchElement {
        let prompt = String((0..<p).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
        return try ElementTokenizer(encoder: CharacterTokenizer(),
                                    limits: TruncationLimits(maxLength: maxLength, maxPromptLength: maxPrompt, maxCompletionLength: completion))
            .element(prompt: prompt, chosen: String(repeating: "c", count: c), rejected: String(repeating: "r", count: r), mode: mode)
    }

    func testShortExampleIsUntouchedAndEndsWithEOS() throws {
        let e = try element(3, 2, 1, .keepStart)
        XCTAssertEqual(e.chosenIds, [65, 66, 67, 99, 99, 1])
        XCTAssertEqual(e.rejectedIds, [65, 66, 67, 114, 1])
        XCTAssertEqual(e.chosenLabels, [-100, -100, -100, 99, 99, 1])
        XCTAssertEqual(e.promptIds, [65, 66, 67])
    }

    func testKeepEndKeepsTheLastPromptTokens() throws {
        // 8 + (4+EOS) > 12 -> prompt keeps its last 5: D..H
        let e = try element(8, 4, 2, .keepEnd)
        XCTAssertEqual(e.promptIds, [68, 69, 70, 71, 72])
        XCTAssertEqual(e.chosenIds.count, 10)
    }

    func testKeepStartKeepsTheFirstPromptTokens() throws {
        let e = try element(8, 4, 2, .keepStart)
        XCTAssertEqual(e.promptIds, [65, 66, 67, 68, 69])
    }

    func testResponsesAreCutToMaxLengthMinusMaxPromptLengthLosingEOS() throws {
        // prompt 3 (< 5, unchanged) + 10+EOS > 12 -> both responses cut to 12 - 5 = 7 tokens
        let e = try element(3, 10, 4, .keepStart)
        XCTAssertEqual(e.promptIds.count, 3)
        XCTAssertEqual(Array(e.chosenIds.dropFirst(3)), [Int32](repeating: 99, count: 7))   // EOS lost
        XCTAssertEqual(Array(e.rejectedIds!.dropFirst(3)), [114, 114, 114, 114, 1])         // shorter: intact
    }

    func testMaxCompletionLengthCapsEachResponseFirst() throws {
        let e = try element(2, 6, 3, .keepStart, maxLength: 100, completion: 3)
        XCTAssertEqual(Array(e.chosenIds.dropFirst(2)), [99, 99, 99])
        XCTAssertEqual(Array(e.rejectedIds!.dropFirst(2)), [114, 114, 114])
    }

    func testMaxCompletionLengthAlsoCapsThePromptAlwaysAsTRLDoes() throws {
        // Short enough for the reference rule (7 + 3 <= 100), yet the prompt keeps its last 5.
        let e = try element(7, 2, 1, .keepEnd, maxLength: 100, maxPrompt: 5, completion: 10)
        XCTAssertEqual(e.promptIds, [67, 68, 69, 70, 71])
        let reference = try element(7, 2, 1, .keepEnd, maxLength: 100, maxPrompt: 5)
        XCTAssertEqual(reference.promptIds.count, 7, "without max_completion_length the reference's rule applies")
    }

    func testSFTElementHasNoRejectedSequence() throws {
        let e = try ElementTokenizer(encoder: CharacterTokenizer(), limits: TruncationLimits())
            .element(prompt: "P", chosen: "t", rejected: nil, mode: .keepEnd)
        XCTAssertNil(e.rejectedIds)
        XCTAssertEqual(e.chosenLabels, [-100, 116, 1])
    }

    func testEOSInsideTheTextIsAnErrorNamingTheExample() throws {
        let pythia = try TokenizerLoader.load(directory: DataFixtures.models.appendingPathComponent("pythia-tiny"))
        XCTAssertThrowsError(try ElementTokenizer(encoder: pythia, limits: TruncationLimits())
            .element(prompt: "\n\nHuman: hi\n\nAssistant:", chosen: " a <|endoftext|> b", rejected: " c", mode: .keepEnd)) {
            XCTAssertTrue(String(describing: $0).contains("chosen response"))
        }
    }
}

final class CollationTests: XCTestCase {
    let tok = CharacterTokenizer()
    func batch() throws -> Batch {
        let et = ElementTokenizer(encoder: tok, limits: TruncationLimits())
        return Collator(padId: tok.padTokenId).collate([
            try et.element(prompt: "ab", chosen: "xyz", rejected: "w", mode: .keepStart),
            try et.element(prompt: "abcd", chosen: "x", rejected: "vwxyz", mode: .keepStart),
        ])
    }

    func testChosenAndRejectedAreRightPaddedWithThePadId() throws {
        let b = try batch()
        XCTAssertEqual(b.chosenIds.shape, [2, 6])
        XCTAssertEqual(Array(b.chosenIds.values[6..<12]), [97, 98, 99, 100, 120, 1])
        XCTAssertEqual(Array(b.chosenIds.values[0..<6]), [97, 98, 120, 121, 122, 1])
        XCTAssertEqual(b.rejectedIds!.shape, [2, 10])
        XCTAssertEqual(Array(b.rejectedIds!.values[0..<10]), [97, 98, 119, 1, 2, 2, 2, 2, 2, 2])
        XCTAssertEqual(Array(b.rejectedMask!.values[0..<10]), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(b.rejectedLabels!.values[0..<10]), [-100, -100, 119, 1, -100, -100, -100, -100, -100, -100])
    }

    func testPromptsAreLeftPadded() throws {
        let b = try batch()
        XCTAssertEqual(b.promptIds.values, [2, 2, 97, 98, 97, 98, 99, 100])
        XCTAssertEqual(b.promptMask.values, [0, 0, 1, 1, 1, 1, 1, 1])
    }

    func testConcatenationPutsChosenRowsFirstAndPadsWithZero() throws {
        // Padding added by the concatenation is 0; padding from collation keeps the pad id (2).
        let (ids, mask, labels) = try batch().concatenated()
        XCTAssertEqual(ids.shape, [4, 10])
        XCTAssertEqual(Array(ids.values[0..<10]), [97, 98, 120, 121, 122, 1, 0, 0, 0, 0])   // chosen row 0
        XCTAssertEqual(Array(ids.values[10..<20]), [97, 98, 99, 100, 120, 1, 0, 0, 0, 0])   // chosen row 1
        XCTAssertEqual(Array(ids.values[20..<30]), [97, 98, 119, 1, 2, 2, 2, 2, 2, 2])      // rejected row 0
        XCTAssertEqual(Array(mask.values[0..<10]), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
        XCTAssertEqual(Array(labels.values[30..<40]), [-100, -100, -100, -100, 118, 119, 120, 121, 122, 1])
    }

    func testSlicingDropsTheRemainder() throws {
        let b = try batch()
        let half = b.slice(part: 1, of: 2, padId: 2)
        XCTAssertEqual(half.size, 1)
        XCTAssertEqual(half.elements[0].prompt, "abcd")
        XCTAssertEqual(b.slice(part: 0, of: 3, padId: 2).size, 0)
    }
}

enum DataFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let models = root.appendingPathComponent("models")
}

final class BatchIteratorTests: XCTestCase {
    /// Prompts p0..p(n-1); prompt i has i % 3 + 1 pairs.
    func prompts(_ n: Int) -> [FlatPrompt] {
        var ds = PromptDataset(name: "t", truncationMode: .keepStart)
        for i in 0..<n {
            let k = i % 3 + 1
            ds.set(PromptRecord(prompt: "p\(i)", responses: (0..<(k + 1)).map { " r\(i)_\($0)" },
                                         pairs: (0..<k).map { PromptRecord.Pair(0, $0 + 1) }, sftTarget: " t\(i)"))
        }
        return [ds].flattened()
    }

    func run(_ options: BatchIteratorOptions, _ n: Int = 10) throws -> [[String]] {
        var it = try BatchIterator(prompts: prompts(n), tokenizer: CharacterTokenizer(), options: options)
        return try it.collect().map { $0.elements.map { $0.prompt + ($0.rejectedResponse ?? $0.chosenResponse) } }
    }

    func testPairsOfOnePromptStayAdjacent() throws {
        let flat = try run(BatchIteratorOptions(batchSize: 1, epochs: 1, sftMode: false)).map { $0[0] }
        XCTAssertEqual(flat.count, 19)   // 10 prompts with 1,2,3,1,2,3,... pairs
        var seen: [String] = []
        for e in flat {
            let p = String(e.prefix { $0 != " " })
            if seen.last != p { XCTAssertFalse(seen.contains(p), "pairs of \(p) are split"); seen.append(p) }
        }
    }

    func testSameSeedGivesTheSameOrderAndAnotherSeedDoesNot() throws {
        let a = try run(BatchIteratorOptions(batchSize: 2, epochs: 2, sftMode: true))
        let b = try run(BatchIteratorOptions(batchSize: 2, epochs: 2, sftMode: true))
        let c = try run(BatchIteratorOptions(batchSize: 2, epochs: 2, sftMode: true, seed: 1))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }

    func testEpochOrderFollowsThePythonShuffleOfTheFlatList() throws {
        var expected = (0..<10).map { "p\($0)" }
        var mt = MersenneTwister(pythonSeed: MersenneTwister.permutationSeeds(count: 1)[0])
        mt.shuffle(&expected)
        let got = try run(BatchIteratorOptions(batchSize: 1, epochs: 1, sftMode: true)).map { String($0[0].prefix { $0 != " " }) }
        XCTAssertEqual(got, expected)
    }

    /// The first epoch's order of p0...p9 as the references give it, from their own code:
    /// `numpy.random.seed(0); s = numpy.random.randint(0, 2**32 or 2**31)` then
    /// `random.seed(int(s)); random.shuffle(prompts)` (Python 3.11, numpy 2.4).
    func testTDPOSeedsGiveTheTDPOReferencesOrderAndDPOsStaysTheDPOReferences() throws {
        let dpo = try run(BatchIteratorOptions(batchSize: 1, epochs: 1, sftMode: true)).map { String($0[0].prefix { $0 != " " }) }
        XCTAssertEqual(dpo, ["p8", "p7", "p2", "p4", "p1", "p5", "p3", "p9", "p0", "p6"])
        let tdpo = try run(BatchIteratorOptions(batchSize: 1, epochs: 1, sftMode: true, tdpoPermutationSeeds: true))
            .map { String($0[0].prefix { $0 != " " }) }
        XCTAssertEqual(tdpo, ["p1", "p2", "p4", "p0", "p7", "p6", "p9", "p3", "p8", "p5"])
    }

    func testPartialBatchAtEpochEndIsDropped() throws {
        // 10 prompts, batch 4, 2 epochs: 2 full batches per epoch
        XCTAssertEqual(try run(BatchIteratorOptions(batchSize: 4, epochs: 2, sftMode: true)).count, 4)
    }

    func testExampleCountRoundsUpToWholeBatchesAndCyclesEpochs() throws {
        let batches = try run(BatchIteratorOptions(batchSize: 4, examples: 9, sftMode: true))
        XCTAssertEqual(batches.count, 3)   // 12 >= 9
        // Elements of a dropped partial batch still count (as the reference's example_idx does):
        // 10 counted per epoch, 2 batches each; the batch reaching 32 >= 30 is the 7th.
        let many = try run(BatchIteratorOptions(batchSize: 4, examples: 30, sftMode: true))
        XCTAssertEqual(many.count, 7)
    }

    func testSFTModeUsesTheTargetAndPreferenceModeThePairs() throws {
        var sft = try BatchIterator(prompts: prompts(3), tokenizer: CharacterTokenizer(),
                                    options: BatchIteratorOptions(batchSize: 3, epochs: 1, sftMode: true, shuffle: false))
        let b = try XCTUnwrap(sft.next())
        XCTAssertEqual(b.elements.map(\.chosenResponse), [" t0", " t1", " t2"])
        XCTAssertFalse(b.isPreference)
        var pref = try BatchIterator(prompts: prompts(3), tokenizer: CharacterTokenizer(),
                                     options: BatchIteratorOptions(batchSize: 6, epochs: 1, sftMode: false, shuffle: false))
        let p = try XCTUnwrap(pref.next())
        XCTAssertEqual(p.elements.map { $0.rejectedResponse! }, [" r0_1", " r1_1", " r1_2", " r2_1", " r2_2", " r2_3"])
        XCTAssertTrue(p.isPreference)
    }

    func testResumingAtASavedPositionContinuesIdentically() throws {
        let options = BatchIteratorOptions(batchSize: 3, epochs: 3, sftMode: false)
        var full = try BatchIterator(prompts: prompts(10), tokenizer: CharacterTokenizer(), options: options)
        var first = try BatchIterator(prompts: prompts(10), tokenizer: CharacterTokenizer(), options: options)
        for _ in 0..<8 { _ = try first.next() }
        var resumed = try BatchIterator(prompts: prompts(10), tokenizer: CharacterTokenizer(), options: options, resumingAt: first.position)
        for _ in 0..<8 { _ = try full.next() }
        while let a = try full.next() {
            let b = try XCTUnwrap(resumed.next())
            XCTAssertEqual(a.elements, b.elements)
        }
        XCTAssertNil(try resumed.next())
    }

    func testEmptyDatasetIsAnErrorNotARunWithZeroSteps() {
        XCTAssertThrowsError(try BatchIterator(prompts: [], tokenizer: CharacterTokenizer(),
                                               options: BatchIteratorOptions(batchSize: 1, epochs: 1, sftMode: true))) {
            XCTAssertTrue(String(describing: $0).contains("no training examples"))
        }
    }

    func testMissingEpochsAndExamplesIsAnError() {
        XCTAssertThrowsError(try BatchIterator(prompts: prompts(2), tokenizer: CharacterTokenizer(),
                                               options: BatchIteratorOptions(batchSize: 1, sftMode: true)))
    }
}

final class PromptDatasetTests: XCTestCase {
    func testCanonicallyEquivalentPromptsStayApartAsInPython() {
        var ds = PromptDataset(name: "t", truncationMode: .keepStart)
        ds.set(PromptRecord(prompt: "caf\u{E9}", responses: [" a"], pairs: [], sftTarget: " a"))
        ds.set(PromptRecord(prompt: "cafe\u{301}", responses: [" b"], pairs: [], sftTarget: " b"))
        ds.set(PromptRecord(prompt: "caf\u{E9}", responses: [" c"], pairs: [], sftTarget: " c"))
        XCTAssertEqual(ds.prompts.count, 2)
        XCTAssertEqual(ds.records.map(\.sftTarget), [" c", " b"])
    }
}
