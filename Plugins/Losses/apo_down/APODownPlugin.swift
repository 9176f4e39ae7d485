import DPHLossKit
import DPOHostSDK

// `apo_down` (APO, docs/spec/losses.md §6): lower the chosen likelihood but keep the preference,
// l = sigmoid(beta*Dw) + (1 - sigmoid(beta*h)). TRL and EasyDeL agree.

/// The `apo_down` plugin's formula.
enum APODown: BetaFormula {
    static let name = "apo_down"
    static let summary = "APO-down: sigmoid(beta*Dw) + (1 - sigmoid(beta*h)), Dw = pc-qc, h = (pc-pr) - (qc-qr), as in TRL and EasyDeL"

    static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor {
        let chosen = try host.sigmoid(try host.scale(try logps.chosenLogRatio(host), beta))
        // 1 - sigmoid(x) = sigmoid(-x).
        let preference = try host.sigmoid(try host.scale(try logps.preferenceLogits(host, referenceFree: false), -beta))
        return try host.add(chosen, preference)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BetaFormulaLoss<APODown>.self)
}
