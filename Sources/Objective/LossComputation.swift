import Autograd
import Foundation
import PluginHost

/// Whether a loss runs for training or evaluation. The ABI does not tell the plugin, so the
/// built-in losses emit keys with the placeholder `{split}` (e.g. `rewards_{split}/chosen`)
/// and the host fills it here, giving the DPO reference's `rewards_train/chosen`.
public enum LossMetricSplit: String, Sendable {
    case train, eval

    /// `name` with every `{split}` replaced; names without the placeholder are kept as given.
    public func qualify(_ name: String) -> String { name.replacingOccurrences(of: "{split}", with: rawValue) }
}

/// Runs a loss plugin on a batch's logits: builds the inputs it declared, calls it, names its
/// metrics for the split.
public struct LossComputation {
    public let plugin: LossPlugin
    public let desensitization: LengthDesensitization?
    public let weighting: Bool

    public init(plugin: LossPlugin, desensitization: LengthDesensitization? = nil, weighting: Bool = false) {
        self.plugin = plugin
        self.desensitization = desensitization
        self.weighting = weighting
    }

    public func compute(_ batch: LossBatch, split: LossMetricSplit, tape: Tape) throws -> LossResult {
        let inputs = try LossInputBuilder(needs: plugin.needs, desensitization: desensitization, weighting: weighting).inputs(for: batch, tape: tape)
        let result = try plugin.compute(inputs, tape: tape)
        // The reported per-example loss is the one differentiated: weighted, when pair weights were given.
        let weights = inputs.pairWeights?.value.scalars
        return LossResult(loss: result.loss, metrics: result.metrics.map { metric in
            let name = split.qualify(metric.name)
            guard let weights, name == "loss/\(split.rawValue)", weights.count == metric.values.count else { return (name, metric.values) }
            return (name, zip(metric.values, weights).map { $0 * $1 })
        })
    }
}
