import Autograd
import PluginHost
import TensorCore

/// One term of the objective: a loss plugin and its weight.
public struct WeightedLoss {
    public let name: String
    public let computation: LossComputation
    public let weight: Double

    public init(name: String, computation: LossComputation, weight: Double = 1) {
        self.name = name
        self.computation = computation
        self.weight = weight
    }
}

/// The training objective: one loss, or several combined with weights as TRL's multi-loss option
/// does (`loss=[dpo,sft] loss.weights=[1.0,0.2]`): total = sum_k w_k * mean(loss_k).
///
/// Metrics: the first loss's keep their names (rewards, log-probs); every term's per-example loss
/// is also reported as `<name>/loss/<split>`, and `loss/<split>` is the weighted per-example sum.
public struct CombinedLoss {
    public let terms: [WeightedLoss]

    public init(_ terms: [WeightedLoss]) { self.terms = terms }

    /// False when every loss is reference-free (`DPH_LOSS_REFERENCE_FREE`): no reference model
    /// needs loading or running.
    /// Every loss reads only the chosen rows (`DPH_LOSS_CHOSEN_ONLY`): the run batches SFT targets.
    public var chosenOnly: Bool { terms.allSatisfy { $0.computation.plugin.needs.contains(.chosenOnly) } }
    public var needsReference: Bool { terms.contains { !$0.computation.plugin.needs.contains(.referenceFree) } }
    /// Whether some loss reads logits (`DPH_LOSS_NEEDS_LOGITS`), not only label log-probs.
    /// Whether the data order uses the TDPO reference's 31-bit permutation seeds: the run's first
    /// loss that reads a reference model asks for them (plugin.h, DPH_LOSS_DATA_ORDER_31_BIT_SEEDS).
    public var dataOrder31BitSeeds: Bool {
        terms.first { !$0.computation.plugin.needs.contains(.referenceFree) }?.computation.plugin.needs.contains(.dataOrder31BitSeeds) ?? false
    }

    public var needsLogits: Bool { terms.contains { $0.computation.plugin.needs.contains(.logits) } }
    /// Whether some loss reads logits at positions whose label does not count; if none does, the
    /// model's head need only project the positions with a counted label.
    public var needsEveryLogitRow: Bool {
        terms.contains { $0.computation.plugin.needs.contains(.logits) && !$0.computation.plugin.needs.contains(.scoredLogitsOnly) }
    }

    public func compute(_ batch: LossBatch, split: LossMetricSplit, tape: Tape) throws -> LossResult {
        if terms.count == 1, terms[0].weight == 1 {
            return try terms[0].computation.compute(batch, split: split, tape: tape)
        }
        let lossKey = "loss/\(split.rawValue)"
        var total: Variable?
        var metrics: [(name: String, values: [Float])] = []
        var combined: [Float]?
        for (k, term) in terms.enumerated() {
            let outcome = try term.computation.compute(batch, split: split, tape: tape)
            let scaled = try tape.scale(outcome.loss, Float(term.weight))
            total = try total.map { try tape.add($0, scaled) } ?? scaled
            for m in outcome.metrics {
                if m.name == lossKey {
                    let weighted = m.values.map { $0 * Float(term.weight) }
                    combined = combined.map { zip($0, weighted).map { $0 + $1 } } ?? weighted
                    metrics.append(("\(term.name)/\(m.name)", m.values))
                } else if k == 0 {
                    metrics.append(m)
                } else {
                    metrics.append(("\(term.name)/\(m.name)", m.values))
                }
            }
        }
        if let combined { metrics.append((lossKey, combined)) }
        return LossResult(loss: total!, metrics: metrics)
    }
}
