import DPHLossKit
import DPOHostSDK

// `tdpo`: token-level DPO (TDPO1 / TDPO2) of the TDPO reference; needs both models' full logits.

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "tdpo", version: "1.0.0",
                           summary: "Token-level DPO (TDPO1, or TDPO2 with if_tdpo2): DPO margin minus the "
                               + "sequential KL(reference || policy), as in the TDPO reference",
                           options: TDPOLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try TDPOLoss($0) }
    }
    // The KL is read only where the response mask is 1, so the host may skip the other positions.
    // The TDPO reference's data order (31-bit permutation seeds) comes with its loss.
    let needs = UInt32(DPH_LOSS_NEEDS_TOKEN) | UInt32(DPH_LOSS_NEEDS_LOGITS) | UInt32(DPH_LOSS_LOGITS_SCORED_ONLY)
        | UInt32(DPH_LOSS_DATA_ORDER_31_BIT_SEEDS)
    desc?.pointee.loss = PluginDescription.lossVTable(needs: needs) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: TDPOLoss.self) { host, loss, inputs in
            try loss.compute(host, inputs)
        }
    }
    return Int32(DPH_OK)
}
