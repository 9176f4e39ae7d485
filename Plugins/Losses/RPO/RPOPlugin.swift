import DPHLossKit
import DPOHostSDK

// `rpo` (RPO, TRL <= 0.27's `rpo_alpha`, docs/spec/losses.md §6, §6.1): the DPO loss of the `dpo` plugin plus
// alpha times the token-mean NLL of the policy over all chosen response tokens of the batch,
// l_i = dpo_i + alpha * NLL. TRL's ignore_index=0 quirk (token id 0 also dropped) is not
// reproduced: every response token counts. EasyDeL has the key but never applies it.

/// The `rpo` plugin's settings: the `dpo` plugin's, plus `alpha`.
final class RPOLoss: LossComputing {
    let dpo: DPOLoss
    let alpha: Float

    static var options: [PluginDescription.Option] {
        DPOLoss.options(labelSmoothingDefault: "0", betaDefault: "0.1") + [
            .init("alpha", DPH_OPTION_FLOAT, default: "1.0",
                  help: "weight of the token-mean NLL on the chosen responses, >= 0 (TRL rpo_alpha; the RPO paper uses 1)"),
        ]
    }

    init(_ host: Host) throws {
        dpo = try DPOLoss(host)
        alpha = try OptionRules(host).nonNegative("alpha")
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try dpo.logps(host, inputs)
        let nll = try ChosenTokenNLL.compute(host, inputs)
        // The scalar NLL term broadcasts onto every example, as TRL adds it.
        let losses = try host.add(try dpo.losses(host, logps, inputs), try host.scale(nll, alpha))
        try PreferenceMetrics(host).dpo(logps, beta: dpo.beta, losses: losses)
        let value = try host.floats(nll)[0], pairs = try host.shape(losses)[0]
        try host.emitMetric(MetricKey.nllLoss, try host.tensor([Float](repeating: value, count: pairs), shape: [pairs]))
        return try PreferenceLoss.batchMean(host, losses, inputs)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "rpo", version: "1.0.0",
                           summary: "RPO: the dpo loss -logsig(beta*h) (options as dpo) + alpha * token-mean NLL of the "
                               + "chosen responses of the batch, as TRL<=0.27's rpo_alpha",
                           options: RPOLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try RPOLoss($0) }
    }
    let needs = LossNeeds.sequence | UInt32(DPH_LOSS_NEEDS_TOKEN)
    desc?.pointee.loss = PluginDescription.lossVTable(needs: needs, instanceNeeds: { api, ctx, state, out in
        LossEntry.instanceNeeds(api, ctx, state, out, as: RPOLoss.self) {
            $0.dpo.needs(base: LossNeeds.sequence | UInt32(DPH_LOSS_NEEDS_TOKEN))
        }
    }) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: RPOLoss.self)
    }
    return Int32(DPH_OK)
}
