import DPHLossKit
import DPOHostSDK

// `cdpo`: conservative DPO, -(1-eps) logsig(beta*h) - eps logsig(-beta*h) (docs/spec/losses.md §2.2). The
// same loss as `dpo`, published on its own so `loss=cdpo` works with the usual eps of 0.2.

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: DPOLoss.self, described: DPOLoss.plugin(
        name: "cdpo", summary: "Conservative DPO: -(1-eps)*logsig(beta*h) - eps*logsig(-beta*h), eps = label_smoothing (default 0.2)",
        labelSmoothingDefault: "0.2"))
}
