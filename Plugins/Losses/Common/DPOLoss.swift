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

    /// `beta` and `label_smoothing` take the default of the plugin that publishes the loss (their
    /// rules are one): `beta` is required, as in the reference's configs, except for `rpo`, which
    /// takes TRL's 0.1; `label_smoothing` is 0 for dpo, 0.2 for cdpo.
    static func beta(default value: String? = nil) -> LossOption<Float> {
        LossOptions.beta(default: value, help: "temperature of the implicit reward beta*log(pi/ref), > 0 (the reference's configs use 0.1)")
    }
    static func labelSmoothing(default value: String = "0") -> LossOption<Float> {
        LossOptions.labelSmoothing(default: value, help: "cDPO: assumed fraction of flipped preference labels, in [0, 0.5); 0 is plain DPO")
    }
    static let referenceFree = LossOptions.referenceFree(help: "drop the reference log-ratio from the loss (rewards still use the reference)")
    static let averageLogProb = LossOptions.averageLogProb(help: "divide every sequence log-prob by its response length (the references sum)")
    static let lengthNormalized = LossOptions.lengthNormalized(
        help: "divide each log-ratio by its response length in the loss only (TRL's sigmoid_norm)")
    static let referenceRewards = LossOption<Bool>.flag("reference_rewards", default: true,
        help: "false with reference_free: reference log-probs 0 in the rewards too, no reference model runs (TRL<=0.27/EasyDeL)")

    /// The options of a plugin publishing this loss, in the descriptor's order.
    public static func options(labelSmoothingDefault: String, betaDefault: String? = nil) -> [any DeclaredOption] {
        [beta(default: betaDefault), labelSmoothing(default: labelSmoothingDefault), referenceFree, averageLogProb,
         lengthNormalized, referenceRewards] + FDivergence.options
    }

    /// The description of a plugin that publishes this loss as it is (`dpo`, `cdpo`).
    public static func plugin(name: String, summary: String, labelSmoothingDefault: String) -> LossDescription {
        LossDescription(name: name, summary: summary, options: options(labelSmoothingDefault: labelSmoothingDefault))
    }

    public init(_ host: Host) throws {
        beta = try Self.beta().read(host)
        labelSmoothing = try Self.labelSmoothing().read(host)
        referenceFree = try Self.referenceFree.read(host)
        averageLogProb = try Self.averageLogProb.read(host)
        lengthNormalized = try Self.lengthNormalized.read(host)
        referenceRewards = try Self.referenceRewards.read(host)
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
