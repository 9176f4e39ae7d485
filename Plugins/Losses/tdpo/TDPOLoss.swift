import DPHLossKit
import DPOHostSDK

/// TDPO1 / TDPO2 of the TDPO reference (docs/spec/losses.md §3).
///
/// Per kept response position t (label y): `kl[t] = sum_v pR[v] (lpR[v] - lpP[v])`, the KL of
/// the REFERENCE from the policy, and `mg[t] = lpP[y] - lpR[y]`; per sequence `M = sum mg`,
/// `K = sum kl`. `u = (Mc - Mr) - (Kr - Kc)` (TDPO1) or `(Mc - Mr) - alpha (Kr - stopgrad(Kc))`
/// (TDPO2), `l = -logsig(beta u)`. The reference takes `log(softmax)`, which can give
/// `0 * -inf = NaN`; we use `log_softmax` (equal wherever the reference is finite) and warn
/// about positions where the reference softmax underflows to exactly 0.
final class TDPOLoss: RegisteredLoss {
    static let tdpo2 = LossOption<Bool>.flag("if_tdpo2",
        help: "TDPO2: alpha-weighted KL term with the chosen KL detached; false is TDPO1 (the YAML default)")
    static let alpha = LossOption<Float>.nonNegative("alpha", default: "0.5",
        help: "TDPO2 weight of the sequential KL difference, >= 0; unused by TDPO1")
    static let beta = LossOptions.beta(help: "temperature of the token-level reward, > 0")
    static let averageLogProb = LossOptions.averageLogProb(
        help: "divide margin, KL and log-prob sums by the response length (the reference sums)")
    // tdpo.yaml of the TDPO reference carries this key but never reads it; accepted as there,
    // and a run that sets it is told that it changes nothing.
    static let referenceFree = LossOptions.referenceFree(
        help: "in the TDPO reference's config but unused there; TDPO always uses the reference (true is accepted and reported as unused)")

    // The KL is read only where the response mask is 1, so the host may skip the other positions.
    // The TDPO reference's data order (31-bit permutation seeds) comes with its loss.
    // No DPH_LOSS_PAIR_WEIGHTS: the host gives tdpo no pair weights (batchMean is the plain mean)
    // and refuses use_weighting with it.
    static let plugin = LossDescription(
        name: "tdpo",
        summary: "Token-level DPO (TDPO1, or TDPO2 with if_tdpo2): DPO margin minus the "
            + "sequential KL(reference || policy), as in the TDPO reference",
        options: [tdpo2, alpha, beta, averageLogProb, referenceFree],
        needs: UInt32(DPH_LOSS_NEEDS_TOKEN) | UInt32(DPH_LOSS_NEEDS_LOGITS) | UInt32(DPH_LOSS_LOGITS_SCORED_ONLY)
            | UInt32(DPH_LOSS_DATA_ORDER_31_BIT_SEEDS))

    let tdpo2: Bool
    let alpha: Float
    let beta: Float
    let averageLogProb: Bool

    init(_ host: Host) throws {
        tdpo2 = try Self.tdpo2.read(host)
        alpha = try Self.alpha.read(host)
        beta = try Self.beta.read(host)
        averageLogProb = try Self.averageLogProb.read(host)
        if try Self.referenceFree.read(host) {
            host.log("reference_free=true is unused by TDPO, as in the TDPO reference: the reference model's token distributions are still used")
        }
        host.log(tdpo2 ? "TDPO2 (alpha \(alpha), beta \(beta))" : "TDPO1 (beta \(beta); alpha unused; if_tdpo2=true for TDPO2)")
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let t = try TokenTerms(host, inputs, averaged: averageLogProb)
        let (mc, mr) = try host.halves(t.margin)
        let (kc, kr) = try host.halves(t.sequentialKL)
        let (pc, pr) = try host.halves(t.policyLogps)

        let marginDiff = try host.sub(mc, mr)
        let u = tdpo2
            ? try host.sub(marginDiff, try host.scale(try host.sub(kr, try host.detach(kc)), alpha))
            : try host.sub(marginDiff, try host.sub(kr, kc))
        let losses = try host.neg(try host.logSigmoid(try host.scale(u, beta)))

        // TDPO rewards include the sequential KL (unlike DPO's).
        let metrics = PreferenceMetrics(host)
        try metrics.rewards(chosen: try host.scale(try host.add(mc, kc), beta),
                            rejected: try host.scale(try host.add(mr, kr), beta))
        try metrics.sequentialKL(chosen: kc, rejected: kr)
        try metrics.logpsAndLoss(chosen: pc, rejected: pr, losses: losses)
        return try PreferenceLoss.batchMean(host, losses, inputs)
    }
}

