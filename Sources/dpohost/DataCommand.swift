import ArgumentParser
import DataPipeline
import Foundation
import PluginHost
import TensorCore
import Tokenizers
import Training

/// `dpohost data ...`: look at a dataset the way training will see it.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect datasets: counts, token lengths and truncation, decoded examples.",
        subcommands: [Inspect.self, ChatTemplateCommand.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Counts, length statistics and a few examples of one dataset split, with the masked prompt marked.")

        @Argument(help: "Dataset plugin name (hh, shp, se, jsonl, ...).") var dataset: String
        @Option(name: .customLong("option"), help: ArgumentHelp("A dataset plugin option (repeatable).", valueName: "NAME=VALUE"))
        var options: [String] = []
        @Option(help: "Split to load (train or test).") var split = "train"
        @Option(help: ArgumentHelp("Model folder whose tokenizer measures lengths in tokens (default: characters).", valueName: "DIR"))
        var model: String?
        @Option(help: "max_length: prompt + response tokens.") var maxLength = 512
        @Option(help: "max_prompt_length: prompt tokens kept when an example is too long.") var maxPromptLength = 256
        @Option(help: "Number of decoded examples to print.") var examples = 3
        @Flag(help: "Show SFT examples (prompt, sft_target) instead of preference pairs.") var sft = false
        @Option(help: ArgumentHelp("Chat template for conversational rows (default: the model's own).", valueName: "FILE"))
        var chatTemplate: String?
        @Option(help: "How rows become tokens: reference (the DPO reference's) or trl (TRL 1.16's).") var tokenization = "reference"
        @OptionGroup var source: PluginSourceOptions

        func run() throws {
            try DataCLI.attempt {
                let registry = try source.registry()
                let options = try ResolvedOptions.pairs(self.options, plugin: dataset)
                let spec = DatasetSpec(name: dataset, options: options)
                let data = try DatasetSource(registry: registry).load(spec, split: split)
                let tokenizer = try model.map { try TokenizerLoader.load(directory: URL(fileURLWithPath: $0)) }
                guard let convention = TokenizationConvention(rawValue: tokenization) else {
                    throw DataError.invalidArgument("--tokenization must be reference or trl, got '\(tokenization)'")
                }
                let limits = TruncationLimits(maxLength: maxLength, maxPromptLength: maxPromptLength, convention: convention)
                guard maxLength > 0, maxPromptLength >= 0, maxPromptLength <= maxLength else {
                    throw DataError.invalidArgument("need 0 <= max-prompt-length <= max-length and max-length > 0")
                }
                var prompts = [data].flattened()
                if data.text == .messages {
                    prompts = try ConversationSource(templateFile: chatTemplate, tokenizer: tokenizer, tokenizerDirectory: model).renderer().0.render(prompts)
                    print("conversational rows rendered with \(chatTemplate ?? model.map { "the chat template of \($0)" } ?? "")")
                }
                let units = InspectionUnit.units(of: prompts, sft: sft)
                print(DatasetSummary(data, split: split).text)
                let report = try LengthReport(units: units, tokenizer: tokenizer, limits: limits)
                print(report.text(modelPath: model))
                for (k, unit) in units.prefix(max(0, examples)).enumerated() {
                    print(unit.rendered(number: k + 1, of: units.count, tokenizer: tokenizer, limits: limits))
                }
            }
        }
    }
}

