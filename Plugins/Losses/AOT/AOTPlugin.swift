import DPHLossKit
import DPOHostSDK

// `aot` (AOT, docs/spec/losses.md §6): sort the policy log-ratios pc - pr over the batch and, separately,
// the reference ones qc - qr; d = sorted_policy - sorted_reference, then the smoothed logistic
// -(1-eps) logsig(beta*d) - eps logsig(-beta*d). Batch-level: example k of the loss is the
// k-th smallest, not pair k. TRL and EasyDeL agree.

/// The `aot` plugin's settings and formula.
final class AOTLoss: PairwiseLoss {
    let beta: Float
    let labelSmoothing: Float

    static var options: [PluginDescription.Option] { [
        LossOptions.beta(),
        LossOptions.labelSmoothing(help: "eps of the smoothed logistic on the sorted differences, in [0, 0.5)"),
    ] }

    init(_ host: Host) throws {
        let rules = OptionRules(host)
        beta = try rules.positive("beta")
        labelSmoothing = try rules.halfOpen("label_smoothing", 0, 0.5)
    }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let policy = try BatchSort.ascending(host, try host.sub(logps.policyChosen, logps.policyRejected))
        let reference = try BatchSort.ascending(host, try host.sub(logps.referenceChosen, logps.referenceRejected))
        return try PreferenceLoss.sigmoid(host, logits: try host.sub(policy, reference), beta: beta, labelSmoothing: labelSmoothing)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "aot", version: "1.0.0",
                           summary: "AOT: d = sort(pc-pr) - sort(qc-qr) over the batch, -(1-eps)*logsig(beta*d) - eps*logsig(-beta*d), as in TRL and EasyDeL",
                           options: AOTLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try AOTLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: AOTLoss.self)
    }
    return Int32(DPH_OK)
}
