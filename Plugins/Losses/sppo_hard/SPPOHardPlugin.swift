import DPHLossKit
import DPOHostSDK

// `sppo_hard` (SPPO with hard win probabilities 1 and 0, docs/spec/losses.md §6):
// l = (Dw - 1/(2 beta))^2 + (Dl + 1/(2 beta))^2. TRL and EasyDeL agree.

/// The `sppo_hard` plugin's formula.
enum SPPOHard: SeparableFormula {
    static let name = "sppo_hard"
    static let summary = "SPPO (hard): (Dw - 1/(2*beta))^2 + (Dl + 1/(2*beta))^2, Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL"
    static let betaOption = LossOptions.beta(help: "regularisation: targets Dw = +1/(2*beta), Dl = -1/(2*beta), > 0 (TRL/EasyDeL default 0.1)")

    static func chosen(_ host: Host, _ dw: dph_tensor, beta: Float) throws -> dph_tensor { try host.square(try host.addScalar(dw, -target(beta))) }

    static func rejected(_ host: Host, _ dl: dph_tensor, beta: Float) throws -> dph_tensor { try host.square(try host.addScalar(dl, target(beta))) }

    /// The chosen log-ratio's target 1/(2 beta); the rejected one's is its negative.
    static func target(_ beta: Float) -> Float { 1 / (2 * beta) }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BetaFormulaLoss<SPPOHard>.self)
}
