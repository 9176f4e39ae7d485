import DPOHostSDK

/// DPO and conservative DPO as the DPO reference computes them (docs/spec/losses.md §2.1-2.3, §2.5-2.6).
/// Shared by the `dpo` and `cdpo` plugins, which differ only in label_smoothing's default.
public final class DPOLoss: LossInstance, VaryingNeeds {
    public let beta: Float
    public let labelSmoothing: Float
    public let referenceFree: Bool
    public let averageLogProb: Bool
    public let lengthNormalized: Bool
    /// False (with reference_free): the reference log-probs are 0 in the rewards too, so no
    /// reference model runs (TRL <= 0.27's and EasyDeL's reference_free).
    public let referenceRewards: Bool
    public let divergence: FDivergence

    /// The options both plugins declare; `labelSmoothingDefault` is "0" for dpo, "0.2" for cdpo.
    /// `betaDefault` is nil (required, as in the reference's configs) except for `rpo`, which
    /// takes TRL's 0.1.
    public static func options(labelSmoothingDefault: String, betaDefault: String? = nil) -> [PluginDescription.Option] {
        [LossOptions.beta(default: betaDefault,
                          help: "temperature of the implicit reward beta*log(pi/ref), > 0 (the reference's configs use 0.1)"),
         LossOptions.labelSmoothing(default: labelSmoothingDefault,
                                    help: "cDPO: assumed fraction of flipped preference labels, in [0, 0.5); 0 is plain DPO"),
         LossOptions.referenceFree(help: "drop the reference log-ratio from the loss (rewards still use the reference)"),
         LossOptions.averageLogProb(help: "divide every sequence log-prob by its response length (the references sum)"),
         LossOptions.lengthNormalized(help: "divide each log-ratio by its response length in the loss only (TRL's sigmoid_norm)"),
         .init("reference_rewards", DPH_OPTION_BOOL, default: "true",
               help: "false with reference_free: reference log-probs 0 in the rewards too, no reference model runs (TRL<=0.27/EasyDeL)")]
            + FDivergence.options
    }

    public init(_ host: Host) throws {
        let rules = OptionRules(host)
        beta = try rules.positive("beta")
        labelSmoothing = try rules.halfOpen("label_smoothing", 0, 0.5)
        referenceFree = try rules.flag("reference_free")
        averageLogProb = try rules.flag("average_log_prob")
        lengthNormalized = try rules.flag("length_normalized")
        referenceRewards = try rules.flag("reference_rewards")
        divergence = try FDivergence(host)
        if referenceFree && !divergence.isReverseKL {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "option 'f_divergence_type' other than reverse_kl needs a reference (reference_free=false)")
        }
        if !referenceRewards && !referenceFree {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "option 'reference_rewards' can be false only with reference_free=true")
        }
        if lengthNormalized && (averageLogProb || referenceFree) {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "option 'length_normalized' excludes average_log_prob and reference_free")
        }
    }

    /// What an instance reads: the declared needs, and no reference model when its rewards do not use one.
    public func needs(declared: UInt32) -> UInt32 {
        referenceRewards ? declared : declared | UInt32(DPH_LOSS_REFERENCE_FREE)
    }

    public func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try self.logps(host, inputs)
        return try PreferenceLoss.reportedMean(host, try losses(host, logps, inputs), logps, beta: beta, inputs)
    }

    /// The sequence log-probs, length-averaged when `average_log_prob` is set.
    public func logps(_ host: Host, _ inputs: dph_loss_inputs) throws -> SequenceLogps {
        try SequenceLogps(host, inputs, averaged: averageLogProb, zeroReference: !referenceRewards)
    }

    /// `[B]` per-example (c)DPO losses.
    public func losses(_ host: Host, _ logps: SequenceLogps, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let h = referenceFree ? try logps.preferenceLogits(host, referenceFree: true)
            : try divergence.logits(host, logps, lengthNormalized: lengthNormalized, inputs)
        return try PreferenceLoss.sigmoid(host, logits: h, beta: beta, labelSmoothing: labelSmoothing)
    }
}
