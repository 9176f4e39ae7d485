import DPHLossKit
import DPOHostSDK

// `aot` (AOT, docs/spec/losses.md §6): sort the policy log-ratios pc - pr over the batch and, separately,
// the reference ones qc - qr; d = sorted_policy - sorted_reference, then the smoothed logistic
// -(1-eps) logsig(beta*d) - eps logsig(-beta*d). Batch-level: example k of the loss is the
// k-th smallest, not pair k. TRL and EasyDeL agree.

/// The `aot` plugin's terms.
enum AOT: SortedDifference {
    static let name = "aot"
    static let summary = "AOT: d = sort(pc-pr) - sort(qc-qr) over the batch, -(1-eps)*logsig(beta*d) - eps*logsig(-beta*d), as in TRL and EasyDeL"

    /// The policy's log-ratios pc - pr and the reference's qc - qr.
    static func terms(_ host: Host, _ logps: SequenceLogps) throws -> (first: dph_tensor, second: dph_tensor) {
        (try host.sub(logps.policyChosen, logps.policyRejected), try host.sub(logps.referenceChosen, logps.referenceRejected))
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: SortedDifferenceLoss<AOT>.self)
}
