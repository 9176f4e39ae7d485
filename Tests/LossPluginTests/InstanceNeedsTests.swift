import PluginHost
import XCTest

/// What one instance of a built-in loss reads follows its options (plugin.h, `instance_needs`):
/// token inputs for sft only with token_mean, no reference model for dpo, cdpo and rpo only with
/// reference_rewards=false; the other losses read what their vtable declares.
final class InstanceNeedsTests: XCTestCase {
    typealias Needs = LossPlugin.Needs

    func needs(_ plugin: String, _ options: [String: String] = [:]) throws -> Needs {
        try LossFixtures.loss(plugin, options).needs
    }

    func testSFTReadsTokensOnlyForTokenMean() throws {
        let base: Needs = [.sequence, .pairWeights, .referenceFree, .chosenOnly]
        XCTAssertEqual(try needs("sft"), base)
        XCTAssertEqual(try needs("sft", ["token_mean": "true"]), base.union(.token))
    }

    func testDPOFamilyDropsTheReferenceOnlyWithoutReferenceRewards() throws {
        let free = ["beta": "0.1", "reference_free": "true", "reference_rewards": "false"]
        for plugin in ["dpo", "cdpo"] {
            XCTAssertEqual(try needs(plugin, ["beta": "0.1"]), [.sequence, .pairWeights], plugin)
            XCTAssertEqual(try needs(plugin, ["beta": "0.1", "reference_free": "true"]), [.sequence, .pairWeights], plugin)
            XCTAssertEqual(try needs(plugin, free), [.sequence, .pairWeights, .referenceFree], plugin)
        }
        XCTAssertEqual(try needs("rpo"), [.sequence, .pairWeights, .token])
        XCTAssertEqual(try needs("rpo", free), [.sequence, .pairWeights, .token, .referenceFree])
    }

    func testOtherLossesReadWhatTheirVTableDeclares() throws {
        XCTAssertEqual(try needs("tdpo"), [.token, .logits, .scoredLogitsOnly, .dataOrder31BitSeeds])
        XCTAssertEqual(try needs("simpo"), [.sequence, .pairWeights, .referenceFree])
        XCTAssertEqual(try needs("ipo", ["beta": "0.1"]), [.sequence, .pairWeights])
        XCTAssertEqual(try needs("hinge"), [.sequence, .pairWeights])
    }
}
