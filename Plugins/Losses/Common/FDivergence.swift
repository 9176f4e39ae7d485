import DPOHostSDK

/// TRL's `f_divergence_type` (docs/spec/losses.md §6.1): the regulariser between policy and reference.
/// Each log-ratio D (`Dw`, `Dl`) becomes the score f'(exp D) before the loss takes h as the
/// difference of the two scores; rewards stay `beta * D`. One mechanism for every loss built on
/// that difference (dpo, ipo, hinge, robust, exo_pair, discopop); reverse KL is the identity, so
/// those losses compute exactly what they computed without it.
public struct FDivergence {
    public enum Kind: String, CaseIterable, Sendable {
        case reverseKL = "reverse_kl", forwardKL = "forward_kl", jsDivergence = "js_divergence", alphaDivergence = "alpha_divergence"
    }

    public let kind: Kind
    /// The alpha of the alpha-divergence.
    public let alpha: Float

    static let kind = LossOption<Kind>.choice("f_divergence_type", default: .reverseKL,
        help: "regulariser: reverse_kl (DPO), forward_kl, js_divergence or alpha_divergence (TRL's f_divergence_type)")
    static let alpha = LossOption<Float>.finite("f_alpha_divergence_coef", default: "0.5",
        help: "alpha of alpha_divergence (TRL's f_alpha_divergence_coef)")
    public static var options: [any DeclaredOption] { [kind, alpha] }

    public init(_ host: Host) throws {
        kind = try Self.kind.read(host)
        alpha = try Self.alpha.read(host)
    }

    public var isReverseKL: Bool { kind == .reverseKL || (kind == .alphaDivergence && abs(alpha - 1) < 1e-6) }

    /// f'(exp D): forward KL `1 - exp(-D)`, JS `log 2 + logsig(D)`, alpha
    /// `(exp((alpha - 1) D) - 1) / (alpha - 1)` with the exponent capped at 80 as TRL caps it in
    /// float32 (alpha = 1 is reverse KL's D).
    public func score(_ host: Host, _ d: dph_tensor) throws -> dph_tensor {
        if isReverseKL { return d }
        switch kind {
        case .reverseKL: return d
        case .forwardKL: return try host.addScalar(try host.neg(try host.unary(DPH_UNARY_EXP, try host.neg(d))), 1)
        case .jsDivergence: return try host.addScalar(try host.logSigmoid(d), Float(0.6931471805599453))
        case .alphaDivergence:
            let t = try host.scale(d, alpha - 1)
            // min(t, 80) with its gradient: t - relu(t - 80).
            let capped = try host.sub(t, try host.relu(try host.addScalar(t, -80)))
            return try host.scale(try host.addScalar(try host.unary(DPH_UNARY_EXP, capped), -1), 1 / (alpha - 1))
        }
    }

    /// The preference logits h: `(pc - pr) - (qc - qr)` under reverse KL (the references' own
    /// form), else `score(Dw) - score(Dl)`; with `lengthNormalized` (TRL's ipo and sigmoid_norm)
    /// each score is first divided by its response length.
    public func logits(_ host: Host, _ logps: SequenceLogps, lengthNormalized: Bool = false,
                       _ inputs: dph_loss_inputs? = nil) throws -> dph_tensor {
        if !lengthNormalized && isReverseKL { return try logps.preferenceLogits(host, referenceFree: false) }
        var chosen = try score(host, try logps.chosenLogRatio(host))
        var rejected = try score(host, try logps.rejectedLogRatio(host))
        if lengthNormalized {
            guard let inputs else { throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "length_normalized needs the response lengths") }
            let need = "by length_normalized"
            chosen = try LengthAverage(host, lengths: try host.require(inputs.chosen_lengths, "chosen_lengths", for: need), what: "chosen").apply(chosen)
            rejected = try LengthAverage(host, lengths: try host.require(inputs.rejected_lengths, "rejected_lengths", for: need), what: "rejected").apply(rejected)
        }
        return try host.sub(chosen, rejected)
    }
}
