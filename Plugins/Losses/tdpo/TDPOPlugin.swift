import DPHLossKit
import DPOHostSDK

// `tdpo`: token-level DPO (TDPO1 / TDPO2) of the TDPO reference; needs both models' full logits.

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: TDPOLoss.self)
}
