import DPHLossKit
import DPOHostSDK

// `sppo_hard` (SPPO with hard win probabilities 1 and 0, docs/spec/losses.md §6):
// l = (Dw - 1/(2 beta))^2 + (Dl + 1/(2 beta))^2. TRL and EasyDeL agree.

/// The `sppo_hard` plugin's formula.
enum SPPOHard: BetaFormula {
    static let name = "sppo_hard"
    static let summary = "SPPO (hard): (Dw - 1/(2*beta))^2 + (Dl + 1/(2*beta))^2, Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL"
    static let betaOption = LossOptions.beta(help: "regularisation: targets Dw = +1/(2*beta), Dl = -1/(2*beta), > 0 (TRL/EasyDeL default 0.1)")

    static func losses(_ host: Host, _ logps: SequenceLogps, beta: Float) throws -> dph_tensor {
        let target = 1 / (2 * beta)
        let chosen = try host.square(try host.addScalar(try logps.chosenLogRatio(host), -target))
        let rejected = try host.square(try host.addScalar(try logps.rejectedLogRatio(host), target))
        return try host.add(chosen, rejected)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BetaFormulaLoss<SPPOHard>.self)
}
