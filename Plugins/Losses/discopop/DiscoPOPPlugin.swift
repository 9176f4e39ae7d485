import DPHLossKit
import DPOHostSDK

// `discopop` (DiscoPOP, docs/spec/losses.md §6): x = beta*h, w = sigmoid(x/tau),
// l = (1-w)*(-logsig(x)) + w*exp(-x). TRL's `discopop_tau` defaults to 0.05, which we follow;
// EasyDeL hard-codes tau = 1 (pass tau=1 for its numbers).

/// The `discopop` plugin's formula.
enum DiscoPOP: ScaledFormula {
    static let name = "discopop"
    static let summary = "DiscoPOP: x = beta*h, w = sigmoid(x/tau), (1-w)*(-logsig(x)) + w*exp(-x); tau default 0.05 as in TRL (EasyDeL: 1)"
    static let parameter = LossOption<Float>.positive("tau", default: "0.05",
        help: "temperature of the logistic/exponential mix w = sigmoid(beta*h/tau), > 0 (TRL 0.05; EasyDeL uses 1)")

    static func losses(_ host: Host, _ x: dph_tensor, _ tau: Float) throws -> dph_tensor {
        let modulation = try host.scale(x, 1 / tau)
        let logistic = try host.mul(try host.sigmoid(try host.neg(modulation)), try host.neg(try host.logSigmoid(x)))
        // w*exp(-x) as exp(log w - x): where w underflows to 0, exp(-x) may overflow and 0*inf
        // would be NaN; the product itself is tiny there.
        let exponential = try host.unary(DPH_UNARY_EXP, try host.sub(try host.logSigmoid(modulation), x))
        return try host.add(logistic, exponential)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: ScaledFormulaLoss<DiscoPOP>.self)
}
