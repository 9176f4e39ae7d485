import DPHLossKit
import DPOHostSDK

// `simpo` (SimPO, TRL's CPO trainer with loss_type=simpo and cpo_alpha=0, docs/spec/losses.md §6):
// reference-free and length-normalised. With ac = pc/lc, ar = pr/lr (policy log-probs averaged
// over response tokens), g = (ac - ar) - gamma/beta and
// l = -(1-eps) logsig(beta*g) - eps logsig(-beta*g). No reference model is read; rewards are
// TRL CPO's beta*ac and beta*ar, and the logged log-probs are the averaged ones.

/// The `simpo` plugin's settings and formula.
final class SimPOLoss: RegisteredLoss {
    static let beta = LossOptions.beta(help: "scale of the averaged log-prob reward, > 0 (TRL default 0.1; the SimPO paper uses 2 to 2.5)")
    static let gamma = LossOption<Float>.nonNegative("gamma", default: "0.5",
        help: "target reward margin; the log-prob gap must exceed gamma/beta, >= 0 (TRL simpo_gamma 0.5)")
    static let labelSmoothing = LossOptions.labelSmoothing(
        help: "assumed fraction of flipped preference labels, in [0, 0.5) (TRL CPO's label_smoothing)")

    static let plugin = LossDescription(
        name: "simpo",
        summary: "SimPO (reference-free): g = pc/lc - pr/lr - gamma/beta, -(1-eps)*logsig(beta*g) "
            + "- eps*logsig(-beta*g), as TRL's CPO trainer with loss_type=simpo",
        options: [beta, gamma, labelSmoothing],
        needs: LossNeeds.sequence | UInt32(DPH_LOSS_REFERENCE_FREE))

    let beta: Float
    let gamma: Float
    let labelSmoothing: Float

    init(_ host: Host) throws {
        beta = try Self.beta.read(host)
        gamma = try Self.gamma.read(host)
        labelSmoothing = try Self.labelSmoothing.read(host)
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let need = "for the length-averaged policy log-probs"
        let chosen = try LengthAverage(host, lengths: try host.require(inputs.chosen_lengths, "chosen_lengths", for: need), what: "chosen")
            .apply(try host.require(inputs.policy_chosen_logps, "policy_chosen_logps", for: need))
        let rejected = try LengthAverage(host, lengths: try host.require(inputs.rejected_lengths, "rejected_lengths", for: need),
                                         what: "rejected")
            .apply(try host.require(inputs.policy_rejected_logps, "policy_rejected_logps", for: need))
        let margin = try host.addScalar(try host.sub(chosen, rejected), -gamma / beta)
        let losses = try PreferenceLoss.sigmoid(host, logits: margin, beta: beta, labelSmoothing: labelSmoothing)

        let metrics = PreferenceMetrics(host)
        try metrics.rewards(chosen: try host.scale(chosen, beta), rejected: try host.scale(rejected, beta))
        try metrics.logpsAndLoss(chosen: chosen, rejected: rejected, losses: losses)
        return try PreferenceLoss.batchMean(host, losses, inputs)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: SimPOLoss.self)
}
