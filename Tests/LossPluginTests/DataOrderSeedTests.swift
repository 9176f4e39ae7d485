import Objective
import PluginHost
import Training
import XCTest

/// Which reference's data order a run follows: the TDPO plugin asks for the TDPO reference's
/// 31-bit permutation seeds; the run follows its first loss that reads a reference model.
final class DataOrderSeedTests: XCTestCase {
    func combined(_ variants: [LossVariant]) throws -> CombinedLoss {
        CombinedLoss(try variants.map { WeightedLoss(name: $0.pluginName, computation: LossComputation(plugin: try $0.plugin())) })
    }

    func testATDPORunUsesTheTDPOReferencesSeedsAndADPORunTheDPOReferences() throws {
        XCTAssertTrue(try combined([.tdpo2]).dataOrder31BitSeeds)
        XCTAssertTrue(try combined([.tdpo1]).dataOrder31BitSeeds)
        XCTAssertFalse(try combined([.dpo]).dataOrder31BitSeeds)
        XCTAssertFalse(try combined([.sft]).dataOrder31BitSeeds)
    }

    func testAMixedRunFollowsItsFirstLossThatReadsAReference() throws {
        XCTAssertTrue(try combined([.sft, .tdpo2]).dataOrder31BitSeeds, "sft reads no reference: tdpo decides")
        XCTAssertFalse(try combined([.dpo, .tdpo2]).dataOrder31BitSeeds)
        XCTAssertTrue(try combined([.tdpo2, .dpo]).dataOrder31BitSeeds)
    }
}