/// The per-sequence sums of TDPO over all 2B rows: margin `M`, sequential KL `K` and the plain
/// policy log-prob `P` (detached, for metrics).
struct TokenTerms {
    let margin, sequentialKL, policyLogps: dph_tensor

    init(_ host: Host, _ inputs: dph_loss_inputs, averaged: Bool) throws {
        let logits = "for the per-position KL"
        let policyLogits = try host.require(inputs.policy_logits, "policy_logits", for: logits)
        let referenceLogits = try host.require(inputs.reference_logits, "reference_logits", for: logits)
        let tokens = "for the token-level margin"
        let policyTokens = try host.require(inputs.policy_token_logps, "policy_token_logps", for: tokens)
        let referenceTokens = try host.require(inputs.reference_token_logps, "reference_token_logps", for: tokens)
        let mask = try host.require(inputs.response_mask, "response_mask", for: tokens)
        let shape = try host.shape(policyLogits)
        guard shape.count == 3, try host.shape(referenceLogits) == shape, try host.shape(mask) == [shape[0], shape[1] - 1] else {
            throw DPHError(Int32(DPH_ERR_SHAPE), "policy/reference logits must be [2B, T, V] and the mask [2B, T-1], got "
                           + "\(shape), \(try host.shape(referenceLogits)), \(try host.shape(mask))")
        }

        let perPosition: dph_tensor
        if let fused = try host.tokenKL(policy: policyLogits, reference: referenceLogits, mask: mask) {
            // One pass over the vocabulary per kept position, no [2B, T-1, V] arrays.
            perPosition = fused.kl
            Self.warnAboutUnderflow(host, count: fused.underflows)
        } else {
            // Hosts without token_kl: the same KL composed from host ops.
            // Logits at t score the label at t+1: drop the last position before the softmaxes.
            let scored = 0..<(shape[1] - 1)
            let policyLog = try host.logSoftmax(try host.slice(policyLogits, axis: 1, scored))
            let referenceScored = try host.slice(referenceLogits, axis: 1, scored)
            let referenceProbs = try host.softmax(referenceScored)
            let referenceLog = try host.logSoftmax(referenceScored)
            perPosition = try host.sum(try host.mul(referenceProbs, try host.sub(referenceLog, policyLog)), axis: -1)
            Self.warnAboutUnderflow(host, count: try Self.underflows(host, referenceProbs, mask: mask))
        }

        var m = try host.sum(try host.mul(try host.sub(policyTokens, referenceTokens), mask), axis: 1)
        var k = try host.sum(try host.mul(perPosition, mask), axis: 1)
        var p = try host.detach(try host.sum(try host.mul(policyTokens, mask), axis: 1))
        if averaged {
            let average = try LengthAverage(host, lengths: try host.sum(mask, axis: 1), what: "tdpo")
            (m, k, p) = (try average.apply(m), try average.apply(k), try average.apply(p))
        }
        (margin, sequentialKL, policyLogps) = (m, k, p)
    }

    /// Kept positions where the reference softmax has an exact 0 are where the reference's
    /// `log(softmax)` would be -inf and its KL NaN.
    static func warnAboutUnderflow(_ host: Host, count underflows: Int) {
        if underflows > 0 {
            host.log("the reference softmax underflows to 0 at \(underflows) response position(s); the TDPO "
                     + "reference's log(softmax) would give NaN there, this plugin uses log_softmax", level: DPH_LOG_WARNING)
        }
    }

    /// Counts those positions from a materialised softmax, one row at a time to bound memory.
    static func underflows(_ host: Host, _ probs: dph_tensor, mask: dph_tensor) throws -> Int {
        let shape = try host.shape(probs)
        let (rows, positions, vocab) = (shape[0], shape[1], shape[2])
        let kept = try host.floats(mask)
        var underflows = 0
        for r in 0..<rows where kept[(r * positions)..<((r + 1) * positions)].contains(where: { $0 != 0 }) {
            let values = try host.floats(try host.slice(probs, axis: 0, r..<(r + 1)))
            for t in 0..<positions where kept[r * positions + t] != 0 {
                if values[(t * vocab)..<((t + 1) * vocab)].contains(0) { underflows += 1 }
            }
        }
        return underflows
    }
}