/// Any failure: one `error:` line on stderr and exit status 1.
enum DataCLI {
    static func attempt(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as ExitCode {
            throw e
        } catch {
            PluginCLI.printError("error: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Counts of one loaded split.
struct DatasetSummary {
    let text: String

    init(_ data: PromptDataset, split: String) {
        let records = data.prompts.map { data.record($0)! }
        let responses = records.reduce(0) { $0 + $1.responses.count }
        let withoutPairs = records.filter { $0.pairs.isEmpty }.count
        text = """
        dataset \(data.name), split \(split) (truncation \(data.truncationMode.rawValue))
          prompts             \(data.prompts.count)
          pairs               \(data.pairCount)
          responses           \(responses)
          prompts w/o pairs   \(withoutPairs)
        """
    }
}

/// One training example as the iterator builds it: a pair (preference) or a prompt (SFT).
struct InspectionUnit {
    let prompt: String
    let chosen: String
    let rejected: String?
    let mode: TruncationMode
    let text: RowText
    let label: String

    static func units(of prompts: [FlatPrompt], sft: Bool) -> [InspectionUnit] {
        prompts.enumerated().flatMap { p, item -> [InspectionUnit] in
            let r = item.record
            if sft {
                return [InspectionUnit(prompt: item.prompt, chosen: r.sftTarget, rejected: nil, mode: item.truncationMode,
                                       text: item.text, label: "prompt \(p + 1), SFT target")]
            }
            return r.pairs.enumerated().map { k, pair in
                InspectionUnit(prompt: item.prompt, chosen: r.responses[pair.preferred], rejected: r.responses[pair.dispreferred],
                               mode: item.truncationMode, text: item.text, label: "prompt \(p + 1), pair \(k + 1) of \(r.pairs.count)")
            }
        }
    }

    /// The example with its masked span between `[prompt]` and `[/prompt]`: decoded from the
    /// truncated token ids when a tokenizer is given (exactly what is trained on), raw otherwise.
    func rendered(number: Int, of total: Int, tokenizer: (any Tokenizer)?, limits: TruncationLimits) -> String {
        var lines = ["", "--- example \(number) of \(total) (\(label))"]
        let names = rejected == nil ? ["sft target"] : ["chosen", "rejected"]
        if let tokenizer {
            let e: BatchElement
            do {
                e = try ElementTokenizer(encoder: tokenizer, limits: limits)
                    .element(prompt: prompt, chosen: chosen, rejected: rejected, mode: mode, text: text)
            } catch {
                return (lines + ["cannot be tokenized: \(error)"]).joined(separator: "\n")
            }
            let prompt = tokenizer.decode(e.promptIds)
            let sequences = [e.chosenIds] + (e.rejectedIds.map { [$0] } ?? [])
            for (name, ids) in zip(names, sequences) {
                lines.append("\(name): [prompt]\(prompt)[/prompt]\(tokenizer.decode(Array(ids.dropFirst(e.promptIds.count))))")
            }
        } else {
            for (name, response) in zip(names, [chosen] + (rejected.map { [$0] } ?? [])) {
                // A rendered response is the whole conversation: show the part after the prompt.
                let rest = text == .rendered && response.hasPrefix(prompt) ? String(response.dropFirst(prompt.count)) : response
                lines.append("\(name): [prompt]\(prompt)[/prompt]\(rest)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Min / mean / max of prompt and response lengths, and how many examples truncation cuts.
struct LengthReport {
    struct Stat {
        var values: [Int] = []
        var text: String {
            guard let lo = values.min(), let hi = values.max() else { return "-" }
            let mean = Double(values.reduce(0, +)) / Double(values.count)
            return "min \(lo)  mean \(String(format: "%.1f", mean))  max \(hi)"
        }
    }

    var prompt = Stat(), chosen = Stat(), rejected = Stat()
    var promptCut = 0, responsesCut = 0, unitCount = 0
    var eosFailures: [String] = []
    let tokenized: Bool
    let limits: TruncationLimits

    init(units: [InspectionUnit], tokenizer: (any Tokenizer)?, limits: TruncationLimits) throws {
        tokenized = tokenizer != nil
        self.limits = limits
        unitCount = units.count
        guard let tokenizer else {
            for u in units {
                prompt.values.append(u.prompt.count)
                chosen.values.append(u.chosen.count)
                if let r = u.rejected { rejected.values.append(r.count) }
            }
            return
        }
        let elements = ElementTokenizer(encoder: tokenizer, limits: limits)
        var promptLengths: [String: Int] = [:] // prompts repeat once per pair
        let whole = ElementTokenizer(encoder: tokenizer, limits: TruncationLimits(maxLength: Int(Int32.max), maxPromptLength: Int(Int32.max) - 1,
                                                                                  convention: limits.convention))
        for u in units {
            var p = promptLengths[u.prompt] ?? tokenizer.encode(u.prompt).count
            var c = tokenizer.encode(u.chosen).count + 1 // EOS appended
            var r = u.rejected.map { tokenizer.encode($0).count + 1 }
            if u.text == .rendered || limits.convention == .trl, let e = try? whole.element(prompt: u.prompt, chosen: u.chosen,
                                                                                           rejected: u.rejected, mode: u.mode, text: u.text) {
                // As tokenized for training: the response is what follows the shared prompt.
                (p, c, r) = (e.promptIds.count, e.chosenIds.count - e.promptIds.count, e.rejectedIds.map { $0.count - e.promptIds.count })
            }
            promptLengths[u.prompt] = p
            prompt.values.append(p)
            chosen.values.append(c)
            if let r { rejected.values.append(r) }
            do {
                let e = try elements.element(prompt: u.prompt, chosen: u.chosen, rejected: u.rejected, mode: u.mode, text: u.text)
                if e.promptIds.count < p { promptCut += 1 }
                if e.chosenIds.count - e.promptIds.count < c || (r.map { e.rejectedIds!.count - e.promptIds.count < $0 } ?? false) {
                    responsesCut += 1
                }
            } catch let error as DataError {
                eosFailures.append("\(u.label): \(error)")
            }
        }
    }

    func text(modelPath: String?) -> String {
        let unit = tokenized ? "tokens" : "characters"
        var lines = ["lengths in \(unit) over \(unitCount) example\(unitCount == 1 ? "" : "s")"
            + (modelPath.map { " (tokenizer of \($0); responses include EOS)" } ?? " (give --model DIR for tokens)")]
        lines.append("  prompt     \(prompt.text)")
        lines.append("  \(rejected.values.isEmpty ? "sft target" : "chosen    ") \(chosen.text)")
        if !rejected.values.isEmpty { lines.append("  rejected   \(rejected.text)") }
        if tokenized {
            lines.append("truncation (max_length \(limits.maxLength), max_prompt_length \(limits.maxPromptLength))")
            lines.append("  prompt cut to max_prompt_length      \(promptCut) of \(unitCount)")
            lines.append("  responses cut (EOS may be lost)      \(responsesCut) of \(unitCount)")
            if !eosFailures.isEmpty {
                lines.append("  \(eosFailures.count) example(s) contain the EOS token in their text and would stop training; first: \(eosFailures[0])")
            }
        }
        return lines.joined(separator: "\n")
    }
}
