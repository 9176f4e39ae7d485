import DPHLossKit
import DPOHostSDK

// `apo_zero` (APO, docs/spec/losses.md §6): raise the chosen likelihood, lower the rejected one,
// l = (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl). TRL and EasyDeL agree.

/// The `apo_zero` plugin's formula.
enum APOZero: SeparableFormula {
    static let name = "apo_zero"
    static let summary = "APO-zero: (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl), Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL"

    /// 1 - sigmoid(beta*Dw) as sigmoid(-beta*Dw), without the cancellation near beta*Dw >> 0.
    static func chosen(_ host: Host, _ dw: dph_tensor, beta: Float) throws -> dph_tensor { try host.sigmoid(try host.scale(dw, -beta)) }

    static func rejected(_ host: Host, _ dl: dph_tensor, beta: Float) throws -> dph_tensor { try host.sigmoid(try host.scale(dl, beta)) }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BetaFormulaLoss<APOZero>.self)
}
