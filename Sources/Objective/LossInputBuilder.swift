import Autograd
import PluginHost
import TensorCore

/// Fills a loss plugin's inputs (docs/spec/losses.md §0.2 and §8) from a batch's logits, computing only the
/// levels the plugin declared. Sequence log-probs are always SUMS; a plugin that averages
/// divides by the lengths it is given (its `average_log_prob` option).
public struct LossInputBuilder {
    public let needs: LossPlugin.Needs
    /// LD-DPO's weighting of the sequence sums (`ld_alpha`); nil sums every token alike.
    public let desensitization: LengthDesensitization?
    /// Whether to give the loss WPO's pair weights (`PairWeighting`).
    public let weighting: Bool

    public init(needs: LossPlugin.Needs, desensitization: LengthDesensitization? = nil, weighting: Bool = false) {
        self.needs = needs
        self.desensitization = desensitization
        self.weighting = weighting
    }

    public func inputs(for batch: LossBatch, tape: Tape) throws -> LossInputs {
        var inputs = LossInputs(batchPairs: batch.pairs)
        if needs.contains(.logits) {
            inputs.policyLogits = batch.policyLogits
            inputs.referenceLogits = batch.referenceLogits
            inputs.labels = batch.labels
        }
        guard needs.contains(.sequence) || needs.contains(.token) else { return inputs }

        // One fused log-softmax + gather per model, shared by the token and sequence levels.
        let policyTokens = try tape.labelLogProbs(logits: batch.policyLogits, labels: batch.labels)
        if weighting && needs.contains(.pairWeights) && batch.layout == .preference {
            inputs.pairWeights = Variable(PairWeighting.weights(logits: batch.policyLogits.value, labelLogps: policyTokens.value,
                                                                labels: batch.labels))
        }
        let referenceTokens = try batch.referenceTokenLogps ?? batch.referenceLogits.map { logits in
            try tape.withoutGrad { try tape.labelLogProbs(logits: logits, labels: batch.labels) }
        }
        if needs.contains(.token) {
            inputs.policyTokenLogps = policyTokens
            inputs.referenceTokenLogps = referenceTokens
            inputs.responseMask = Variable(batch.responseMask())
        }
        if needs.contains(.sequence) {
            // LD-DPO's weights depend on the labels alone: made once, for policy and reference.
            let weights = batch.layout == .preference ? desensitization.map { Variable($0.weights(labels: batch.labels)) } : nil
            let sum = { (tokens: Variable) throws -> Variable in
                guard let weights else { return try tape.sum(tokens, axis: 1) }
                return try tape.sum(try tape.mul(tokens, weights), axis: 1)
            }
            let policy = try halves(try sum(policyTokens), batch, tape)
            inputs.policyChosenLogps = policy.chosen
            inputs.policyRejectedLogps = policy.rejected
            if let referenceTokens {
                let reference = try tape.withoutGrad { try halves(try sum(referenceTokens), batch, tape) }
                inputs.referenceChosenLogps = reference.chosen
                inputs.referenceRejectedLogps = reference.rejected
            } else if let cached = batch.referenceSequenceLogps {
                let b = cached.chosen.count
                inputs.referenceChosenLogps = Variable(try Tensor(shape: [b], values: cached.chosen))
                inputs.referenceRejectedLogps = Variable(try Tensor(shape: [b], values: cached.rejected))
            }
            let lengths = batch.responseLengths()
            let b = batch.pairs
            inputs.chosenLengths = Variable(try Tensor(shape: [b], values: Array(lengths[0..<b])))
            if batch.layout == .preference {
                inputs.rejectedLengths = Variable(try Tensor(shape: [b], values: Array(lengths[b...])))
            }
        }
        return inputs
    }

    /// `[N]` per-row values as (chosen, rejected); a chosen-only batch has no rejected half.
    func halves(_ perRow: Variable, _ batch: LossBatch, _ tape: Tape) throws -> (chosen: Variable, rejected: Variable?) {
        guard batch.layout == .preference else { return (perRow, nil) }
        let parts = try tape.split(perRow, sizes: [batch.pairs, batch.pairs], axis: 0)
        return (parts[0], parts[1])
    }
}
