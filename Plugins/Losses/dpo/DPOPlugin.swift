import DPHLossKit
import DPOHostSDK

// `dpo`: the DPO reference's sigmoid loss -logsig(beta*h), h = (pc - pr) - (qc - qr), with its
// label_smoothing (cDPO), reference_free and average_log_prob variants (docs/spec/losses.md §2).

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: DPOLoss.self, described: DPOLoss.plugin(
        name: "dpo", summary: "DPO (sigmoid) loss -logsig(beta*((pc-pr)-(qc-qr))) as in the DPO reference; label_smoothing gives cDPO",
        labelSmoothingDefault: "0"))
}
