import Foundation

/// `dpohost report RUN_DIR`: one self-contained HTML page (inline SVG, no scripts, no network)
/// with the curves a DPO user looks at first, train and eval, and the eval samples.
public struct HTMLReport {
    /// A chart: a title and the metric names (without split) drawn on it.
    public struct Chart: Sendable { public let title: String; public let metrics: [String] }

    public static let charts = [
        Chart(title: "Loss", metrics: ["loss"]),
        Chart(title: "Reward accuracy", metrics: ["rewards/accuracies"]),
        Chart(title: "Reward margin", metrics: ["rewards/margins"]),
        Chart(title: "Chosen and rejected rewards", metrics: ["rewards/chosen", "rewards/rejected"]),
        Chart(title: "Log-probs", metrics: ["logps/chosen", "logps/rejected"]),
        Chart(title: "KL (TDPO)", metrics: ["kl/chosen", "kl/rejected"]),
        Chart(title: "Gradient norm", metrics: ["grad_norm"]),
    ]

    public let title: String
    public let records: [MetricsRecord]
    /// Eval samples: (step, model, prompt, completion).
    public let samples: [(step: Int, model: String, prompt: String, sample: String)]

    public init(title: String, records: [MetricsRecord], samples: [(step: Int, model: String, prompt: String, sample: String)] = []) {
        self.title = title
        self.records = records
        self.samples = samples
    }

    /// `loss/train` -> (`loss`, train); `rewards_eval/margins` -> (`rewards/margins`, eval).
    static func split(_ key: String) -> (metric: String, split: String)? {
        for s in ["train", "eval"] {
            if key.hasSuffix("/" + s) { return (String(key.dropLast(s.count + 1)), s) }
            if key.contains("_\(s)/") { return (key.replacingOccurrences(of: "_\(s)/", with: "/"), s) }
        }
        if key == "grad_norm" { return (key, "train") }
        return nil
    }

    /// Points per (metric, split), ordered by examples.
    func series() -> [String: [String: [(Double, Double)]]] {
        var out: [String: [String: [(Double, Double)]]] = [:]
        for r in records {
            for (key, value) in r.values where value.isFinite {
                guard let (metric, split) = Self.split(key) else { continue }
                out[metric, default: [:]][split, default: []].append((Double(r.examples), value))
            }
        }
        return out
    }

    public func render() -> String {
        let all = series()
        var body = "<h1>\(escape(title))</h1>\n"
        if let last = records.last(where: { $0.split == "eval" }) {
            let acc = last.values["rewards_eval/accuracies"].map { String(format: "%.3f", $0) } ?? "n/a"
            body += "<p>Last evaluation at \(last.examples) examples: reward accuracy \(acc).</p>\n"
        }
        for chart in Self.charts {
            let lines = chart.metrics.flatMap { m in (all[m] ?? [:]).map { (label: "\(m) (\($0.key))", points: $0.value) } }
                .sorted { $0.label < $1.label }
            if lines.isEmpty { continue }
            body += "<h2>\(escape(chart.title))</h2>\n" + svg(lines) + "\n"
        }
        if !samples.isEmpty {
            body += "<h2>Eval samples</h2>\n<table><tr><th>step</th><th>model</th><th>prompt</th><th>sample</th></tr>\n"
            for s in samples {
                body += "<tr><td>\(s.step)</td><td>\(escape(s.model))</td><td><pre>\(escape(s.prompt))</pre></td><td><pre>\(escape(s.sample))</pre></td></tr>\n"
            }
            body += "</table>\n"
        }
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;max-width:960px;margin:2em auto}svg{background:#fafafa;border:1px solid #ddd}
        table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}pre{white-space:pre-wrap;margin:0}
        .legend span{margin-right:1em}</style></head><body>
        \(body)</body></html>
        """
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    func svg(_ lines: [(label: String, points: [(Double, Double)])]) -> String {
        let (w, h, pad) = (720.0, 260.0, 48.0)
        let xs = lines.flatMap { $0.points.map(\.0) }, ys = lines.flatMap { $0.points.map(\.1) }
        let (x0, x1) = (xs.min() ?? 0, max(xs.max() ?? 1, (xs.min() ?? 0) + 1))
        var (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        if y1 - y0 < 1e-12 { y0 -= 0.5; y1 += 0.5 }
        func px(_ x: Double) -> Double { pad + (x - x0) / (x1 - x0) * (w - 2 * pad) }
        func py(_ y: Double) -> Double { h - pad + (y - y0) / (y1 - y0) * (2 * pad - h) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\">"
        s += "<line x1=\"\(pad)\" y1=\"\(h - pad)\" x2=\"\(w - pad)\" y2=\"\(h - pad)\" stroke=\"#888\"/>"
        s += "<line x1=\"\(pad)\" y1=\"\(pad)\" x2=\"\(pad)\" y2=\"\(h - pad)\" stroke=\"#888\"/>"
        s += "<text x=\"4\" y=\"\(pad)\" font-size=\"11\">\(String(format: "%.4g", y1))</text>"
        s += "<text x=\"4\" y=\"\(h - pad)\" font-size=\"11\">\(String(format: "%.4g", y0))</text>"
        s += "<text x=\"\(pad)\" y=\"\(h - pad + 16)\" font-size=\"11\">\(Int(x0))</text>"
        s += "<text x=\"\(w - pad - 40)\" y=\"\(h - pad + 16)\" font-size=\"11\">\(Int(x1)) examples</text>"
        for (i, line) in lines.enumerated() {
            let c = Self.colors[i % Self.colors.count]
            let pts = line.points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(pts)\"/>"
            if line.points.count == 1, let p = line.points.first {
                s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"/>", px(p.0), py(p.1), c)
            }
            s += "<text x=\"\(pad + 8 + Double(i) * 170)\" y=\"\(pad - 10)\" font-size=\"12\" fill=\"\(c)\">\(escape(line.label))</text>"
        }
        return s + "</svg>"
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
