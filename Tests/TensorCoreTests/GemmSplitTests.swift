import XCTest
@testable import TensorCore

/// How `Gemm` hands a product to its threads: by rows of C when it has more rows, and for
/// `x · Wᵀ` also when W fits the cache (docs/performance.md, eighth round).
/// `GemmProductCheck` checks both splits' values against float64 products.
final class GemmSplitTests: XCTestCase {
    func testALinearsForwardWithAWeightThatFitsTheCacheSplitsByRowsOfX() {
        // llama-base's gate projection and its attention projections over 386 packed positions.
        XCTAssertTrue(Gemm.splitsRows(false, true, 386, 2048, 768, 2))
        XCTAssertTrue(Gemm.splitsRows(false, true, 386, 768, 768, 2))
        // GemmProductCheck's NT 96x130x40 over three blocks takes this path.
        XCTAssertTrue(Gemm.splitsRows(false, true, 96, 130, 40, 3))
    }

    func testTheHeadsForwardSplitsByColumnsSoThatEachThreadStreamsHalfTheWeight() {
        XCTAssertFalse(Gemm.splitsRows(false, true, 260, 50304, 768, 2))
    }

    func testTooFewRowsForEveryThreadKeepTheColumnSplit() {
        XCTAssertFalse(Gemm.splitsRows(false, true, 40, 300, 70, 3))
    }

    func testOtherLayoutsSplitTheLargerSideOfC() {
        // GPT-2's Conv1D forward (x · W, W [768, 3072]) and llama's input gradient (dy · W).
        XCTAssertFalse(Gemm.splitsRows(false, false, 386, 3072, 768, 2))
        XCTAssertFalse(Gemm.splitsRows(false, false, 386, 768, 2048, 2))
        // dW = dyᵀ · x: op(A) is transposed, its rows are not one core's.
        XCTAssertFalse(Gemm.splitsRows(true, false, 768, 2048, 386, 2))
        XCTAssertFalse(Gemm.splitsRows(true, true, 386, 2048, 768, 2))
    }
}
