import ArgumentParser
import Foundation
import TensorCore
import Tokenizers
import Training

/// `dpohost generate`: complete a prompt with a local Hugging Face model (or a dpohost checkpoint).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a completion with a local model directory or checkpoint.")

    @Option(help: "Model directory (Hugging Face layout, or a dpohost checkpoint folder).") var model: String
    @Option(help: "Prompt text (tokenized with the model's special tokens, e.g. Llama's BOS).") var prompt: String
    @Option(help: "Tokens to generate at most.") var maxNewTokens = 64
    @Flag(help: "Sample instead of greedy decoding.") var sample = false
    @Option(help: "Sampling temperature.") var temperature: Float = 1
    @Option(help: "Keep the k most likely tokens when sampling (0 = all).") var topK = 50
    @Option(help: "Nucleus sampling threshold.") var topP: Float = 1
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Flag(help: "Recompute the whole sequence each step instead of using the key/value cache.") var noCache = false
    @Option(help: "Worker threads, which also run the matrix products (default: all cores).") var threads: Int?
    @OptionGroup var gemm: GemmBackendOptions
    @OptionGroup var source: PluginSourceOptions

    func run() throws {
        try CLIErrors.run {
            try gemm.apply(printTo: .none)
            let lm = try LanguageModel(directory: model, registry: source.registry(), trainable: false)
            let tokenizer = try TokenizerLoader.load(directory: URL(fileURLWithPath: model))
            let ids = tokenizer.encode(prompt, addSpecialTokens: true)
            let generator = Generator(model: lm, eosId: tokenizer.eosTokenId, padId: tokenizer.padTokenId,
                                      pool: WorkerPool(threads: threads))
            let options = SamplingOptions(maxNewTokens: maxNewTokens, greedy: !sample, temperature: temperature,
                                          topK: topK, topP: topP, seed: seed, useCache: !noCache)
            let new = try generator.generate(prompts: [ids], options: options)[0]
            print(prompt + tokenizer.decode(new, skipSpecialTokens: true))
        }
    }
}
