import DPOHostSDK

/// The sequence-level inputs of a preference loss (docs/spec/losses.md §0.3): policy `pc, pr` (with
/// gradient) and reference `qc, qr`, each `[B]`, optionally length-averaged.
public struct SequenceLogps {
    public let policyChosen, policyRejected: dph_tensor
    public let referenceChosen, referenceRejected: dph_tensor

    /// Reads the four log-probs the host summed over response tokens; with `averaged`, each is
    /// divided by its sequence's response length (policy and reference alike). With
    /// `zeroReference` the reference log-probs are 0 (an instance that runs no reference model).
    public init(_ host: Host, _ inputs: dph_loss_inputs, averaged: Bool, zeroReference: Bool = false) throws {
        let need = "for the preference log-ratios"
        var pc = try host.require(inputs.policy_chosen_logps, "policy_chosen_logps", for: need)
        var pr = try host.require(inputs.policy_rejected_logps, "policy_rejected_logps", for: need)
        let zeros = { try host.tensor([Float](repeating: 0, count: Int(inputs.batch_pairs)), shape: [Int(inputs.batch_pairs)]) }
        var qc = zeroReference ? try zeros() : try host.require(inputs.reference_chosen_logps, "reference_chosen_logps",
                                                                 for: "for the rewards (run a reference model)")
        var qr = zeroReference ? try zeros() : try host.require(inputs.reference_rejected_logps, "reference_rejected_logps",
                                                                 for: "for the rewards (run a reference model)")
        if averaged {
            let chosen = try LengthAverage(host, lengths: try host.require(inputs.chosen_lengths, "chosen_lengths",
                                                                           for: "by average_log_prob"), what: "chosen")
            let rejected = try LengthAverage(host, lengths: try host.require(inputs.rejected_lengths, "rejected_lengths",
                                                                             for: "by average_log_prob"), what: "rejected")
            (pc, qc) = (try chosen.apply(pc), try chosen.apply(qc))
            (pr, qr) = (try rejected.apply(pr), try rejected.apply(qr))
        }
        (policyChosen, policyRejected, referenceChosen, referenceRejected) = (pc, pr, qc, qr)
    }

    /// `h = (pc - pr) - (qc - qr)`, the reference's "logits"; with `referenceFree` the reference
    /// log-ratio is 0 (an implicit uniform reference).
    public func preferenceLogits(_ host: Host, referenceFree: Bool) throws -> dph_tensor {
        let policyRatio = try host.sub(policyChosen, policyRejected)
        if referenceFree { return policyRatio }
        return try host.sub(policyRatio, try host.sub(referenceChosen, referenceRejected))
    }

    /// `Dw = pc - qc`, the chosen log-ratio of policy to reference (docs/spec/losses.md §0.3).
    public func chosenLogRatio(_ host: Host) throws -> dph_tensor { try host.sub(policyChosen, referenceChosen) }

    /// `Dl = pr - qr`, the rejected log-ratio.
    public func rejectedLogRatio(_ host: Host) throws -> dph_tensor { try host.sub(policyRejected, referenceRejected) }

    /// DPO rewards `beta * (pc - qc)` and `beta * (pr - qr)` (docs/spec/losses.md §2.5), detached; they use
    /// the reference even for reference-free losses.
    public func rewards(_ host: Host, beta: Float) throws -> (chosen: dph_tensor, rejected: dph_tensor) {
        (try host.detach(try host.scale(try host.sub(policyChosen, referenceChosen), beta)),
         try host.detach(try host.scale(try host.sub(policyRejected, referenceRejected), beta)))
    }
}
