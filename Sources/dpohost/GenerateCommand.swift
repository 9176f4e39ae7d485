import ArgumentParser
import Configuration
import Foundation
import Model
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
    @Option(help: "Tokens to generate at most (at least 1).") var maxNewTokens = 64
    @Flag(help: "Sample instead of greedy decoding.") var sample = false
    @Option(help: "Sampling temperature (a finite number above 0).") var temperature: Float = 1
    @Option(help: "Keep the k most likely tokens when sampling (0 = all).") var topK = 50
    @Option(help: "Nucleus sampling threshold (above 0, at most 1).") var topP: Float = 1
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Flag(help: "Recompute the whole sequence each step instead of using the key/value cache.") var noCache = false
    @Option(help: "Worker threads, which also run the matrix products (default: all cores).") var threads: Int?
    @OptionGroup var gemm: GemmBackendOptions
    @OptionGroup var source: PluginSourceOptions

    /// Sampling settings outside their range would sample nothing meaningful (a NaN temperature
    /// turns every probability into NaN), so they are refused before the model loads.
    func checkRanges() throws {
        func refuse(_ option: String, _ value: CustomStringConvertible, _ reason: String) -> GenerateOptionError {
            GenerateOptionError(message: "--\(option) \(value): \(reason)")
        }
        guard maxNewTokens >= 1 else { throw refuse("max-new-tokens", maxNewTokens, "must be at least 1") }
        guard temperature.isFinite, temperature > 0 else { throw refuse("temperature", temperature, "must be a finite number above 0") }
        guard topK >= 0 else { throw refuse("top-k", topK, "must be at least 0 (0 keeps every token)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw refuse("top-p", topP, "must be above 0 and at most 1") }
        if let threads, threads < 1 || threads > TrainingConfig.maximumThreads {
            throw refuse("threads", threads, "must be between 1 and \(TrainingConfig.maximumThreads) (4 per core of this machine)")
        }
    }

    func run() throws {
        try CLIErrors.run {
            try checkRanges()
            try gemm.apply(printTo: .none)
            let lm = try LanguageModel(directory: model, registry: source.registry(), trainable: false)
            let tokenizer = try TokenizerLoader.load(directory: URL(fileURLWithPath: model))
            let ids = tokenizer.encode(prompt, addSpecialTokens: true)
            try lm.checkPositions(ids.count + maxNewTokens, for: "the prompt (\(ids.count) tokens) with --max-new-tokens \(maxNewTokens)")
            let generator = Generator(model: lm, eosId: tokenizer.eosTokenId, padId: tokenizer.padTokenId,
                                      pool: WorkerPool(threads: threads))
            let options = SamplingOptions(maxNewTokens: maxNewTokens, greedy: !sample, temperature: temperature,
                                          topK: topK, topP: topP, seed: seed, useCache: !noCache)
            let new = try generator.generate(prompts: [ids], options: options)[0]
            print(prompt + tokenizer.decode(new, skipSpecialTokens: true))
        }
    }
}

struct GenerateOptionError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
