import DPHLossKit
import DPOHostSDK

// `hinge` (SLiC, docs/spec/losses.md §6): l = max(0, 1 - beta*h), h = (pc - pr) - (qc - qr). TRL and
// EasyDeL agree.

/// The `hinge` plugin's settings and formula.
final class HingeLoss: PairwiseLoss, RegisteredLoss {
    let beta: Float
    let divergence: FDivergence

    static let plugin = LossDescription(
        name: "hinge",
        summary: "SLiC hinge loss max(0, 1 - beta*h), h = (pc-pr) - (qc-qr), as in TRL and EasyDeL",
        options: [
            LossOptions.beta(help: "inverse margin: the loss is 0 once h >= 1/beta, > 0 (TRL/EasyDeL default 0.1)"),
        ] + FDivergence.options)

    init(_ host: Host) throws {
        beta = try OptionRules(host).positive("beta")
        divergence = try FDivergence(host)
    }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let h = try divergence.logits(host, logps)
        return try host.relu(try host.addScalar(try host.scale(h, -beta), 1))
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: HingeLoss.self)
}
