import DPHLossKit
import DPOHostSDK

// `apo_zero` (APO, docs/spec/losses.md §6): raise the chosen likelihood, lower the rejected one,
// l = (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl). TRL and EasyDeL agree.

/// The `apo_zero` plugin's formula.
enum APOZero: BetaFormula {
    static let name = "apo_zero"
    static let summary = "APO-zero: (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl), Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL"

    static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor {
        // 1 - sigmoid(x) = sigmoid(-x), without the cancellation near x >> 0.
        let chosen = try host.sigmoid(try host.scale(try logps.chosenLogRatio(host), -beta))
        let rejected = try host.sigmoid(try host.scale(try logps.rejectedLogRatio(host), beta))
        return try host.add(chosen, rejected)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BetaFormulaLoss<APOZero>.self)
}
