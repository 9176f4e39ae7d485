import DPHLossKit
import DPOHostSDK

// `robust` (rDPO, docs/spec/losses.md §6): the unbiased DPO estimate under label noise eps,
// l = [-(1-eps) logsig(beta*h) + eps logsig(-beta*h)] / (1 - 2 eps). TRL and EasyDeL agree.

/// The `robust` plugin's settings and formula.
final class RobustLoss: PairwiseLoss {
    let beta: Float
    let divergence: FDivergence
    let labelSmoothing: Float

    static var options: [PluginDescription.Option] { [
        LossOptions.beta(),
        LossOptions.labelSmoothing(help: "eps: assumed rate of flipped preference labels, in [0, 0.5); 0 is plain DPO"),
    ] + FDivergence.options }

    init(_ host: Host) throws {
        let rules = OptionRules(host)
        beta = try rules.positive("beta")
        divergence = try FDivergence(host)
        labelSmoothing = try rules.halfOpen("label_smoothing", 0, 0.5)
    }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let x = try host.scale(try divergence.logits(host, logps), beta)
        let eps = labelSmoothing
        let agree = try host.scale(try host.logSigmoid(x), -(1 - eps))
        let flipped = try host.scale(try host.logSigmoid(try host.neg(x)), eps)
        return try host.scale(try host.add(agree, flipped), 1 / (1 - 2 * eps))
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "robust", version: "1.0.0",
                           summary: "Robust DPO: [-(1-eps)*logsig(beta*h) + eps*logsig(-beta*h)] / (1-2*eps), eps = label_smoothing, as in TRL and EasyDeL",
                           options: RobustLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try RobustLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: RobustLoss.self)
    }
    return Int32(DPH_OK)
}
