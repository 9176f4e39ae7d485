import DPHLossKit
import DPOHostSDK

// `hinge` (SLiC, docs/spec/losses.md §6): l = max(0, 1 - beta*h), h = (pc - pr) - (qc - qr). TRL and
// EasyDeL agree.

/// The `hinge` plugin's settings and formula.
final class HingeLoss: PairwiseLoss, RegisteredLoss {
    static let beta = LossOptions.beta(help: "inverse margin: the loss is 0 once h >= 1/beta, > 0 (TRL/EasyDeL default 0.1)")

    static let plugin = LossDescription(
        name: "hinge",
        summary: "SLiC hinge loss max(0, 1 - beta*h), h = (pc-pr) - (qc-qr), as in TRL and EasyDeL",
        options: ScaledPreference.options(beta: beta))

    let preference: ScaledPreference
    var beta: Float { preference.beta }

    init(_ host: Host) throws { preference = try ScaledPreference(host, beta: Self.beta) }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        try host.relu(try host.addScalar(try host.neg(try preference.logits(host, logps)), 1))
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: HingeLoss.self)
}
