import DPHLossKit
import DPOHostSDK

// `rpo` (RPO, TRL <= 0.27's `rpo_alpha`, docs/spec/losses.md §6, §6.1): the DPO loss of the `dpo` plugin plus
// alpha times the token-mean NLL of the policy over all chosen response tokens of the batch,
// l_i = dpo_i + alpha * NLL. TRL's ignore_index=0 quirk (token id 0 also dropped) is not
// reproduced: every response token counts. EasyDeL has the key but never applies it.

/// The `rpo` plugin's settings: the `dpo` plugin's, plus `alpha`.
final class RPOLoss: RegisteredLoss, VaryingNeeds {
    static let alpha = LossOption<Float>.nonNegative("alpha", default: "1.0",
        help: "weight of the token-mean NLL on the chosen responses, >= 0 (TRL rpo_alpha; the RPO paper uses 1)")

    static let plugin = LossDescription(
        name: "rpo",
        summary: "RPO: the dpo loss -logsig(beta*h) (options as dpo) + alpha * token-mean NLL of the "
            + "chosen responses of the batch, as TRL<=0.27's rpo_alpha",
        options: DPOLoss.options(labelSmoothingDefault: "0", betaDefault: "0.1") + [alpha],
        needs: LossNeeds.sequence | UInt32(DPH_LOSS_NEEDS_TOKEN))

    let dpo: DPOLoss
    let alpha: Float

    init(_ host: Host) throws {
        dpo = try DPOLoss(host)
        alpha = try Self.alpha.read(host)
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try dpo.logps(host, inputs)
        let nll = try ChosenTokenNLL.compute(host, inputs)
        // The scalar NLL term broadcasts onto every example, as TRL adds it.
        let losses = try host.add(try dpo.losses(host, logps, inputs), try host.scale(nll, alpha))
        let metrics = PreferenceMetrics(host)
        try metrics.dpo(logps, beta: dpo.beta, losses: losses)
        try metrics.repeated(MetricKey.nllLoss, nll, count: try host.shape(losses)[0])
        return try PreferenceLoss.batchMean(host, losses, inputs)
    }

    /// The `dpo` part's: no reference model when its rewards do not use one.
    func needs(declared: UInt32) -> UInt32 { dpo.needs(declared: declared) }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: RPOLoss.self)
}
