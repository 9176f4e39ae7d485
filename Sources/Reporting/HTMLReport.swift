import Configuration
import Foundation

/// `dpohost report RUN [RUN ...]`: one self-contained HTML page (one inline script, no network)
/// with the curves a DPO user looks at first, train and eval together, for one run or several
/// overlaid with the settings in which they differ, and the eval samples of policy and reference
/// side by side. The metrics are embedded as JSON and drawn by `ReportScript`; a series of more
/// than `maximumPoints` points is thinned to that many (the lowest and highest of each stretch
/// kept, so a spike survives), which keeps a 10,000-update run's page well under a megabyte.
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

    public static let maximumPoints = 2000

    /// A run's points (examples, value) by metric, then by split.
    typealias Series = [String: [String: [(Double, Double)]]]

    /// One run: its name (the run directory's), metrics, eval samples and flat settings.
    public struct Run {
        public let name: String
        public let records: [MetricsRecord]
        public let samples: [SampleRecord]
        public let settings: [(key: String, value: String)]

        public init(name: String, records: [MetricsRecord], samples: [SampleRecord] = [],
                    settings: [(key: String, value: String)] = []) {
            self.name = name
            self.records = records
            self.samples = samples
            self.settings = settings
        }
    }

    public let title: String
    public let runs: [Run]

    /// A run directory's metrics.jsonl (required), samples.jsonl and config.yaml.
    public static func run(directory: URL) throws -> Run {
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        guard FileManager.default.fileExists(atPath: metricsURL.path) else {
            throw ReportError.missing("\(metricsURL.path): no metrics.jsonl; is \(directory.path) a run directory?")
        }
        let configURL = directory.appendingPathComponent("config.yaml")
        let settings = FileManager.default.fileExists(atPath: configURL.path)
            ? RunLogs.flat(try YAMLReader.read(file: configURL)).map { (key: $0.0, value: $0.1.displayText) } : []
        return Run(name: directory.standardizedFileURL.lastPathComponent, records: try MetricsLog.read(metricsURL),
                   samples: try SampleRecord.read(directory.appendingPathComponent("samples.jsonl")), settings: settings)
    }

    public init(title: String, runs: [Run]) {
        self.title = title
        self.runs = runs
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

    /// Points per (metric, split), ordered by examples; a missing or non-finite value is no point.
    static func series(_ records: [MetricsRecord]) -> Series {
        var out: Series = [:]
        for r in records {
            for (key, value) in r.values where value.isFinite {
                guard let (metric, split) = split(key) else { continue }
                out[metric, default: [:]][split, default: []].append((Double(r.examples), value))
            }
        }
        return out.mapValues { $0.mapValues(thinned) }
    }

    /// At most `maximumPoints` points: each of `maximumPoints / 2` stretches keeps its lowest
    /// and highest point, in order; the last point is always kept.
    static func thinned(_ points: [(Double, Double)]) -> [(Double, Double)] {
        guard points.count > maximumPoints else { return points }
        let stretches = maximumPoints / 2 - 1
        var out: [(Double, Double)] = []
        for k in 0..<stretches {
            let part = points[(k * points.count / stretches)..<((k + 1) * points.count / stretches)]
            guard let low = part.indices.min(by: { part[$0].1 < part[$1].1 }),
                  let high = part.indices.max(by: { part[$0].1 < part[$1].1 }) else { continue }
            for i in Set([low, high]).sorted() { out.append(points[i]) }
        }
        if out.last?.0 != points.last?.0, let last = points.last { out.append(last) }
        return out
    }

    /// The embedded data: every run's series (`series`, one per run) and the charts that have any.
    func data(series allSeries: [Series], charts: [Chart]) -> String {
        func number(_ x: Double) -> String {
            x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%.7g", x)
        }
        let runs = zip(self.runs, allSeries).map { run, runSeries -> String in
            let series = runSeries.sorted { $0.key < $1.key }.map { metric, splits in
                let parts = splits.sorted { $0.key < $1.key }.map { split, points in
                    "\"\(split)\":[" + points.map { "[\(number($0.0)),\(number($0.1))]" }.joined(separator: ",") + "]"
                }
                return Self.json(metric) + ":{" + parts.joined(separator: ",") + "}"
            }
            return "{\"name\":\(Self.json(run.name)),\"series\":{" + series.joined(separator: ",") + "}}"
        }
        let chartList = charts.map { "{\"title\":\(Self.json($0.title)),\"metrics\":[" + $0.metrics.map(Self.json).joined(separator: ",") + "]}" }
        // "</" would end the script element the data sits in.
        return ("{\"runs\":[" + runs.joined(separator: ",") + "],\"charts\":[" + chartList.joined(separator: ",") + "]}")
            .replacingOccurrences(of: "</", with: "<\\/")
    }

    static func json(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        return data.map { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) } ?? "\"\""
    }

    public func render() -> String {
        let series = runs.map { Self.series($0.records) }
        let present = Set(series.flatMap(\.keys))
        let charts = Self.charts.filter { $0.metrics.contains(where: present.contains) }
        var body = "<h1>\(escape(title))</h1>\n"
        for run in runs {
            guard let last = run.records.last(where: { $0.split == "eval" }) else { continue }
            let accuracy = last.values["rewards_eval/accuracies"].map { String(format: "%.3f", $0) } ?? "n/a"
            let loss = last.values["loss/eval"].map { String(format: "%.4g", $0) } ?? "n/a"
            body += "<p>\(runs.count > 1 ? "<b>\(escape(run.name))</b>: " : "")Last evaluation at \(last.examples) examples: "
                + "loss \(loss), reward accuracy \(accuracy).</p>\n"
        }
        body += differences()
        let smoothing = runs.contains { $0.records.count > 200 } ? "0.60" : "0.00"
        body += """
        <div class="controls">Smoothing of train curves <input id="smoothing" type="range" min="0" max="0.99" step="0.01" \
        value="\(smoothing)"> <span id="smoothing-value">\(smoothing)</span></div>

        """
        for (i, chart) in charts.enumerated() {
            body += """
            <div class="chart" data-index="\(i)"><h2>\(escape(chart.title))</h2>\
            <div class="tools"><label><input type="checkbox" class="log"> log scale</label></div>\
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 900 300" width="900" height="300"></svg>\
            <div class="legend"></div><div class="tip"></div></div>

            """
        }
        body += samplesSection()
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>\(escape(title))</title><style>\(ReportScript.style)</style></head><body>
        \(body)<noscript>The charts need JavaScript.</noscript>
        <script type="application/json" id="report-data">\(data(series: series, charts: charts))</script>
        <script>\(ReportScript.script)</script>
        </body></html>
        """
    }

    /// The settings in which the runs differ (none for one run).
    func differences() -> String {
        guard runs.count > 1 else { return "" }
        let values = runs.map { Dictionary($0.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }) }
        let keys = Set(values.flatMap(\.keys)).sorted().filter { key in Set(values.map { $0[key] ?? "" }).count > 1 }
        guard !keys.isEmpty else { return "<p>The runs' settings are the same.</p>\n" }
        var out = "<h2>Settings that differ</h2>\n<table class=\"diff\"><tr><th>key</th>"
            + runs.map { "<th>\(escape($0.name))</th>" }.joined() + "</tr>\n"
        for key in keys {
            out += "<tr><td>\(escape(key))</td>" + values.map { "<td>\(escape($0[key] ?? "—"))</td>" }.joined() + "</tr>\n"
        }
        return out + "</table>\n"
    }

    /// Eval samples: per run and step, each prompt with every model's sample side by side.
    func samplesSection() -> String {
        guard runs.contains(where: { !$0.samples.isEmpty }) else { return "" }
        var out = "<h2>Eval samples</h2>\n"
        for run in runs where !run.samples.isEmpty {
            if runs.count > 1 { out += "<h3>\(escape(run.name))</h3>\n" }
            var models: [String] = []
            for s in run.samples where !models.contains(s.model) { models.append(s.model) }
            out += "<table><tr><th>step</th><th>prompt</th>" + models.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
            var rows: [(step: Int, prompt: String)] = []
            var byRow: [String: [String: String]] = [:]
            for s in run.samples {
                let key = "\(s.step)\u{0}\(s.prompt)"
                if byRow[key] == nil { rows.append((s.step, s.prompt)) }
                byRow[key, default: [:]][s.model] = s.sample
            }
            for row in rows {
                let cells = byRow["\(row.step)\u{0}\(row.prompt)"] ?? [:]
                out += "<tr><td>\(row.step)</td><td><pre>\(escape(row.prompt))</pre></td>"
                    + models.map { "<td><pre>\(escape(cells[$0] ?? ""))</pre></td>" }.joined() + "</tr>\n"
            }
            out += "</table>\n"
        }
        return out
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
