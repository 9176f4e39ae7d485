import Foundation
@testable import Reporting
import XCTest

final class ReportingTests: XCTestCase {
    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testMetricsLogAppendsAndReadsBackEveryLine() throws {
        let url = try tempDir().appendingPathComponent("metrics.jsonl")
        let log = try MetricsLog(url: url)
        try log.append(MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.69]))
        try log.append(MetricsRecord(examples: 8, split: "eval", values: ["loss/eval": 0.5]))
        let again = try MetricsLog(url: url)   // reopening appends, never truncates
        try again.append(MetricsRecord(examples: 12, split: "train", values: ["loss/train": 0.4]))
        XCTAssertEqual(try MetricsLog.read(url).map(\.examples), [4, 8, 12])
    }

    func testMalformedMetricsLineNamesFileAndLine() throws {
        let url = try tempDir().appendingPathComponent("metrics.jsonl")
        try "{\"examples\":1,\"split\":\"train\",\"values\":{}}\n{oops\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetricsLog.read(url)) {
            XCTAssertTrue(String(describing: $0).hasSuffix("metrics.jsonl:2: not a metrics record (expected a JSON object with examples, split, values)"))
        }
    }

    func testReportEmbedsTrainAndEvalSeriesAndEscapesTextAndNeedsNoNetwork() {
        let records = [
            MetricsRecord(examples: 0, split: "eval", values: ["loss/eval": 0.69, "rewards_eval/accuracies": 0.5]),
            MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.6, "rewards_train/margins": 0.1, "grad_norm": 3]),
            MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.5, "rewards_train/margins": 0.3, "grad_norm": 2]),
            MetricsRecord(examples: 8, split: "eval", values: ["loss/eval": 0.4, "rewards_eval/accuracies": 0.75]),
        ]
        let html = HTMLReport(title: "run <1>", runs: [HTMLReport.Run(name: "r</script>", records: records,
                              samples: [SampleRecord(step: 8, model: "policy", prompt: "Q <b>", sample: "A & B")])]).render()
        XCTAssertTrue(html.contains(#""loss":{"eval":[[0,0.69],[8,0.4]],"train":[[4,0.6],[8,0.5]]}"#), html)
        XCTAssertTrue(html.contains(#""rewards/margins":{"train":[[4,0.1],[8,0.3]]}"#))
        XCTAssertTrue(html.contains("reward accuracy 0.750"))
        XCTAssertTrue(html.contains("Q &lt;b&gt;") && html.contains("A &amp; B"))
        XCTAssertTrue(html.contains("run &lt;1&gt;"))
        XCTAssertTrue(html.contains(#""name":"r<\/script>""#), "a name cannot end the data's script element")
        XCTAssertFalse(html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"))
        XCTAssertFalse(html.contains("<script src"))
        XCTAssertTrue(html.contains(#"{"title":"Loss","metrics":["loss"]}"#))
        XCTAssertFalse(html.contains("KL (TDPO)"))   // no KL metrics, no empty chart
    }

    func testMissingAndNonFiniteValuesAreNoPointsAndBreakNothing() {
        let records = [
            MetricsRecord(examples: 4, split: "train", values: ["loss/train": .nan, "grad_norm": .infinity]),
            MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.5]),
            MetricsRecord(examples: 12, split: "train", values: ["loss/train": -.infinity, "grad_norm": 2]),
        ]
        let html = HTMLReport(title: "t", runs: [HTMLReport.Run(name: "r", records: records)]).render()
        XCTAssertTrue(html.contains(#""loss":{"train":[[8,0.5]]}"#))
        XCTAssertTrue(html.contains(#""grad_norm":{"train":[[12,2]]}"#))
        XCTAssertFalse(html.lowercased().contains("nan") || html.contains("inf,") || html.contains("Infinity"))
    }

    func testSeveralRunsAreOverlaidWithTheSettingsInWhichTheyDiffer() {
        let a = HTMLReport.Run(name: "a", records: [MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.6])],
                               settings: [("loss.beta", "0.1"), ("lr", "1e-6"), ("seed", "0")])
        let b = HTMLReport.Run(name: "b", records: [MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.5])],
                               settings: [("loss.beta", "0.5"), ("lr", "1e-6"), ("seed", "0")])
        let html = HTMLReport(title: "t", runs: [a, b]).render()
        XCTAssertTrue(html.contains("<tr><td>loss.beta</td><td>0.1</td><td>0.5</td></tr>"), html)
        XCTAssertFalse(html.contains("<td>lr</td>") || html.contains("<td>seed</td>"))
        XCTAssertTrue(html.contains(#"{"name":"a","series":{"loss":{"train":[[4,0.6]]}}},{"name":"b""#))
    }

    func testPolicyAndReferenceSamplesOfOnePromptShareARow() {
        let samples = [SampleRecord(step: 8, model: "policy", prompt: "Q", sample: "from policy"),
                       SampleRecord(step: 8, model: "reference", prompt: "Q", sample: "from reference")]
        let html = HTMLReport(title: "t", runs: [HTMLReport.Run(name: "r", records: [], samples: samples)]).render()
        XCTAssertTrue(html.contains("<tr><th>step</th><th>prompt</th><th>policy</th><th>reference</th></tr>"))
        XCTAssertTrue(html.contains("<tr><td>8</td><td><pre>Q</pre></td><td><pre>from policy</pre></td><td><pre>from reference</pre></td></tr>"))
    }

    func testATenThousandUpdateRunIsThinnedKeepingSpikesAndThePageStaysUnderAMegabyte() {
        let keys = ["loss/train", "rewards_train/accuracies", "rewards_train/margins", "rewards_train/chosen",
                    "rewards_train/rejected", "logps_train/chosen", "logps_train/rejected", "grad_norm"]
        var records = (1...10_000).map { step in
            MetricsRecord(examples: 64 * step, split: "train",
                          values: Dictionary(uniqueKeysWithValues: keys.map { ($0, 0.69 * exp(-Double(step) / 2000) + 0.001 * Double(step % 7)) }))
        }
        records[5_000].values["grad_norm"] = 1e6  // a spike
        records += (0...100).map { MetricsRecord(examples: 6400 * $0, split: "eval", values: ["loss/eval": 0.5, "rewards_eval/accuracies": 0.6]) }
        let html = HTMLReport(title: "long", runs: [HTMLReport.Run(name: "r", records: records)]).render()
        XCTAssertLessThan(html.utf8.count, 1_000_000)
        XCTAssertTrue(html.contains(#"value="0.60"> <span id="smoothing-value">0.60</span>"#), "a long run starts smoothed, and says so")
        XCTAssertTrue(html.contains("[320064,1000000]"), "the spike survives thinning")
        let points = HTMLReport.thinned((0..<10_000).map { (Double($0), Double($0 % 13)) })
        XCTAssertLessThanOrEqual(points.count, HTMLReport.maximumPoints)
        XCTAssertEqual(points.last?.0, 9_999)
        XCTAssertEqual(points.map(\.0), points.map(\.0).sorted())
    }

    func testProgressLineShowsCountsRateAndMetrics() {
        let p = ProgressDisplay(total: 100, mode: .lines)
        let line = p.line(examples: 25, values: ["loss/train": 0.5, "rewards_train/accuracies": 0.75],
                          now: Date().addingTimeInterval(5))
        XCTAssertTrue(line.contains("[######------------------]"), line)
        XCTAssertTrue(line.contains("25/100"))
        XCTAssertTrue(line.contains("loss 0.5"))
        XCTAssertTrue(line.contains("reward accuracies 0.75"))
        XCTAssertTrue(line.contains("ETA"))
    }
}
