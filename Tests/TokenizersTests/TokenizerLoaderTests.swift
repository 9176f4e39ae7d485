import Foundation
import XCTest
import Tokenizers

final class TokenizerLoaderTests: XCTestCase {
    func testLlamaModelFolderLoadsSentencePiece() throws {
        let tokenizer = try TokenizerLoader.load(directory: Fixtures.models.appendingPathComponent("llama-tiny"))
        XCTAssertTrue(tokenizer is SentencePieceTokenizer)
        XCTAssertEqual(tokenizer.encode(" Hello"), [815, 268, 673, 820])
        XCTAssertEqual(tokenizer.padTokenId, 2)
    }

    func testGPT2ModelFolderLoadsByteLevelBPE() throws {
        let tokenizer = try TokenizerLoader.load(directory: Fixtures.models.appendingPathComponent("gpt2-tiny"))
        XCTAssertTrue(tokenizer is ByteLevelBPETokenizer)
        XCTAssertEqual(tokenizer.encode("Hello<|endoftext|>World"), [39, 691, 78, 999, 54, 883])
        XCTAssertEqual(tokenizer.eosTokenId, 999)
        XCTAssertEqual(tokenizer.padTokenId, 999)
    }

    func testPythiaModelFolderLoadsByteLevelBPE() throws {
        let tokenizer = try TokenizerLoader.load(directory: Fixtures.models.appendingPathComponent("pythia-tiny"))
        XCTAssertTrue(tokenizer is ByteLevelBPETokenizer)
        XCTAssertEqual(tokenizer.encode("  Hello  world  "), [997, 41, 693, 80, 997, 88, 885, 997])
        XCTAssertEqual(tokenizer.eosTokenId, 0)
        XCTAssertEqual(tokenizer.padTokenId, 0)
    }

    func testFolderWithOnlyVocabAndMergesLoadsByteLevelBPE() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["vocab.json", "merges.txt"], from: Fixtures.gpt2, to: directory)
        let tokenizer = try TokenizerLoader.load(directory: directory)
        XCTAssertEqual(tokenizer.encode("Hello<|endoftext|>World"), [39, 691, 78, 999, 54, 883])
        XCTAssertEqual(tokenizer.eosTokenId, 999)
        XCTAssertEqual(tokenizer.bosTokenId, 999)
    }

    func testSpecialTokensMapSuppliesThePadToken() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["tokenizer.json"], from: Fixtures.neox, to: directory)
        try Data(#"{"eos_token": "<|endoftext|>", "pad_token": {"content": "<|padding|>"}}"#.utf8)
            .write(to: directory.appendingPathComponent("special_tokens_map.json"))
        let tokenizer = try TokenizerLoader.load(directory: directory)
        XCTAssertEqual(tokenizer.eosTokenId, 0)
        XCTAssertEqual(tokenizer.padTokenId, 1)
    }

    func testMissingTokenizerFileNamesTheFolder() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: [directory.path, "tokenizer.json"])
    }

    func testVocabularyWithoutMergesNamesTheMissingFile() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["vocab.json"], from: Fixtures.gpt2, to: directory)
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: [directory.path, "merges.txt next to vocab.json"])
    }

    func testMalformedTokenizerJSONNamesTheFile() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Data("{ \"model\": ".utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: ["tokenizer.json", "not valid JSON"])
    }

    func testTokenizerJSONMissingVocabularyNamesTheField() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Data(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "merges": []}}"#.utf8)
            .write(to: directory.appendingPathComponent("tokenizer.json"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: ["tokenizer.json", "model.vocab"])
    }

    func testMistypedMergesNamesTheFileAndField() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Data(#"{"model": {"type": "BPE", "vocab": {}, "merges": 7}}"#.utf8)
            .write(to: directory.appendingPathComponent("tokenizer.json"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: ["tokenizer.json", "model.merges", "[a, b] pairs"])
    }

    func testMalformedTokenizerConfigNamesTheFile() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["tokenizer.json"], from: Fixtures.gpt2, to: directory)
        try Data(#"{"eos_token": 5}"#.utf8).write(to: directory.appendingPathComponent("tokenizer_config.json"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: ["tokenizer_config.json", "eos_token", "'content'"])
    }

    func testMalformedMergesLineNamesTheFile() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["vocab.json"], from: Fixtures.gpt2, to: directory)
        try Data("#version: 0.2\na n\nabc\n".utf8).write(to: directory.appendingPathComponent("merges.txt"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory), mentions: ["merges.txt", "line 3"])
    }

    func testUnknownModelTypeNamesTheFile() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Data(#"{"model": {"type": "WordPiece", "vocab": {"a": 0}}}"#.utf8)
            .write(to: directory.appendingPathComponent("tokenizer.json"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: ["tokenizer.json", "unknown model type 'WordPiece'"])
    }

    func testLlamaTokenizerJSONWithoutModelFileIsRejected() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["tokenizer.json"], from: Fixtures.llama, to: directory)
        assertTokenizerError(try TokenizerLoader.load(directory: directory), mentions: ["tokenizer.json", "byte_fallback"])
    }

    func testCorruptSentencePieceModelNamesTheFile() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["tokenizer_config.json"], from: Fixtures.llama, to: directory)
        try Data("not a protobuf".utf8).write(to: directory.appendingPathComponent("tokenizer.model"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory), mentions: ["tokenizer.model"])
    }

    func testUnsupportedTokenizerClassWithModelFileNamesTheConfig() throws {
        let directory = try Fixtures.temporaryDirectory(for: self)
        try Fixtures.copy(["tokenizer.model"], from: Fixtures.llama, to: directory)
        try Data(#"{"tokenizer_class": "T5Tokenizer"}"#.utf8)
            .write(to: directory.appendingPathComponent("tokenizer_config.json"))
        assertTokenizerError(try TokenizerLoader.load(directory: directory),
                             mentions: ["tokenizer_config.json", "T5Tokenizer"])
    }
}
