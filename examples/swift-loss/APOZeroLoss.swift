import DPOHostSDK

// APO-zero (docs/spec/losses.md §6; the built-in `apo_zero` is the full version), written in Swift against
// the same C ABI as a C plugin:  l = (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl),
// Dw = pc - qc, Dl = pr - qr; the batch loss is the mean of l.

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "apo_zero", version: "1.0.0",
                           summary: "APO-zero: (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl)",
                           options: [.init("beta", DPH_OPTION_FLOAT, default: "0.1", help: "temperature beta")])
    desc?.pointee.loss = PluginDescription.lossVTable(needs: UInt32(DPH_LOSS_NEEDS_SEQUENCE)) { api, ctx, _, inputs, out in
        Host(api, ctx).run { host in
            guard let i = inputs?.pointee, let out else { throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "missing inputs") }
            let beta = Float(try host.optionFloat("beta"))
            let dw = try host.sub(i.policy_chosen_logps, i.reference_chosen_logps)
            let dl = try host.sub(i.policy_rejected_logps, i.reference_rejected_logps)
            let chosenTerm = try host.addScalar(try host.scale(try host.sigmoid(try host.scale(dw, beta)), -1), 1)
            let rejectedTerm = try host.sigmoid(try host.scale(dl, beta))
            let losses = try host.add(chosenTerm, rejectedTerm)
            try host.emitMetric("rewards_{split}/chosen", try host.detach(try host.scale(dw, beta)))
            try host.emitMetric("rewards_{split}/rejected", try host.detach(try host.scale(dl, beta)))
            // The one metric name the host relies on: each example's loss (plugin.h, emit_metric).
            try host.emitMetric("loss/{split}", try host.detach(losses))
            out.pointee = try host.mean(losses)
        }
    }
    return Int32(DPH_OK)
}
