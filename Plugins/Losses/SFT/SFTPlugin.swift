import DPHLossKit
import DPOHostSDK

// `sft`: l_i = -S_policy(chosen_i), the SUMMED negative log-likelihood of sequence i's response
// tokens, averaged over sequences (losses.md 1, trap 2) -- not a token-mean cross-entropy.
// token_mean=true is TRL's `sft` loss type (losses.md 6): the NLL of every chosen response token
// of the batch divided by their count, one scalar reported for every pair.
// The host runs only the chosen rows (the SFT targets); no reference model is needed.

/// The `sft` plugin's settings.
final class SFTLoss {
    let averageLogProb: Bool
    let tokenMean: Bool

    static var options: [PluginDescription.Option] { [
        .init("average_log_prob", DPH_OPTION_BOOL, default: "false",
              help: "divide each sequence's NLL by its response length (the DPO reference sums)"),
        .init("token_mean", DPH_OPTION_BOOL, default: "false",
              help: "TRL's sft: the NLL of all chosen response tokens of the batch over their count"),
    ] }

    init(_ host: Host) throws {
        let rules = OptionRules(host)
        averageLogProb = try rules.flag("average_log_prob")
        tokenMean = try rules.flag("token_mean")
        if averageLogProb && tokenMean {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "options 'average_log_prob' and 'token_mean' exclude each other")
        }
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        var logps = try host.require(inputs.policy_chosen_logps, "policy_chosen_logps", for: "for the SFT likelihood")
        try host.emitMetric(MetricKey.logpsChosen, try host.detach(logps))
        if tokenMean { return try self.tokenMean(host, logps, inputs) }
        if averageLogProb {
            let lengths = try host.require(inputs.chosen_lengths, "chosen_lengths", for: "by average_log_prob")
            logps = try LengthAverage(host, lengths: lengths, what: "SFT").apply(logps)
        }
        let losses = try host.neg(logps)
        try host.emitMetric(MetricKey.loss, try host.detach(losses))
        return try PreferenceLoss.batchMean(host, losses)
    }

    /// `-sum_i pc_i / sum_i lc_i`, written as the batch mean of `-pc` times `B / sum_i lc_i`.
    func tokenMean(_ host: Host, _ logps: dph_tensor, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let lengths = try host.floats(try host.require(inputs.chosen_lengths, "chosen_lengths", for: "by token_mean"))
        let tokens = lengths.reduce(0, +)
        let loss = try host.scale(try host.mean(try host.neg(logps)), Float(lengths.count) / max(tokens, 1))
        try host.emitMetric(MetricKey.loss, try host.tensor([Float](repeating: try host.floats(loss)[0], count: lengths.count),
                                                           shape: [lengths.count]))
        return loss
    }
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { UInt32(DPH_ABI_VERSION) }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_ host: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                          _ desc: UnsafeMutablePointer<dph_plugin_desc>?) -> dph_status {
    PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: "sft", version: "1.0.0",
                           summary: "Supervised fine-tuning: mean over sequences of the summed response NLL "
                               + "(DPO reference; not token-mean cross-entropy)",
                           options: SFTLoss.options)
    PluginDescription.setInstanceState(desc) { api, ctx, out in
        LossEntry.create(api, ctx, out) { try SFTLoss($0) }
    }
    desc?.pointee.loss = PluginDescription.lossVTable(needs: UInt32(DPH_LOSS_NEEDS_SEQUENCE) | UInt32(DPH_LOSS_REFERENCE_FREE)) { api, ctx, state, inputs, out in
        LossEntry.compute(api, ctx, state, inputs, out, as: SFTLoss.self) { host, loss, inputs in
            try loss.compute(host, inputs)
        }
    }
    return Int32(DPH_OK)
}
