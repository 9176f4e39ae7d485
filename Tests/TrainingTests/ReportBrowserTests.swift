import Foundation
@testable import Reporting
import TestSupport
import XCTest

/// The report opened in a real browser (headless Chromium, Debian's `chromium`, where installed):
/// every chart draws its series, no script error, and a screenshot renders.
final class ReportBrowserTests: XCTestCase {
    static let browser: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    func headless(_ arguments: [String]) throws -> String {
        let browser = try XCTUnwrap(Self.browser)
        // Root (as CI runs) needs --no-sandbox; the virtual time budget lets the script finish.
        let r = try ProcessRunner.run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                "--virtual-time-budget=5000"] + arguments)
        XCTAssertEqual(r.status, 0)
        return r.stdout
    }

    func testEveryChartDrawsInChromiumWithoutAScriptError() throws {
        guard Self.browser != nil else {
            throw XCTSkip("no chromium here (apt-get install chromium) to open the report in")
        }
        var long = (1...3000).map { MetricsRecord(examples: 8 * $0, split: "train",
                                                   values: ["loss/train": exp(-Double($0) / 300), "grad_norm": 1 + Double($0 % 5),
                                                            "rewards_train/accuracies": 0.5, "rewards_train/margins": 0.01 * Double($0)]) }
        long[10].values["loss/train"] = .nan
        long[20].values.removeValue(forKey: "grad_norm")
        long += [MetricsRecord(examples: 0, split: "eval", values: ["loss/eval": 0.69, "rewards_eval/accuracies": 0.5]),
                 MetricsRecord(examples: 24_000, split: "eval", values: ["loss/eval": 0.01, "rewards_eval/accuracies": .infinity])]
        let short = [MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.6, "logps_train/chosen": -40, "logps_train/rejected": -45])]
        let report = HTMLReport(title: "browser", runs: [
            HTMLReport.Run(name: "long", records: long, samples: [SampleRecord(step: 0, model: "policy", prompt: "Q", sample: "A")],
                           settings: [("loss.beta", "0.1")]),
            HTMLReport.Run(name: "short", records: short, settings: [("loss.beta", "0.5")]),
        ])
        let page = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-report-\(UUID()).html")
        try Data(report.render().utf8).write(to: page)

        let dom = try headless(["--dump-dom", page.absoluteString])
        let charts = dom.components(separatedBy: "class=\"chart\"").count - 1
        let drawn = try NSRegularExpression(pattern: #"class="chart" data-index="\d+" data-drawn="([1-9]\d*)""#)
            .numberOfMatches(in: dom, range: NSRange(dom.startIndex..., in: dom))
        XCTAssertEqual(charts, 5)  // loss, accuracy, margin, log-probs, gradient norm
        XCTAssertEqual(drawn, charts, "a chart did not draw:\n\(dom.prefix(3000))")
        let error = try NSRegularExpression(pattern: #"<body[^>]*data-error="([^"]*)""#)
            .firstMatch(in: dom, range: NSRange(dom.startIndex..., in: dom))
        XCTAssertNil(error, "script error: \(error.flatMap { Range($0.range, in: dom).map { dom[$0] } } ?? "")")
        XCTAssertTrue(dom.contains("<path d=\"M"), "no series path in the DOM")

        let shot = page.deletingPathExtension().appendingPathExtension("png")
        _ = try headless(["--window-size=1100,2400", "--screenshot=\(shot.path)", page.absoluteString])
        let size = try FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? NSNumber
        XCTAssertGreaterThan(size?.intValue ?? 0, 20_000, "a blank page would be a few kilobytes")
    }
}
