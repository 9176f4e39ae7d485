import DPOHostSDK

/// DPO and conservative DPO as the DPO reference computes them (losses.md 2.1-2.3, 2.5-2.6).
/// Shared by the `dpo` and `cdpo` plugins, which differ only in label_smoothing's default.
public final class DPOLoss {
    public let beta: Float
    public let labelSmoothing: Float
    public let referenceFree: Bool
    public let averageLogProb: Bool

    /// The options both plugins declare; `labelSmoothingDefault` is "0" for dpo, "0.2" for cdpo.
    public static func options(labelSmoothingDefault: String) -> [PluginDescription.Option] {
        [.init("beta", DPH_OPTION_FLOAT, default: nil,
               help: "temperature of the implicit reward beta*log(pi/ref), > 0 (the reference's configs use 0.1)"),
         .init("label_smoothing", DPH_OPTION_FLOAT, default: labelSmoothingDefault,
               help: "cDPO: assumed fraction of flipped preference labels, in [0, 0.5); 0 is plain DPO"),
         .init("reference_free", DPH_OPTION_BOOL, default: "false",
               help: "drop the reference log-ratio from the loss (rewards still use the reference)"),
         .init("average_log_prob", DPH_OPTION_BOOL, default: "false",
               help: "divide every sequence log-prob by its response length (the references sum)")]
    }

    public init(_ host: Host, plugin: String) throws {
        let rules = OptionRules(host, plugin: plugin)
        beta = try rules.positive("beta")
        labelSmoothing = try rules.halfOpen("label_smoothing", 0, 0.5)
        referenceFree = try rules.flag("reference_free")
        averageLogProb = try rules.flag("average_log_prob")
    }

    public func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try SequenceLogps(host, inputs, averaged: averageLogProb)
        let h = try logps.preferenceLogits(host, referenceFree: referenceFree)
        let losses = try PreferenceLoss.sigmoid(host, logits: h, beta: beta, labelSmoothing: labelSmoothing)
        let rewards = try logps.rewards(host, beta: beta)
        let metrics = PreferenceMetrics(host)
        try metrics.rewards(chosen: rewards.chosen, rejected: rewards.rejected)
        try metrics.logpsAndLoss(chosen: logps.policyChosen, rejected: logps.policyRejected, losses: losses)
        return try PreferenceLoss.batchMean(host, losses)
    }
}
