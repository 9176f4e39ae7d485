import DPHLossKit
import DPOHostSDK

// `apo_down` (APO, docs/spec/losses.md §6): lower the chosen likelihood but keep the preference,
// l = sigmoid(beta*Dw) + (1 - sigmoid(beta*h)). TRL and EasyDeL agree.

/// The `apo_down` plugin's settings and formula.
final class APODownLoss: PairwiseLoss {
    let beta: Float

    static var options: [PluginDescription.Option] { [LossOptions.beta()] }

    init(_ host: Host) throws { beta = try OptionRules(host).positive("beta") }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let chosen = try host.sigmoid(try host.scale(try logps.chosenLogRatio(host), beta))
        // 1 - sigmoid(x) = sigmoid(-x).
        let preference = try host.sigmoid(try host.scale(try logps.preferenceLogits(host, referenceFree: false), -beta))
        return try host.add(chosen, preference)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "apo_down", version: "1.0.0",
                           summary: "APO-down: sigmoid(beta*Dw) + (1 - sigmoid(beta*h)), Dw = pc-qc, h = (pc-pr) - (qc-qr), as in TRL and EasyDeL",
                           options: APODownLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try APODownLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: APODownLoss.self)
    }
    return Int32(DPH_OK)
}
