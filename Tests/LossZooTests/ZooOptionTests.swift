import PluginHost
import XCTest

/// Each zoo loss refuses options its math cannot use when the instance is created, with a
/// message naming the plugin, the option, the value and the allowed range.
final class ZooOptionTests: XCTestCase {
    func assertRefused(_ plugin: String, _ options: [String: String], mentions fragments: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Zoo.loss(plugin, options), "\(plugin) \(options)", file: file, line: line) { error in
            let text = "\(error)"
            for f in fragments { XCTAssertTrue(text.contains(f), "'\(text)' lacks '\(f)'", file: file, line: line) }
        }
    }

    func testEveryZooLossRefusesANonPositiveBeta() {
        for name in Zoo.losses {
            assertRefused(name, ["beta": "0"], mentions: ["plugin '\(name)'", "option 'beta' must be > 0, got 0.0"])
            assertRefused(name, ["beta": "-0.1"], mentions: ["plugin '\(name)'", "option 'beta' must be > 0, got -0.1"])
        }
    }

    func testLabelSmoothingMustBeInZeroToOneHalf() {
        for name in ["robust", "aot", "aot_pair", "simpo", "rpo"] {
            assertRefused(name, ["label_smoothing": "0.5"],
                          mentions: ["plugin '\(name)'", "option 'label_smoothing' must be in [0.0, 0.5), got 0.5"])
            assertRefused(name, ["label_smoothing": "-0.1"], mentions: ["'label_smoothing' must be in [0.0, 0.5), got -0.1"])
        }
    }

    func testEXORefusesZeroLabelSmoothingWhoseLogIsUndefined() {
        assertRefused("exo_pair", ["label_smoothing": "0"],
                      mentions: ["plugin 'exo_pair'", "option 'label_smoothing' must be in (0.0, 0.5), got 0.0"])
        assertRefused("exo_pair", ["label_smoothing": "0.5"], mentions: ["must be in (0.0, 0.5), got 0.5"])
    }

    func testDiscoPOPTauMustBePositive() {
        assertRefused("discopop", ["tau": "0"], mentions: ["plugin 'discopop'", "option 'tau' must be > 0, got 0.0"])
        assertRefused("discopop", ["tau": "-1"], mentions: ["option 'tau' must be > 0, got -1.0"])
    }

    func testSimPOGammaMustBeNonNegative() {
        assertRefused("simpo", ["gamma": "-0.5"], mentions: ["plugin 'simpo'", "option 'gamma' must be >= 0, got -0.5"])
    }

    func testRPOAlphaMustBeNonNegative() {
        assertRefused("rpo", ["alpha": "-1"], mentions: ["plugin 'rpo'", "option 'alpha' must be >= 0, got -1.0"])
    }

    func testBCODeltaMustBeAKnownBaseline() {
        assertRefused("bco_pair", ["delta": "ema"],
                      mentions: ["plugin 'bco_pair'", "option 'delta' must be one of batch, running, zero, got 'ema'"])
    }

    func testOptionsAPluginDoesNotHaveAreRefused() {
        assertRefused("hinge", ["label_smoothing": "0.1"], mentions: ["plugin 'hinge' has no option 'label_smoothing'"])
        assertRefused("simpo", ["reference_free": "true"], mentions: ["plugin 'simpo' has no option 'reference_free'"])
    }

    func testWronglyTypedValuesAreRefusedByTheHost() {
        assertRefused("discopop", ["tau": "small"], mentions: ["option 'tau' of plugin 'discopop' expects a float, got 'small'"])
    }

    func testRPOWithoutTokenInputsNamesTheMissingInput() throws {
        var inputs = LossInputs(batchPairs: 1)
        inputs.policyChosenLogps = leaf([-3])
        inputs.policyRejectedLogps = leaf([-4])
        inputs.referenceChosenLogps = vector([-3.5])
        inputs.referenceRejectedLogps = vector([-3.5])
        XCTAssertThrowsError(try Zoo.loss("rpo").compute(inputs, tape: .init(pool: .serial))) { error in
            XCTAssertTrue("\(error)".contains("input 'policy_token_logps' is missing"), "\(error)")
        }
    }

    func testDefaultsFollowTheStatedChoices() throws {
        func defaults(_ name: String) throws -> [String: String?] {
            let plugin = try Zoo.registry().resolve(kind: .loss, name: name)
            return Dictionary(uniqueKeysWithValues: plugin.descriptor.options.map { ($0.name, $0.defaultValue) })
        }
        let divergence: [String: String?] = ["f_divergence_type": "reverse_kl", "f_alpha_divergence_coef": "0.5"]
        for name in ["nca_pair", "sppo_hard", "apo_zero", "apo_down"] {
            XCTAssertEqual(try defaults(name), ["beta": "0.1"], name)
        }
        XCTAssertEqual(try defaults("hinge"), ["beta": "0.1"].merging(divergence) { $1 })
        XCTAssertEqual(try defaults("robust"), ["beta": "0.1", "label_smoothing": "0"].merging(divergence) { $1 })
        for name in ["aot", "aot_pair"] {
            XCTAssertEqual(try defaults(name), ["beta": "0.1", "label_smoothing": "0"], name)
        }
        XCTAssertEqual(try defaults("exo_pair"), ["beta": "0.1", "label_smoothing": "0.001"].merging(divergence) { $1 })
        XCTAssertEqual(try defaults("bco_pair"), ["beta": "0.1", "delta": "batch"])
        XCTAssertEqual(try defaults("discopop"), ["beta": "0.1", "tau": "0.05"].merging(divergence) { $1 })
        XCTAssertEqual(try defaults("simpo"), ["beta": "0.1", "gamma": "0.5", "label_smoothing": "0"])
        XCTAssertEqual(try defaults("rpo"), ["beta": "0.1", "label_smoothing": "0", "reference_free": "false",
                                             "average_log_prob": "false", "length_normalized": "false",
                                             "reference_rewards": "true", "alpha": "1.0"].merging(divergence) { $1 })
    }
}
