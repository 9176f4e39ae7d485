import Foundation
import Training
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

    func testReportDrawsTrainAndEvalCurvesAndEscapesSamples() {
        let records = [
            MetricsRecord(examples: 0, split: "eval", values: ["loss/eval": 0.69, "rewards_eval/accuracies": 0.5]),
            MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.6, "rewards_train/margins": 0.1, "grad_norm": 3]),
            MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.5, "rewards_train/margins": 0.3, "grad_norm": 2]),
            MetricsRecord(examples: 8, split: "eval", values: ["loss/eval": 0.4, "rewards_eval/accuracies": 0.75]),
        ]
        let html = HTMLReport(title: "run <1>", records: records,
                              samples: [(step: 8, model: "policy", prompt: "Q <b>", sample: "A & B")]).render()
        XCTAssertTrue(html.contains("<h2>Loss</h2>"))
        XCTAssertTrue(html.contains("loss (train)") && html.contains("loss (eval)"))
        XCTAssertTrue(html.contains("rewards/margins (train)"))
        XCTAssertTrue(html.contains("reward accuracy 0.750"))
        XCTAssertTrue(html.contains("Q &lt;b&gt;") && html.contains("A &amp; B"))
        XCTAssertTrue(html.contains("run &lt;1&gt;"))
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("KL (TDPO)"))   // no KL metrics, no empty chart
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
