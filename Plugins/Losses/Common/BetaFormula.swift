import DPOHostSDK

/// A pairwise loss whose one option is `beta`, written as its formula alone (apo_zero, apo_down,
/// nca_pair, sppo_hard): `BetaFormulaLoss` declares and checks beta, and `PairwiseLoss` adds the
/// DPO reference's metrics and the pair-weighted mean.
public protocol BetaFormula {
    static var name: String { get }
    /// What `dpohost plugins info` shows.
    static var summary: String { get }
    /// `beta`'s declaration: the zoo's, unless the loss words its help.
    static var betaOption: PluginDescription.Option { get }
    /// `[B]` per-example losses, differentiable in the policy log-probs.
    static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor
}

extension BetaFormula {
    public static var betaOption: PluginDescription.Option { LossOptions.beta() }
}

/// The registered loss of a `BetaFormula`: `LossExport.initialize(desc, as: BetaFormulaLoss<F>.self)`.
public final class BetaFormulaLoss<F: BetaFormula>: PairwiseLoss, RegisteredLoss {
    public let beta: Float

    public static var plugin: LossDescription { LossDescription(name: F.name, summary: F.summary, options: [F.betaOption]) }

    public init(_ host: Host) throws { beta = try OptionRules(host).positive("beta") }

    public func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor { try F.losses(host, logps, beta: beta) }
}
