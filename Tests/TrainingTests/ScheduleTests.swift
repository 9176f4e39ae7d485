import Foundation
import Training
import XCTest

/// The learning-rate schedules equal transformers' own (`get_scheduler`, Golden/
/// make_schedule_golden.py) step by step, and warmup from a ratio is transformers' ceiling.
final class ScheduleTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable {
            let type: String, warmup: Int, total: Int, min_lr_rate: Double, lr: Double
            let rates: [Double]
        }
        struct Ratio: Decodable { let ratio: Double, total: Int, warmup: Int }
        let schedules: [Case]
        let warmup_ratio: [Ratio]
    }

    static let golden = try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Golden/schedule_golden.json")))

    func testEveryScheduleEqualsTransformersStepByStepPastItsEnd() throws {
        XCTAssertEqual(Set(Self.golden.schedules.map(\.type)), Set(LearningRateSchedule.Kind.allCases.map(\.rawValue)).subtracting(["reference"]))
        for c in Self.golden.schedules {
            let schedule = LearningRateSchedule(kind: try XCTUnwrap(LearningRateSchedule.Kind(rawValue: c.type)), baseLearningRate: c.lr,
                                                warmupSteps: c.warmup, totalSteps: c.total, minimumRate: c.min_lr_rate)
            for (step, rate) in c.rates.enumerated() {
                XCTAssertEqual(c.lr * schedule.multiplier(completedSteps: step), rate, accuracy: 1e-15, "\(c.type) warmup \(c.warmup) step \(step)")
                XCTAssertEqual(schedule.learningRate(completedSteps: step), Float(rate), "\(c.type) warmup \(c.warmup) step \(step)")
            }
        }
    }

    func testWarmupFromARatioIsTransformersCeiling() {
        for r in Self.golden.warmup_ratio {
            XCTAssertEqual(LearningRateSchedule.warmupSteps(ratio: r.ratio, totalSteps: r.total), r.warmup, "\(r.ratio) of \(r.total)")
        }
    }
}
