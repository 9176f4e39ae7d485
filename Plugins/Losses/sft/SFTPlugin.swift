import DPHLossKit
import DPOHostSDK

// `sft`: l_i = -S_policy(chosen_i), the SUMMED negative log-likelihood of sequence i's response
// tokens, averaged over sequences (docs/spec/losses.md §1) -- not a token-mean cross-entropy.
// token_mean=true is TRL's `sft` loss type (docs/spec/losses.md §1, §6.1): the NLL of every chosen response token
// of the batch divided by their count, one scalar reported for every pair.
// The host runs only the chosen rows (the SFT targets); no reference model is needed.

/// The `sft` plugin's settings.
final class SFTLoss: RegisteredLoss, VaryingNeeds {
    static let averageLogProb = LossOptions.averageLogProb(help: "divide each sequence's NLL by its response length (the DPO reference sums)")
    static let tokenMean = LossOption<Bool>.flag("token_mean",
        help: "TRL's sft: the NLL of all chosen response tokens of the batch over their count")

    /// Reads the chosen rows (the SFT targets) only, and no reference model.
    static let plugin = LossDescription(
        name: "sft",
        summary: "Supervised fine-tuning: mean over sequences of the summed response NLL "
            + "(DPO reference; not token-mean cross-entropy)",
        options: [averageLogProb, tokenMean],
        needs: LossNeeds.sequence | UInt32(DPH_LOSS_REFERENCE_FREE) | UInt32(DPH_LOSS_CHOSEN_ONLY))

    let averageLogProb: Bool
    let tokenMean: Bool

    init(_ host: Host) throws {
        averageLogProb = try Self.averageLogProb.read(host)
        tokenMean = try Self.tokenMean.read(host)
        if averageLogProb && tokenMean {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "options 'average_log_prob' and 'token_mean' exclude each other")
        }
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        var logps = try host.require(inputs.policy_chosen_logps, "policy_chosen_logps", for: "for the SFT likelihood")
        try host.emitMetric(MetricKey.logpsChosen, try host.detach(logps))
        if tokenMean { return try tokenMeanLoss(host, inputs) }
        if averageLogProb {
            let lengths = try host.require(inputs.chosen_lengths, "chosen_lengths", for: "by average_log_prob")
            logps = try LengthAverage(host, lengths: lengths, what: "SFT").apply(logps)
        }
        let losses = try host.neg(logps)
        try host.emitMetric(MetricKey.loss, try host.detach(losses))
        return try PreferenceLoss.batchMean(host, losses, inputs)
    }

    /// TRL's: the token-mean NLL of the chosen responses' tokens (unweighted by ld_alpha, as in
    /// TRL), reported for every sequence.
    func tokenMeanLoss(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let loss = try ChosenTokenNLL.compute(host, inputs)
        try PreferenceMetrics(host).repeated(MetricKey.loss, loss, count: Int(inputs.batch_pairs))
        // The scalar stands for every example, so pair weights scale it by their mean (as TRL).
        return try PreferenceLoss.batchMean(host, loss, inputs)
    }

    /// Token inputs only when token_mean reads them.
    func needs(declared: UInt32) -> UInt32 { declared | (tokenMean ? UInt32(DPH_LOSS_NEEDS_TOKEN) : 0) }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: SFTLoss.self)
}
