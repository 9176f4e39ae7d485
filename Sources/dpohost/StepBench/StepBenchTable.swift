import Foundation

/// The text table `dpohost bench step` prints: one row per configuration.
struct StepBenchTable {
    let withTorch: Bool
    let withPhases: Bool

    var header: String {
        var h = Fmt.pad("model", 14) + Fmt.pad("loss", 6) + Fmt.pad("B", 3) + Fmt.pad("T", 5) + Fmt.pad("median_s", 10)
            + Fmt.pad("min_s", 10) + Fmt.pad("tokens/s", 10) + Fmt.pad("GFLOP/s", 9) + Fmt.pad("%peak", 7) + Fmt.pad("peak_MiB", 9)
        if withTorch {
            h += "| " + Fmt.pad("torch_s", 9) + Fmt.pad("torch_GF/s", 11) + Fmt.pad("speedup", 8) + Fmt.pad("torch_MiB", 10) + Fmt.pad("mem_ratio", 10)
                + "| " + Fmt.pad("bf16_s", 9) + "vs_bf16"
        }
        return h
    }

    /// `torchBF16`: PyTorch's bfloat16 autocast step, the second anchor.
    func row(_ r: StepBenchResult, peakGflops: Double, torch: TorchAnchor.Result?, torchBF16: TorchAnchor.Result? = nil) -> String {
        var line = Fmt.pad(r.model, 14) + Fmt.pad(r.loss, 6) + Fmt.pad("\(r.batch)", 3) + Fmt.pad("\(r.seq)", 5)
            + Fmt.pad(Fmt.f(r.median, 4), 10) + Fmt.pad(Fmt.f(r.best, 4), 10) + Fmt.pad(Fmt.f(r.tokensPerSecond, 0), 10)
            + Fmt.pad(Fmt.f(r.gflops, 1), 9) + Fmt.pad(Fmt.f(100 * r.gflops / peakGflops, 1), 7) + Fmt.pad(Fmt.f(r.peakRSSMiB, 0), 9)
        if let load = r.otherLoad, load > 0.1 { line += "(disturbed: other load \(Fmt.f(load, 2))) " }
        if withTorch {
            if let t = torch {
                line += "| " + Fmt.pad(Fmt.f(t.median, 4), 9) + Fmt.pad(Fmt.f(t.gflops, 1), 11)
                    + Fmt.pad(Fmt.f(t.median / r.median, 2) + "x", 8) + Fmt.pad(Fmt.f(t.peakRSSMiB, 0), 10)
                    + Fmt.pad(Fmt.f(r.peakRSSMiB / t.peakRSSMiB, 2), 10)
                if let load = t.otherLoad, load > 0.1 { line += "(torch disturbed: other load \(Fmt.f(load, 2))) " }
            } else {
                line += "| (no PyTorch result) "
            }
            if let b = torchBF16 {
                line += "| " + Fmt.pad(Fmt.f(b.median, 4), 9) + Fmt.f(b.median / r.median, 2) + "x"
            } else {
                line += "| -"
            }
        }
        return line
    }

    /// The cached-reference step under a DPO row: its times and its ratio to the live-reference step.
    func cachedLine(_ r: StepBenchResult) -> String? {
        guard let median = r.cachedMedian, let best = r.cachedBest else { return nil }
        return "    cached reference log-probs: median \(Fmt.f(median, 4)) s, min \(Fmt.f(best, 4)) s = "
            + "\(Fmt.f(median / r.median, 2))x of the live-reference step (min/min \(Fmt.f(best / r.best, 2))x)"
    }

    /// The `--profile-ops` table: ms per step in each op, forward and backward, slowest first.
    func opLines(_ ops: [StepBenchResult.OpTime], total: Double) -> String {
        var lines = ["    " + Fmt.pad("op", 26) + Fmt.pad("calls", 8) + Fmt.pad("fwd ms", 9) + Fmt.pad("bwd ms", 9) + "share"]
        for o in ops {
            let ms = o.forwardMs + o.backwardMs
            lines.append("    " + Fmt.pad(o.op, 26) + Fmt.pad(Fmt.f(o.callsPerStep, 0), 8) + Fmt.pad(Fmt.f(o.forwardMs, 2), 9)
                         + Fmt.pad(Fmt.f(o.backwardMs, 2), 9) + Fmt.f(100 * ms / 1000 / total, 1) + "%")
        }
        return lines.joined(separator: "\n")
    }

    /// Per-phase seconds of an average step, as shares of the step.
    func phaseLine(_ phases: [String: Double], total: Double, label: String = "phases") -> String {
        let order = ["reference forward", "policy forward", "loss", "backward", "clip", "optimizer"]
        return "    \(label): " + order.compactMap { name in
            phases[name].map { "\(name) \(Fmt.f($0 * 1000, 1)) ms (\(Fmt.f(100 * $0 / total, 0))%)" }
        }.joined(separator: ", ")
    }
}

enum Fmt {
    static func f(_ x: Double, _ digits: Int) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "-" }
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
