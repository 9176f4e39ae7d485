import DPOHostSDK

/// A loss plugin's instance state that knows how to compute its loss: what `LossEntry.compute`
/// runs when the plugin needs nothing but its settings and the inputs.
public protocol LossComputing: AnyObject {
    /// The scalar batch loss, built from host ops so its gradient flows back through the tape.
    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor
}

/// A loss from the four sequence log-probs `pc, pr, qc, qr` whose metrics are the DPO
/// reference's (docs/spec/losses.md §2.5-2.6; TRL and EasyDeL report the same rewards for every variant
/// of their table, §6). A conformer supplies only the per-example losses.
public protocol PairwiseLoss: LossComputing {
    /// Temperature of the implicit reward `beta * (p - q)` the metrics report.
    var beta: Float { get }
    /// `[B]` per-example losses, differentiable in the policy log-probs.
    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor
}

extension PairwiseLoss {
    public func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try SequenceLogps(host, inputs, averaged: false)
        return try PreferenceLoss.reportedMean(host, try losses(host, logps), logps, beta: beta, inputs)
    }
}
