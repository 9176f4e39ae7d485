import DPOHostSDK

/// The smoothed logistic `-(1-eps) logsig(beta*d) - eps logsig(-beta*d)` of the AOT losses
/// (`aot`, `aot_pair`, docs/spec/losses.md §6) on the difference d of two batch-sorted terms:
/// their options, read and checked in one place.
public struct SmoothedLogistic {
    public let beta: Float
    public let labelSmoothing: Float

    public static var options: [PluginDescription.Option] { [
        LossOptions.beta(),
        LossOptions.labelSmoothing(help: "eps of the smoothed logistic on the sorted differences, in [0, 0.5)"),
    ] }

    public init(_ host: Host) throws {
        let rules = OptionRules(host)
        beta = try rules.positive("beta")
        labelSmoothing = try rules.halfOpen("label_smoothing", 0, 0.5)
    }

    /// `[B]` per-example losses of d.
    public func losses(_ host: Host, _ d: dph_tensor) throws -> dph_tensor {
        try PreferenceLoss.sigmoid(host, logits: d, beta: beta, labelSmoothing: labelSmoothing)
    }
}

/// An AOT loss: `d = sort(first) - sort(second)` over the batch, then the smoothed logistic. A
/// conformer picks the two `[B]` terms; the sorting, the loss and `beta` are written here.
public protocol SortedDifferenceLoss: PairwiseLoss {
    var logistic: SmoothedLogistic { get }
    /// The two terms whose batch-sorted difference is d.
    func terms(_ host: Host, _ logps: SequenceLogps) throws -> (first: dph_tensor, second: dph_tensor)
}

extension SortedDifferenceLoss {
    public var beta: Float { logistic.beta }

    public func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let t = try terms(host, logps)
        let d = try host.sub(try BatchSort.ascending(host, t.first), try BatchSort.ascending(host, t.second))
        return try logistic.losses(host, d)
    }
}
