import DPHLossKit
import DPOHostSDK

// `cdpo`: conservative DPO, -(1-eps) logsig(beta*h) - eps logsig(-beta*h) (docs/spec/losses.md §2.2). The
// same loss as `dpo`, published on its own so `loss=cdpo` works with the usual eps of 0.2.

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "cdpo", version: "1.0.0",
                           summary: "Conservative DPO: -(1-eps)*logsig(beta*h) - eps*logsig(-beta*h), "
                               + "eps = label_smoothing (default 0.2)",
                           options: DPOLoss.options(labelSmoothingDefault: "0.2"))
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try DPOLoss($0) }
    }
    desc?.pointee.loss = DPOLoss.vtable()
    return Int32(DPH_OK)
}
