import DPOHostSDK

/// The smoothed logistic `-(1-eps) logsig(beta*d) - eps logsig(-beta*d)` of the AOT losses
/// (`aot`, `aot_pair`, docs/spec/losses.md §6) on the difference d of two batch-sorted terms:
/// their options, declared and read in one place.
public struct SmoothedLogistic {
    public let beta: Float
    public let labelSmoothing: Float

    static let beta = LossOptions.beta()
    static let labelSmoothing = LossOptions.labelSmoothing(help: "eps of the smoothed logistic on the sorted differences, in [0, 0.5)")
    public static var options: [any DeclaredOption] { [beta, labelSmoothing] }

    public init(_ host: Host) throws {
        beta = try Self.beta.read(host)
        labelSmoothing = try Self.labelSmoothing.read(host)
    }

    /// `[B]` per-example losses of d.
    public func losses(_ host: Host, _ d: dph_tensor) throws -> dph_tensor {
        try PreferenceLoss.sigmoid(host, logits: d, beta: beta, labelSmoothing: labelSmoothing)
    }
}

/// An AOT loss's two `[B]` terms: `d = sort(first) - sort(second)` over the batch, then the
/// smoothed logistic. A conformer is its name, summary and terms; `SortedDifferenceLoss`
/// registers it.
public protocol SortedDifference {
    static var name: String { get }
    /// What `dpohost plugins info` shows.
    static var summary: String { get }
    /// The two terms whose batch-sorted difference is d.
    static func terms(_ host: Host, _ logps: SequenceLogps) throws -> (first: dph_tensor, second: dph_tensor)
}

/// The registered loss of a `SortedDifference`: `LossExport.initialize(desc, as: SortedDifferenceLoss<D>.self)`.
public final class SortedDifferenceLoss<D: SortedDifference>: PairwiseLoss, RegisteredLoss {
    public let logistic: SmoothedLogistic
    public var beta: Float { logistic.beta }

    public static var plugin: LossDescription { LossDescription(name: D.name, summary: D.summary, options: SmoothedLogistic.options) }

    public init(_ host: Host) throws { logistic = try SmoothedLogistic(host) }

    public func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let t = try D.terms(host, logps)
        let d = try host.sub(try BatchSort.ascending(host, t.first), try BatchSort.ascending(host, t.second))
        return try logistic.losses(host, d)
    }
}
