import DPOHostSDK

/// `beta` and the f-divergence of the losses built on the scaled preference logits
/// `x = beta * h` (hinge, robust, exo_pair, discopop; docs/spec/losses.md §6, §6.1): their
/// options, read and checked in one place, and x.
public struct ScaledPreference {
    public let beta: Float
    public let divergence: FDivergence

    /// `beta` (the zoo's, unless a loss words its help), the loss's own `extra` options, then
    /// the f-divergence's, in the descriptor's order.
    public static func options(beta: LossOption<Float> = LossOptions.beta(), _ extra: [any DeclaredOption] = []) -> [any DeclaredOption] {
        [beta] + extra + FDivergence.options
    }

    /// `beta` is the option the loss declares (its help may differ; its rule is the zoo's).
    public init(_ host: Host, beta: LossOption<Float> = LossOptions.beta()) throws {
        self.beta = try beta.read(host)
        divergence = try FDivergence(host)
    }

    /// `[B]` `x = beta * h`, h the difference of the f-divergence's scores.
    public func logits(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        try host.scale(try divergence.logits(host, logps), beta)
    }
}

/// A loss of `x = beta * h` with one float option of its own (robust's and exo_pair's eps,
/// discopop's tau): its name, summary, that option and its formula; `ScaledFormulaLoss`
/// registers it with beta and the f-divergence.
public protocol ScaledFormula {
    static var name: String { get }
    /// What `dpohost plugins info` shows.
    static var summary: String { get }
    /// The loss's own option, declared between beta and the f-divergence's.
    static var parameter: LossOption<Float> { get }
    /// `[B]` per-example losses of x, given the parameter's value.
    static func losses(_ host: Host, _ x: dph_tensor, _ parameter: Float) throws -> dph_tensor
}

/// The registered loss of a `ScaledFormula`: `LossExport.initialize(desc, as: ScaledFormulaLoss<F>.self)`.
public final class ScaledFormulaLoss<F: ScaledFormula>: PairwiseLoss, RegisteredLoss {
    public let preference: ScaledPreference
    public let parameter: Float
    public var beta: Float { preference.beta }

    public static var plugin: LossDescription {
        LossDescription(name: F.name, summary: F.summary, options: ScaledPreference.options([F.parameter]))
    }

    public init(_ host: Host) throws {
        preference = try ScaledPreference(host)
        parameter = try F.parameter.read(host)
    }

    public func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        try F.losses(host, try preference.logits(host, logps), parameter)
    }
}
