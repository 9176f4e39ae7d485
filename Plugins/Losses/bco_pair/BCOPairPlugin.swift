import DPHLossKit
import DPOHostSDK
// Only the lock: all of Foundation would make `Host` ambiguous.
import class Foundation.NSLock

// `bco_pair` (BCO, docs/spec/losses.md §6): l = -logsig(beta*Dw - d) - logsig(-(beta*Dl - d)), a binary
// classifier telling chosen rewards (above d) from rejected ones (below d).
// The libraries disagree on d, so `delta` picks it:
//  - batch (default, EasyDeL): the mean of this batch's 2B rewards beta*Dw, beta*Dl. Stateless,
//    so evaluation cannot move it and a resumed run computes what the original did.
//  - running (TRL <= 0.27): the running mean of every call's batch mean, updated with the
//    current batch first. Like TRL's it is updated by evaluation calls too; it lives in the
//    plugin instance and is not saved in checkpoints, so a resumed run restarts it.
//  - zero (TRL HEAD): d = 0.
// d is read from values, so no gradient flows through it (TRL detaches it as well).

/// The running baseline of TRL <= 0.27 (`RunningMoments` fed one batch mean per call): every
/// call's mean weighs the same. Locked, as a sharded trainer may share the instance.
final class RunningMean {
    private var mean = 0.0
    private var count = 0.0
    private let lock = NSLock()

    /// Adds `value` and returns the new mean.
    func update(_ value: Double) -> Double {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        mean += (value - mean) / count
        return mean
    }
}

/// The `bco_pair` plugin's settings, formula and (for delta=running) its baseline state.
final class BCOPairLoss: PairwiseLoss, RegisteredLoss {
    enum Delta: String, CaseIterable { case batch, running, zero }

    static let beta = LossOptions.beta()
    static let delta = LossOption<Delta>.choice("delta", default: .batch,
        help: "baseline d: batch (EasyDeL: this batch's mean reward), running (TRL<=0.27: running mean "
            + "of batch means, kept per run, not checkpointed) or zero (TRL HEAD)")

    static let plugin = LossDescription(
        name: "bco_pair",
        summary: "BCO (pairwise): -logsig(beta*Dw - d) - logsig(-(beta*Dl - d)); d = delta: batch mean "
            + "reward (default, EasyDeL), running mean (TRL<=0.27) or zero (TRL HEAD)",
        options: [beta, delta])

    let beta: Float
    let delta: Delta
    private let running = RunningMean()

    init(_ host: Host) throws {
        beta = try Self.beta.read(host)
        delta = try Self.delta.read(host)
    }

    func losses(_ host: Host, _ logps: SequenceLogps) throws -> dph_tensor {
        let chosen = try host.scale(try logps.chosenLogRatio(host), beta)
        let rejected = try host.scale(try logps.rejectedLogRatio(host), beta)
        let d = Float(try baseline(host, chosen, rejected))
        let chosenTerm = try host.logSigmoid(try host.addScalar(chosen, -d))
        let rejectedTerm = try host.logSigmoid(try host.neg(try host.addScalar(rejected, -d)))
        return try host.neg(try host.add(chosenTerm, rejectedTerm))
    }

    /// d for this batch, from the rewards' values (so it carries no gradient).
    func baseline(_ host: Host, _ chosen: dph_tensor, _ rejected: dph_tensor) throws -> Double {
        if delta == .zero { return 0 }
        let rewards = try host.floats(chosen) + (try host.floats(rejected))
        let batchMean = rewards.reduce(0.0) { $0 + Double($1) } / Double(max(rewards.count, 1))
        return delta == .running ? running.update(batchMean) : batchMean
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: BCOPairLoss.self)
}
