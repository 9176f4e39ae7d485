import DPOHostSDK

/// Emits a preference loss's per-example metrics under the reference's keys and in its order
/// (docs/spec/losses.md §2.6; TDPO adds its KL keys between the rewards and the log-probs, §3.3).
public struct PreferenceMetrics {
    let host: Host

    public init(_ host: Host) { self.host = host }

    /// Rewards, accuracies (strict `>`: a tie is a miss) and margins.
    public func rewards(chosen: dph_tensor, rejected: dph_tensor) throws {
        let rc = try host.detach(chosen), rr = try host.detach(rejected)
        let accuracies = zip(try host.floats(rc), try host.floats(rr)).map { $0 > $1 ? Float(1) : 0 }
        try host.emitMetric(MetricKey.rewardsChosen, rc)
        try host.emitMetric(MetricKey.rewardsRejected, rr)
        try host.emitMetric(MetricKey.rewardsAccuracies, try host.tensor(accuracies, shape: [accuracies.count]))
        try host.emitMetric(MetricKey.rewardsMargins, try host.sub(rc, rr))
    }

    /// TDPO's sequential KL of chosen and rejected, and their signed difference chosen - rejected.
    public func sequentialKL(chosen: dph_tensor, rejected: dph_tensor) throws {
        let kc = try host.detach(chosen), kr = try host.detach(rejected)
        try host.emitMetric(MetricKey.klChosen, kc)
        try host.emitMetric(MetricKey.klRejected, kr)
        try host.emitMetric(MetricKey.klMargin, try host.sub(kc, kr))
    }

    /// Policy log-probs (rejected first, as the reference logs them) and the per-example loss.
    public func logpsAndLoss(chosen: dph_tensor, rejected: dph_tensor, losses: dph_tensor) throws {
        try host.emitMetric(MetricKey.logpsRejected, try host.detach(rejected))
        try host.emitMetric(MetricKey.logpsChosen, try host.detach(chosen))
        try host.emitMetric(MetricKey.loss, try host.detach(losses))
    }

    /// A batch-level scalar (a token-mean NLL) reported once for each of `count` examples, as TRL logs it.
    public func repeated(_ name: String, _ scalar: dph_tensor, count: Int) throws {
        try host.emitMetric(name, try host.tensor([Float](repeating: try host.floats(scalar)[0], count: count), shape: [count]))
    }

    /// All of the DPO reference's keys for a sequence-level loss: rewards `beta * (p - q)`,
    /// accuracies, margins, policy log-probs and the per-example loss, in its order.
    public func dpo(_ logps: SequenceLogps, beta: Float, losses: dph_tensor) throws {
        let r = try logps.rewards(host, beta: beta)
        try rewards(chosen: r.chosen, rejected: r.rejected)
        try logpsAndLoss(chosen: logps.policyChosen, rejected: logps.policyRejected, losses: losses)
    }
}
