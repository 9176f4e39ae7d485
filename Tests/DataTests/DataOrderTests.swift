import DataPipeline
import Foundation
import XCTest

/// Data order is the reference's, bit for bit: numpy's legacy seeding for the permutation seeds and
/// Python's `random.shuffle`, compounding across epochs (golden values from Golden/make_shuffle_golden.py).
final class DataOrderTests: XCTestCase {
    struct Golden: Decodable {
        let dpo_seeds: [UInt32]
        let tdpo_seeds: [UInt32]
        let compound_shuffles_of_range_23: [[Int]]
        let python_seed0_getrandbits32: [UInt32]
    }
    let golden = try! JSONDecoder().decode(Golden.self, from: Data(contentsOf:
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/shuffle_golden.json")))

    func testPermutationSeedsMatchNumpyLegacySeedZero() {
        XCTAssertEqual(MersenneTwister.permutationSeeds(count: 5), golden.dpo_seeds)
    }

    func testTDPOPermutationSeedsAreDrawnBelowTwoToThe31() {
        XCTAssertEqual(MersenneTwister.permutationSeeds(count: 5, tdpoBounds: true), golden.tdpo_seeds)
    }

    func testPythonSeedingMatchesRandomSeed() {
        var mt = MersenneTwister(pythonSeed: 0)
        XCTAssertEqual((0..<3).map { _ in mt.next32() }, golden.python_seed0_getrandbits32)
    }

    func testShufflesCompoundAcrossEpochsLikePython() {
        var items = Array(0..<23)
        for (epoch, expected) in golden.compound_shuffles_of_range_23.enumerated() {
            var mt = MersenneTwister(pythonSeed: golden.dpo_seeds[epoch])
            mt.shuffle(&items)
            XCTAssertEqual(items, expected, "epoch \(epoch)")
        }
    }
}
