import DPOHostSDK

/// A pairwise loss whose one option is `beta`, written as its formula alone (apo_zero, apo_down,
/// nca_pair, sppo_hard): `BetaFormulaLoss` declares and reads beta, and `PairwiseLoss` adds the
/// DPO reference's metrics and the pair-weighted mean.
public protocol BetaFormula {
    static var name: String { get }
    /// What `dpohost plugins info` shows.
    static var summary: String { get }
    /// `beta`: the zoo's, unless the loss words its help.
    static var betaOption: LossOption<Float> { get }
    /// `[B]` per-example losses, differentiable in the policy log-probs.
    static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor
}

extension BetaFormula {
    public static var betaOption: LossOption<Float> { LossOptions.beta() }
}

/// A `BetaFormula` that scores each response's log-ratio on its own: a term of the chosen
/// `Dw = pc - qc` plus a term of the rejected `Dl = pr - qr` (apo_zero, sppo_hard).
public protocol SeparableFormula: BetaFormula {
    static func chosen(_ host: Host, _ dw: dph_tensor, beta: Float) throws -> dph_tensor
    static func rejected(_ host: Host, _ dl: dph_tensor, beta: Float) throws -> dph_tensor
}

extension SeparableFormula {
    public static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor {
        let chosenTerm = try chosen(host, try logps.chosenLogRatio(host), beta: beta)
        return try host.add(chosenTerm, try rejected(host, try logps.rejectedLogRatio(host), beta: beta))
    }
}

/// The registered loss of a `BetaFormula`: `LossExport.initialize(desc, as: BetaFormulaLoss<F>.self)`.
public final class BetaFormulaLoss<F: BetaFormula>: PairwiseLoss, RegisteredLoss {
    public let beta: Float

    public static var plugin: LossDescription { LossDescription(name: F.name, summary: F.summary, options: [F.betaOption]) }

    public init(_ host: Host) throws { beta = try F.betaOption.read(host) }

    public func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor { try F.losses(host, logps, beta: beta) }
}
