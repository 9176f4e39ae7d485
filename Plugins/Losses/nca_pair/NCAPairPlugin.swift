import DPHLossKit
import DPOHostSDK

// `nca_pair` (NCA, docs/spec/losses.md §6): with Dw = pc - qc, Dl = pr - qr,
// l = -logsig(beta*Dw) - 0.5*logsig(-beta*Dw) - 0.5*logsig(-beta*Dl). TRL and EasyDeL agree.

/// The `nca_pair` plugin's formula.
enum NCAPair: BetaFormula {
    static let name = "nca_pair"
    static let summary = "NCA (pairwise): -logsig(beta*Dw) - 0.5*logsig(-beta*Dw) - 0.5*logsig(-beta*Dl), Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL"

    static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor {
        let chosen = try host.scale(try logps.chosenLogRatio(host), beta)
        let rejected = try host.scale(try logps.rejectedLogRatio(host), beta)
        let pull = try host.neg(try host.logSigmoid(chosen))
        let push = try host.add(try host.logSigmoid(try host.neg(chosen)), try host.logSigmoid(try host.neg(rejected)))
        return try host.sub(pull, try host.scale(push, 0.5))
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BetaFormulaLoss<NCAPair>.self)
}
