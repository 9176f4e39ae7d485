import Dispatch

/// Wall-clock seconds per named phase, summed over calls: where a training step's time goes.
/// `BenchStep` marks the end of each phase when it has a timer (the benchmark's `--phases`).
final class PhaseTimer {
    private(set) var totals: [String: Double] = [:]
    private var last = DispatchTime.now().uptimeNanoseconds

    init() {}

    /// Starts timing from now (the beginning of a step).
    func restart() { last = DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since the previous mark to `phase`.
    func mark(_ phase: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        totals[phase, default: 0] += Double(now - last) / 1e9
        last = now
    }
}
