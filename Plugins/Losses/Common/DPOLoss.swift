import DPOHostSDK

/// DPO and conservative DPO as the DPO reference computes them (losses.md 2.1-2.3, 2.5-2.6).
/// Shared by the `dpo` and `cdpo` plugins, which differ only in label_smoothing's default.
public final class DPOLoss: LossComputing {
    public let beta: Float
    public let labelSmoothing: Float
    public let referenceFree: Bool
    public let averageLogProb: Bool

    /// The options both plugins declare; `labelSmoothingDefault` is "0" for dpo, "0.2" for cdpo.
    /// `betaDefault` is nil (required, as in the reference's configs) except for `rpo`, which
    /// takes TRL's 0.1.
    public static func options(labelSmoothingDefault: String, betaDefault: String? = nil) -> [PluginDescription.Option] {
        [.init("beta", DPH_OPTION_FLOAT, default: betaDefault,
               help: "temperature of the implicit reward beta*log(pi/ref), > 0 (the reference's configs use 0.1)"),
         .init("label_smoothing", DPH_OPTION_FLOAT, default: labelSmoothingDefault,
               help: "cDPO: assumed fraction of flipped preference labels, in [0, 0.5); 0 is plain DPO"),
         .init("reference_free", DPH_OPTION_BOOL, default: "false",
               help: "drop the reference log-ratio from the loss (rewards still use the reference)"),
         .init("average_log_prob", DPH_OPTION_BOOL, default: "false",
               help: "divide every sequence log-prob by its response length (the references sum)")]
    }

    public init(_ host: Host) throws {
        let rules = OptionRules(host)
        beta = try rules.positive("beta")
        labelSmoothing = try rules.halfOpen("label_smoothing", 0, 0.5)
        referenceFree = try rules.flag("reference_free")
        averageLogProb = try rules.flag("average_log_prob")
    }

    public func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try self.logps(host, inputs)
        let losses = try self.losses(host, logps)
        try PreferenceMetrics(host).dpo(logps, beta: beta, losses: losses)
        return try PreferenceLoss.batchMean(host, losses)
    }

    /// The sequence log-probs, length-averaged when `average_log_prob` is set.
    public func logps(_ host: Host, _ inputs: dph_loss_inputs) throws -> SequenceLogps {
        try SequenceLogps(host, inputs, averaged: averageLogProb)
    }

    /// `[B]` per-example (c)DPO losses.
    public func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let h = try logps.preferenceLogits(host, referenceFree: referenceFree)
        return try PreferenceLoss.sigmoid(host, logits: h, beta: beta, labelSmoothing: labelSmoothing)
    }
}
