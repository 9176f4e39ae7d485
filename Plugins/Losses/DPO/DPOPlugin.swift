import DPHLossKit
import DPOHostSDK

// `dpo`: the DPO reference's sigmoid loss -logsig(beta*h), h = (pc - pr) - (qc - qr), with its
// label_smoothing (cDPO), reference_free and average_log_prob variants (docs/spec/losses.md §2).

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "dpo", version: "1.0.0",
                           summary: "DPO (sigmoid) loss -logsig(beta*((pc-pr)-(qc-qr))) as in the DPO reference; "
                               + "label_smoothing gives cDPO",
                           options: DPOLoss.options(labelSmoothingDefault: "0"))
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try DPOLoss($0) }
    }
    desc?.pointee.loss = DPOLoss.vtable()
    return Int32(DPH_OK)
}
