import Autograd
import Configuration
import DataPipeline
import Foundation
import Model
import Objective
import TensorCore
import Tokenizers

/// The reference model's summed log-probs of every (prompt, chosen, rejected) example, computed
/// once before training (`precompute_ref_log_probs`, as TRL and EasyDeL offer) so the reference
/// forward drops out of every step. Keyed by the example's exact texts, since the data order is
/// shuffled after the pass; kept in the run directory (`reference_logps.jsonl`) so a resumed run
/// does not recompute it.
public final class ReferenceLogProbCache {
    struct Key: Hashable {
        let bytes: [UInt8]
        init(_ prompt: String, _ chosen: String, _ rejected: String) {
            bytes = Array(prompt.utf8) + [0] + Array(chosen.utf8) + [0] + Array(rejected.utf8)
        }
    }

    struct Line: Codable { let prompt, chosen, rejected: String; let chosen_logp, rejected_logp: Float }

    /// What the cached log-probs depend on besides the texts, written as the file's first line so
    /// that another run reuses the file only with the same reference weights and tokenization.
    public struct Provenance: Codable, Equatable {
        /// `LanguageModel.weightFingerprint()` of the reference as it ran.
        public var reference: String
        /// The tokenizer, lengths and truncation the rows were made with.
        public var tokenization: String

        public init(reference: String, tokenization: String) {
            self.reference = reference
            self.tokenization = tokenization
        }
    }

    struct Header: Codable { let provenance: Provenance }

    private var values: [Key: (Float, Float)] = [:]
    private var lines: [Line] = []
    public let provenance: Provenance?

    public static let fileName = "reference_logps.jsonl"

    public init(provenance: Provenance? = nil) { self.provenance = provenance }

    public var count: Int { values.count }

    /// Runs `reference` over every pair of `prompts` not cached yet, `batchSize` pairs at a time;
    /// with `sharePrompts`, each pair's prompt once (`SharedPrompt`), as the trainer's step does.
    public func fill(prompts: [FlatPrompt], reference: LanguageModel, tokenizer: any Tokenizer,
                     limits: TruncationLimits, batchSize: Int, sharePrompts: Bool = true,
                     desensitization: LengthDesensitization? = nil, pool: WorkerPool) throws {
        let elements = ElementTokenizer(encoder: tokenizer, limits: limits)
        let collator = Collator(padId: tokenizer.padTokenId)
        var pending: [BatchElement] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = collator.collate(pending)
            let (ids, mask, labels) = batch.concatenated()
            // Every rank fills the same pairs (FSDP's ranks run the same passes).
            let sums = try Self.sequenceLogProbs(reference: reference, ids: ids, mask: mask, labels: labels, sharePrompts: sharePrompts,
                                                 desensitization: desensitization, pool: pool)
            for (i, e) in pending.enumerated() {
                add(Line(prompt: e.prompt, chosen: e.chosenResponse, rejected: e.rejectedResponse ?? "",
                         chosen_logp: sums.chosen[i], rejected_logp: sums.rejected[i]))
            }
            pending.removeAll()
        }
        for item in prompts {
            for pair in item.record.pairs {
                let chosen = item.record.responses[pair.preferred], rejected = item.record.responses[pair.dispreferred]
                guard values[Key(item.prompt, chosen, rejected)] == nil else { continue }
                pending.append(try elements.element(prompt: item.prompt, chosen: chosen, rejected: rejected, mode: item.truncationMode,
                                                    text: item.text))
                if pending.count == batchSize { try flush() }
            }
        }
        try flush()
    }

    /// The reference's summed log-probs of each pair of one preference batch (`[2B, T]`: chosen
    /// rows, then rejected), without a tape: what the cache holds, and what the step benchmark
    /// hands the cached-reference step.
    public static func sequenceLogProbs(reference: LanguageModel, ids: IndexTensor, mask: IndexTensor, labels: IndexTensor,
                                        sharePrompts: Bool, desensitization: LengthDesensitization? = nil,
                                        pool: WorkerPool) throws -> (chosen: [Float], rejected: [Float]) {
        let tape = Tape(pool: pool, recording: false)
        let prompt = sharePrompts ? SharedPrompt(ids: ids, mask: mask, labels: labels) : nil
        let scored = prompt?.rowPart(labels) ?? labels
        let logits = try reference.forward(ids: ids, mask: mask, sharing: prompt, logitRows: ModelLoss.scoredRows(labels: scored),
                                           wholeRowLogitRows: ModelLoss.scoredRows(labels: labels), tape: tape).logits
        let tokens = try tape.labelLogProbs(logits: logits, labels: scored)
        let sums = try (desensitization.map { try $0.sequenceLogps(tokens: tokens, labels: scored, tape: tape) }
                        ?? tape.sum(tokens, axis: 1)).value.scalars
        let b = sums.count / 2
        return (Array(sums[..<b]), Array(sums[b...]))
    }

    private func add(_ line: Line) {
        let key = Key(line.prompt, line.chosen, line.rejected)
        if values[key] == nil { lines.append(line) }
        values[key] = (line.chosen_logp, line.rejected_logp)
    }

    /// Cached `(chosen, rejected)` log-probs of a batch's pairs; an uncached pair is an error.
    public func lookup(_ batch: Batch) throws -> (chosen: [Float], rejected: [Float]) {
        var chosen: [Float] = [], rejected: [Float] = []
        for e in batch.elements {
            guard let v = values[Key(e.prompt, e.chosenResponse, e.rejectedResponse ?? "")] else {
                throw DataError.invalidArgument("no cached reference log-probs for the example whose prompt starts \(String(e.prompt.prefix(60)).debugDescription)")
            }
            chosen.append(v.0)
            rejected.append(v.1)
        }
        return (chosen, rejected)
    }

    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        if let provenance { data.append(try encoder.encode(Header(provenance: provenance))); data.append(0x0A) }
        for line in lines { data.append(try encoder.encode(line)); data.append(0x0A) }
        try data.write(to: url, options: .atomic)
    }

    /// Reads a saved cache; a malformed line is an error naming the file and line, and a cache
    /// made with another reference or tokenization than `provenance` is refused, naming which (a
    /// file of an earlier version, without the header line, is taken as it is).
    public func load(from url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        for (i, line) in text.split(separator: "\n").enumerated() {
            if i == 0, let header = try? JSONDecoder().decode(Header.self, from: Data(line.utf8)) {
                guard let provenance else { continue }
                if header.provenance.reference != provenance.reference {
                    throw DataError.invalidArgument("\(url.path): cached by a run with other reference weights (fingerprint \(header.provenance.reference.prefix(16)), this run's \(provenance.reference.prefix(16))); use another reference_logps_cache file")
                }
                if header.provenance.tokenization != provenance.tokenization {
                    throw DataError.invalidArgument("\(url.path): cached with other tokenization (\(header.provenance.tokenization)), this run's is \(provenance.tokenization); use another reference_logps_cache file")
                }
                continue
            }
            do { add(try JSONDecoder().decode(Line.self, from: Data(line.utf8))) } catch {
                throw DataError.invalidArgument("\(url.path):\(i + 1): not a cached reference log-prob line")
            }
        }
    }
}
