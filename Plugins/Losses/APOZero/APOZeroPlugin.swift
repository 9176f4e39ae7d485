import DPHLossKit
import DPOHostSDK

// `apo_zero` (APO, docs/spec/losses.md §6): raise the chosen likelihood, lower the rejected one,
// l = (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl). TRL and EasyDeL agree.

/// The `apo_zero` plugin's settings and formula.
final class APOZeroLoss: PairwiseLoss {
    let beta: Float

    static var options: [PluginDescription.Option] { [LossOptions.beta()] }

    init(_ host: Host) throws { beta = try OptionRules(host).positive("beta") }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        // 1 - sigmoid(x) = sigmoid(-x), without the cancellation near x >> 0.
        let chosen = try host.sigmoid(try host.scale(try logps.chosenLogRatio(host), -beta))
        let rejected = try host.sigmoid(try host.scale(try logps.rejectedLogRatio(host), beta))
        return try host.add(chosen, rejected)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "apo_zero", version: "1.0.0",
                           summary: "APO-zero: (1 - sigmoid(beta*Dw)) + sigmoid(beta*Dl), Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL",
                           options: APOZeroLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try APOZeroLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: APOZeroLoss.self)
    }
    return Int32(DPH_OK)
}
