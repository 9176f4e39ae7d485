import DPOHostSDK

/// The per-example losses of the DPO reference's `preference_loss` (docs/spec/losses.md §2.1-2.4), built
/// from host ops so their gradient flows back through the tape.
public enum PreferenceLoss {
    /// `-(1 - eps) logsig(beta h) - eps logsig(-beta h)`; with `eps == 0` exactly `-logsig(beta h)`.
    public static func sigmoid(_ host: Host, logits h: dph_tensor, beta: Float, labelSmoothing eps: Float) throws -> dph_tensor {
        let agree = try host.logSigmoid(try host.scale(h, beta))
        if eps == 0 { return try host.neg(agree) }
        let flipped = try host.logSigmoid(try host.scale(h, -beta))
        return try host.add(try host.scale(agree, -(1 - eps)), try host.scale(flipped, -eps))
    }

    /// IPO: `(h - 1/(2 beta))^2`.
    public static func ipo(_ host: Host, logits h: dph_tensor, beta: Float) throws -> dph_tensor {
        try host.square(try host.addScalar(h, -1 / (2 * beta)))
    }

    /// The differentiated batch loss: the mean of the per-example losses (docs/spec/losses.md §0.4), each
    /// first multiplied by its pair weight when the host gives them (WPO, `use_weighting`).
    public static func batchMean(_ host: Host, _ losses: dph_tensor, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        guard DPHLossInputs.has(inputs, \.pair_weights), inputs.pair_weights != 0 else { return try host.mean(losses) }
        return try host.mean(try host.mul(losses, inputs.pair_weights))
    }

    /// The end of a sequence-level loss's compute: the DPO reference's metrics of `losses`
    /// (rewards `beta * (p - q)`, docs/spec/losses.md §2.6), then their batch mean.
    public static func reportedMean(_ host: Host, _ losses: dph_tensor, _ logps: SequenceLogps, beta: Float,
                                    _ inputs: dph_loss_inputs) throws -> dph_tensor {
        try PreferenceMetrics(host).dpo(logps, beta: beta, losses: losses)
        return try batchMean(host, losses, inputs)
    }
}
