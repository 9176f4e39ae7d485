import DPHLossKit
import DPOHostSDK

// `aot_pair` (TRL <= 0.27 and EasyDeL; `aot_unpaired` in TRL HEAD, docs/spec/losses.md §6): sort
// Dw = pc - qc and Dl = pr - qr over the batch independently, d = sort(Dw) - sort(Dl), then the
// smoothed logistic -(1-eps) logsig(beta*d) - eps logsig(-beta*d).

/// The `aot_pair` plugin's settings and formula.
final class AOTPairLoss: PairwiseLoss {
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
        let chosen = try BatchSort.ascending(host, try logps.chosenLogRatio(host))
        let rejected = try BatchSort.ascending(host, try logps.rejectedLogRatio(host))
        return try PreferenceLoss.sigmoid(host, logits: try host.sub(chosen, rejected), beta: beta, labelSmoothing: labelSmoothing)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "aot_pair", version: "1.0.0",
                           summary: "AOT (unpaired; TRL HEAD aot_unpaired): d = sort(Dw) - sort(Dl) over the batch, -(1-eps)*logsig(beta*d) - eps*logsig(-beta*d)",
                           options: AOTPairLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try AOTPairLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: AOTPairLoss.self)
    }
    return Int32(DPH_OK)
}
