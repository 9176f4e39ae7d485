import DPHLossKit
import DPOHostSDK

// `sppo_hard` (SPPO with hard win probabilities 1 and 0, docs/spec/losses.md §6):
// l = (Dw - 1/(2 beta))^2 + (Dl + 1/(2 beta))^2. TRL and EasyDeL agree.

/// The `sppo_hard` plugin's settings and formula.
final class SPPOHardLoss: PairwiseLoss {
    let beta: Float

    static var options: [PluginDescription.Option] { [
        LossOptions.beta(help: "regularisation: targets Dw = +1/(2*beta), Dl = -1/(2*beta), > 0 (TRL/EasyDeL default 0.1)"),
    ] }

    init(_ host: Host) throws { beta = try OptionRules(host).positive("beta") }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let target = 1 / (2 * beta)
        let chosen = try host.square(try host.addScalar(try logps.chosenLogRatio(host), -target))
        let rejected = try host.square(try host.addScalar(try logps.rejectedLogRatio(host), target))
        return try host.add(chosen, rejected)
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "sppo_hard", version: "1.0.0",
                           summary: "SPPO (hard): (Dw - 1/(2*beta))^2 + (Dl + 1/(2*beta))^2, Dw = pc-qc, Dl = pr-qr, as in TRL and EasyDeL",
                           options: SPPOHardLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try SPPOHardLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: LossNeeds.sequence) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: SPPOHardLoss.self)
    }
    return Int32(DPH_OK)
}
