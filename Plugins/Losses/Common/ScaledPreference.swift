import DPOHostSDK

/// `beta` and the f-divergence of the losses built on the scaled preference logits
/// `x = beta * h` (hinge, robust, exo_pair, discopop; docs/spec/losses.md §6, §6.1): their
/// options, read and checked in one place, and x.
public struct ScaledPreference {
    public let beta: Float
    public let divergence: FDivergence

    /// `beta` (the zoo's, unless a loss words its help), the loss's own `extra` options, then
    /// the f-divergence's, in the descriptor's order.
    public static func options(beta: PluginDescription.Option = LossOptions.beta(),
                               _ extra: [PluginDescription.Option] = []) -> [PluginDescription.Option] {
        [beta] + extra + FDivergence.options
    }

    public init(_ host: Host) throws {
        beta = try OptionRules(host).positive("beta")
        divergence = try FDivergence(host)
    }

    /// `[B]` `x = beta * h`, h the difference of the f-divergence's scores.
    public func logits(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        try host.scale(try divergence.logits(host, logps), beta)
    }
}
