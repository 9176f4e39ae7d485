import DPHLossKit
import DPOHostSDK

// `hinge` (SLiC, docs/spec/losses.md §6): l = max(0, 1 - beta*h), h = (pc - pr) - (qc - qr). TRL and
// EasyDeL agree.

/// The `hinge` plugin's settings and formula.
final class HingeLoss: PairwiseLoss {
    let beta: Float
    let divergence: FDivergence

    static var options: [PluginDescription.Option] { [
        LossOptions.beta(help: "inverse margin: the loss is 0 once h >= 1/beta, > 0 (TRL/EasyDeL default 0.1)"),
    ] + FDivergence.options }

    init(_ host: Host) throws {
        beta = try OptionRules(host).positive("beta")
        divergence = try FDivergence(host)
    }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let h = try divergence.logits(host, logps)
        return try host.relu(try host.addScalar(try host.scale(h, -beta), 1))
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "hinge", version: "1.0.0",
                           summary: "SLiC hinge loss max(0, 1 - beta*h), h = (pc-pr) - (qc-qr), as in TRL and EasyDeL",
                           options: HingeLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try HingeLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: HingeLoss.self)
    }
    return Int32(DPH_OK)
}
