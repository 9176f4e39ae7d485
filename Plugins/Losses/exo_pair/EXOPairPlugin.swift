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

/// The `exo_pair` plugin's settings and formula.
final class EXOPairLoss: PairwiseLoss, RegisteredLoss {
    let preference: ScaledPreference
    let labelSmoothing: Float
    var beta: Float { preference.beta }

    static let plugin = LossDescription(
        name: "exo_pair",
        summary: "EXO (pairwise): s*(logsig(beta*h) - log(1-eps)) + (1-s)*(logsig(-beta*h) - log(eps)), s = sigmoid(beta*h); eps = label_smoothing (default 1e-3, TRL<=0.27)",
        options: ScaledPreference.options([
            LossOptions.labelSmoothing(default: "0.001",
                                       help: "eps in (0, 0.5); 0 is refused (log 0); default 1e-3 is what TRL<=0.27 uses for 0"),
        ]))

    init(_ host: Host) throws {
        preference = try ScaledPreference(host)
        labelSmoothing = try OptionRules(host).open("label_smoothing", 0, 0.5)
    }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let x = try preference.logits(host, logps)
        let minusX = try host.neg(x)
        let agree = try host.mul(try host.sigmoid(x), try host.addScalar(try host.logSigmoid(x), -Float(log1p(-Double(labelSmoothing)))))
        let flipped = try host.mul(try host.sigmoid(minusX),
                                   try host.addScalar(try host.logSigmoid(minusX), -Float(log(Double(labelSmoothing)))))
        return try host.add(agree, flipped)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: EXOPairLoss.self)
}
