import DPHLossKit
import DPOHostSDK

// `aot_pair` (TRL <= 0.27 and EasyDeL; `aot_unpaired` in TRL HEAD, docs/spec/losses.md §6): sort
// Dw = pc - qc and Dl = pr - qr over the batch independently, d = sort(Dw) - sort(Dl), then the
// smoothed logistic -(1-eps) logsig(beta*d) - eps logsig(-beta*d).

/// The `aot_pair` plugin's terms.
enum AOTPair: SortedDifference {
    static let name = "aot_pair"
    static let summary = "AOT (unpaired; TRL HEAD aot_unpaired): d = sort(Dw) - sort(Dl) over the batch, -(1-eps)*logsig(beta*d) - eps*logsig(-beta*d)"

    /// Dw = pc - qc and Dl = pr - qr.
    static func terms(_ host: Host, _ logps: SequenceLogps) throws -> (first: dph_tensor, second: dph_tensor) {
        (try logps.chosenLogRatio(host), try logps.rejectedLogRatio(host))
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: SortedDifferenceLoss<AOTPair>.self)
}
