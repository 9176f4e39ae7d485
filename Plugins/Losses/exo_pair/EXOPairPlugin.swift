import DPHLossKit
import DPOHostSDK
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// `exo_pair` (EXO, docs/spec/losses.md §6): with s = sigmoid(beta*h),
// l = s*(logsig(beta*h) - log(1-eps)) + (1-s)*(logsig(-beta*h) - log(eps)).
// eps = 0 has no log: TRL <= 0.27 silently uses 1e-3, EasyDeL max(eps, 1e-3), TRL HEAD refuses
// it. We refuse it too but default to 1e-3, so leaving it unset gives TRL <= 0.27's numbers;
// a value below 1e-3 is used as given (TRL, not EasyDeL's clamp).

/// The `exo_pair` plugin's formula.
enum EXOPair: ScaledFormula {
    static let name = "exo_pair"
    static let summary = "EXO (pairwise): s*(logsig(beta*h) - log(1-eps)) + (1-s)*(logsig(-beta*h) - log(eps)), s = sigmoid(beta*h); eps = label_smoothing (default 1e-3, TRL<=0.27)"
    /// label_smoothing, but in (0, 0.5): its log is taken.
    static let parameter = LossOption<Float>.open("label_smoothing", 0, 0.5, default: "0.001",
        help: "eps in (0, 0.5); 0 is refused (log 0); default 1e-3 is what TRL<=0.27 uses for 0")

    static func losses(_ host: Host, _ x: dph_tensor, _ eps: Float) throws -> dph_tensor {
        let minusX = try host.neg(x)
        let agree = try host.mul(try host.sigmoid(x), try host.addScalar(try host.logSigmoid(x), -Float(log1p(-Double(eps)))))
        let flipped = try host.mul(try host.sigmoid(minusX), try host.addScalar(try host.logSigmoid(minusX), -Float(log(Double(eps)))))
        return try host.add(agree, flipped)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: ScaledFormulaLoss<EXOPair>.self)
}
