import DPHLossKit
import DPOHostSDK

// `robust` (rDPO, docs/spec/losses.md §6): the unbiased DPO estimate under label noise eps,
// l = [-(1-eps) logsig(beta*h) + eps logsig(-beta*h)] / (1 - 2 eps). TRL and EasyDeL agree.

/// The `robust` plugin's formula.
enum Robust: ScaledFormula {
    static let name = "robust"
    static let summary = "Robust DPO: [-(1-eps)*logsig(beta*h) + eps*logsig(-beta*h)] / (1-2*eps), eps = label_smoothing, as in TRL and EasyDeL"
    static let parameter = LossOptions.labelSmoothing(help: "eps: assumed rate of flipped preference labels, in [0, 0.5); 0 is plain DPO")

    static func losses(_ host: Host, _ x: dph_tensor, _ eps: Float) throws -> dph_tensor {
        let agree = try host.scale(try host.logSigmoid(x), -(1 - eps))
        let flipped = try host.scale(try host.logSigmoid(try host.neg(x)), eps)
        return try host.scale(try host.add(agree, flipped), 1 / (1 - 2 * eps))
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: ScaledFormulaLoss<Robust>.self)
}
