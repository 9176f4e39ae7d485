import PluginHost
import XCTest

/// Each loss refuses options its math cannot use when the instance is created, with a message
/// naming the plugin, the option, the value and the allowed range.
final class OptionValidationTests: XCTestCase {
    func assertRefused(_ plugin: String, _ options: [String: String], mentions fragments: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LossFixtures.loss(plugin, options), file: file, line: line) { error in
            let text = "\(error)"
            for f in fragments { XCTAssertTrue(text.contains(f), "'\(text)' lacks '\(f)'", file: file, line: line) }
        }
    }

    func testBetaIsRequiredForDPO() {
        assertRefused("dpo", [:], mentions: ["plugin 'dpo' requires option 'beta'"])
    }

    func testBetaMustBePositive() {
        assertRefused("dpo", ["beta": "0"], mentions: ["plugin 'dpo'", "option 'beta' must be > 0, got 0.0"])
        assertRefused("ipo", ["beta": "-0.5"], mentions: ["plugin 'ipo'", "option 'beta' must be > 0, got -0.5"])
        assertRefused("tdpo", ["beta": "0"], mentions: ["plugin 'tdpo'", "'beta' must be > 0"])
    }

    func testLabelSmoothingMustBeBelowOneHalf() {
        assertRefused("dpo", ["beta": "0.1", "label_smoothing": "0.5"],
                      mentions: ["option 'label_smoothing' must be in [0.0, 0.5), got 0.5"])
        assertRefused("cdpo", ["beta": "0.1", "label_smoothing": "-0.1"],
                      mentions: ["plugin 'cdpo'", "'label_smoothing' must be in [0.0, 0.5)"])
    }

    func testTDPOAlphaMustBeNonNegative() {
        assertRefused("tdpo", ["alpha": "-1"], mentions: ["option 'alpha' must be >= 0, got -1.0"])
    }

    func testIPOHasNoLabelSmoothingOrReferenceFree() {
        assertRefused("ipo", ["beta": "0.1", "label_smoothing": "0.1"], mentions: ["plugin 'ipo' has no option 'label_smoothing'"])
        assertRefused("ipo", ["beta": "0.1", "reference_free": "true"], mentions: ["plugin 'ipo' has no option 'reference_free'"])
    }

    func testWronglyTypedValuesAreRefusedByTheHost() {
        assertRefused("dpo", ["beta": "high"], mentions: ["option 'beta' of plugin 'dpo' expects a float, got 'high'"])
    }

    func testDefaultsMatchTheReferenceConfigs() throws {
        func defaults(_ name: String) throws -> [String: String?] {
            let plugin = try LossFixtures.registry().resolve(kind: .loss, name: name)
            return Dictionary(uniqueKeysWithValues: plugin.descriptor.options.map { ($0.name, $0.defaultValue) })
        }
        let divergence: [String: String?] = ["f_divergence_type": "reverse_kl", "f_alpha_divergence_coef": "0.5"]
        XCTAssertEqual(try defaults("dpo"), ["beta": nil, "label_smoothing": "0", "reference_free": "false", "average_log_prob": "false",
                                             "length_normalized": "false", "reference_rewards": "true"].merging(divergence) { $1 })
        XCTAssertEqual(try defaults("cdpo")["label_smoothing"], "0.2")
        XCTAssertEqual(try defaults("ipo"), ["beta": nil, "average_log_prob": "false", "length_normalized": "false"].merging(divergence) { $1 })
        XCTAssertEqual(try defaults("tdpo"), ["if_tdpo2": "false", "alpha": "0.5", "beta": "0.1", "average_log_prob": "false",
                                              "reference_free": "false"])
        XCTAssertEqual(try defaults("sft"), ["average_log_prob": "false", "token_mean": "false"])
    }

    func testEveryBuiltInLossHasADescriptionAndOptionHelp() throws {
        let losses = try LossFixtures.registry().plugins(kind: .loss).filter { ["sft", "dpo", "cdpo", "ipo", "tdpo"].contains($0.name) }
        XCTAssertEqual(Set(losses.map(\.name)), ["sft", "dpo", "cdpo", "ipo", "tdpo"])
        for p in losses {
            XCTAssertFalse(p.descriptor.summary.isEmpty, p.name)
            XCTAssertFalse(p.descriptor.summary.contains("\n"), "\(p.name): one line")
            for o in p.descriptor.options { XCTAssertGreaterThan(o.help.count, 20, "\(p.name).\(o.name)") }
        }
    }
}
