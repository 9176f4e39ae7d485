import Foundation
import Model
import Training
import XCTest

/// Greedy decoding with the key/value cache reproduces transformers' `generate`, and equals
/// decoding without the cache.
final class GenerationTests: XCTestCase {
    struct Golden: Decodable {
        struct Run: Decodable { let prompt_ids: [Int32]; let new_ids: [Int32] }
        let runs: [Run]
        let eos_token_id: Int32
        let max_new_tokens: Int
    }

    func check(_ model: String) throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: URL(fileURLWithPath: ModelFixtures.golden("generate-\(model).json"))))
        let lm = try LanguageModel(directory: ModelFixtures.model(model), registry: ModelFixtures.registry(), trainable: false)
        let generator = Generator(model: lm, eosId: golden.eos_token_id, padId: golden.eos_token_id)
        XCTAssertFalse(golden.runs.isEmpty)
        for run in golden.runs {
            let cached = try generator.generate(prompts: [run.prompt_ids], options: SamplingOptions(maxNewTokens: golden.max_new_tokens))
            XCTAssertEqual(cached[0], run.new_ids, "\(model) with cache")
            let uncached = try generator.generate(prompts: [run.prompt_ids], options: SamplingOptions(maxNewTokens: golden.max_new_tokens, useCache: false))
            XCTAssertEqual(uncached[0], run.new_ids, "\(model) without cache")
        }
    }

    func testPythiaGreedyGenerationMatchesTransformers() throws { try check("pythia-tiny") }
    func testLlamaGreedyGenerationMatchesTransformers() throws { try check("llama-tiny") }
    /// GPT-J, the plain-C plugin, with the key/value cache.
    func testGPTJGreedyGenerationMatchesTransformers() throws { try check("gptj-tiny") }

    func testLeftPaddedBatchGeneratesWhatEachPromptGeneratesAlone() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: URL(fileURLWithPath: ModelFixtures.golden("generate-pythia-tiny.json"))))
        let lm = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let generator = Generator(model: lm, eosId: 0, padId: 0)
        let prompts = golden.runs.map(\.prompt_ids)
        XCTAssertGreaterThan(Set(prompts.map(\.count)).count, 1, "fixture prompts should differ in length")
        let batch = try generator.generate(prompts: prompts, options: SamplingOptions(maxNewTokens: 12))
        XCTAssertEqual(batch, golden.runs.map(\.new_ids))
    }

    func testSeededSamplingIsReproducibleAndSeedDependent() throws {
        let lm = try LanguageModel(directory: ModelFixtures.model("gpt2-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let generator = Generator(model: lm, eosId: 999, padId: 999)
        let prompt: [[Int32]] = [[10, 20, 30]]
        let a = try generator.generate(prompts: prompt, options: SamplingOptions(maxNewTokens: 16, greedy: false, topP: 0.9, seed: 1))
        let b = try generator.generate(prompts: prompt, options: SamplingOptions(maxNewTokens: 16, greedy: false, topP: 0.9, seed: 1))
        let c = try generator.generate(prompts: prompt, options: SamplingOptions(maxNewTokens: 16, greedy: false, topP: 0.9, seed: 2))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }
}
