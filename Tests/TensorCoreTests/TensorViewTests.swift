import XCTest
import TensorCore

/// Tensors are strided views: reshapes of dense tensors, transposes and slices share storage.
final class TensorViewTests: XCTestCase {
    func tensor(_ shape: [Int]) throws -> Tensor {
        try Tensor(shape: shape, values: (0..<Tensor.elementCount(shape)).map(Float.init))
    }

    func testRowMajorStrides() {
        XCTAssertEqual(Tensor.rowMajorStrides([2, 3, 4]), [12, 4, 1])
        XCTAssertEqual(Tensor.rowMajorStrides([]), [])
    }

    func testTransposeIsAViewThatReadsColumns() throws {
        let t = try tensor([2, 3])
        let tt = try t.transposed(0, 1)
        XCTAssertTrue(tt.storage === t.storage)
        XCTAssertFalse(tt.isContiguous)
        XCTAssertEqual(tt.shape, [3, 2])
        XCTAssertEqual(tt.scalars, [0, 3, 1, 4, 2, 5])
    }

    func testSliceIsAViewWithAnOffset() throws {
        let t = try tensor([3, 4])
        let s = try t.slice(axis: 1, 1..<3)
        XCTAssertTrue(s.storage === t.storage)
        XCTAssertEqual(s.scalars, [1, 2, 5, 6, 9, 10])
        let rows = try t.slice(axis: 0, 1..<3)
        XCTAssertTrue(rows.isContiguous)
        XCTAssertEqual(rows.offset, 4)
    }

    /// A slice of the last axis of a rank-4 tensor (Pythia's per-head query/key/value split): its
    /// rows sit at one fixed step, and copying it out or adding into it goes row by row.
    func testALastAxisSliceCopiesOutAndAccumulatesRowByRow() throws {
        let t = try tensor([2, 3, 2, 6])
        let s = try t.slice(axis: 3, 2..<4)
        var expected: [Float] = []
        for row in 0..<12 { expected += [Float(row * 6 + 2), Float(row * 6 + 3)] }
        XCTAssertEqual(s.contiguous(pool: WorkerPool(threads: 2)).scalars, expected)
        XCTAssertEqual(s.contiguous().scalars, expected)
        let ones = Tensor(shape: [2, 3, 2, 2], repeating: 1)
        try s.accumulate(ones, pool: WorkerPool(threads: 2))
        for i in 0..<t.count {
            XCTAssertEqual(t.pointer[i], Float(i) + ((i % 6 == 2 || i % 6 == 3) ? 1 : 0), "element \(i)")
        }
        // Outer axes with a gap between them (a slice of axis 1) still go through every row.
        let gapped = try t.slice(axis: 1, 1..<3)
        XCTAssertEqual(gapped.contiguous().scalars, (0..<t.count).filter { ($0 / 12) % 3 != 0 }.map { t.pointer[$0] })
    }

    func testReshapeOfADenseTensorSharesStorage() throws {
        let t = try tensor([2, 6])
        let r = try t.reshaped([3, -1])
        XCTAssertTrue(r.storage === t.storage)
        XCTAssertEqual(r.shape, [3, 4])
    }

    func testReshapeOfAStridedViewCopies() throws {
        let t = try tensor([2, 3]).transposed(0, 1)
        let r = try t.reshaped([6])
        XCTAssertFalse(r.storage === t.storage)
        XCTAssertEqual(r.scalars, [0, 3, 1, 4, 2, 5])
    }

    func testWritesThroughAViewReachTheBase() throws {
        let t = try tensor([2, 2])
        try t.slice(axis: 0, 1..<2).fill(-1)
        XCTAssertEqual(t.scalars, [0, 1, -1, -1])
        try t.transposed(0, 1).slice(axis: 0, 0..<1).accumulate(Tensor(shape: [1, 2], values: [10, 10]))
        XCTAssertEqual(t.scalars, [10, 1, 9, -1])
    }

    func testBlockStorageHoldsSeveralParametersAsViews() throws {
        // One flat buffer for a block, parameters as offset views (what a sharded trainer slices).
        let block = TensorStorage(count: 10)
        let w = Tensor(storage: block, offset: 0, shape: [2, 3])
        let b = Tensor(storage: block, offset: 6, shape: [4])
        w.fill(1); b.fill(2)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: block.pointer, count: 10)), [1, 1, 1, 1, 1, 1, 2, 2, 2, 2])
    }

    func testValueCountMismatchIsAnError() {
        XCTAssertThrowsError(try Tensor(shape: [2, 2], values: [1, 2, 3])) { error in
            XCTAssertTrue(String(describing: error).contains("[2, 2]"))
        }
        XCTAssertThrowsError(try IndexTensor(shape: [3], values: [1]))
    }

    func testBorrowedStorageRunsItsReleaseOnce() {
        var released = 0
        do {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 4)
            let s = TensorStorage(borrowing: p, count: 4) { released += 1; p.deallocate() }
            let t = Tensor(storage: s, shape: [4])
            t.fill(3)
            XCTAssertEqual(t.scalars, [3, 3, 3, 3])
        }
        XCTAssertEqual(released, 1)
    }
}

final class WorkerPoolTests: XCTestCase {
    func testParallelForCoversEveryIndexOnce() {
        let pool = WorkerPool(threads: 2)
        let n = 100_003
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        hits.initialize(repeating: 0, count: n)
        defer { hits.deallocate() }
        let box = UncheckedBox(hits)
        pool.parallelFor(n, grain: 1000) { r in for i in r { box.value[i] += 1 } }
        XCTAssertTrue((0..<n).allSatisfy { hits[$0] == 1 })
    }

    func testThreadCountIsConfigurable() {
        XCTAssertEqual(WorkerPool(threads: 1, blasThreads: 1).threads, 1)
        XCTAssertEqual(WorkerPool(threads: 3).blasThreads, 3)
        XCTAssertEqual(WorkerPool.serial.threads, 1)
    }
}

struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

final class GemmTests: XCTestCase {
    func testSgemmHonoursLeadingDimensionsOfStridedSlices() throws {
        // A is the second 2-column block of a [2, 4] matrix (lda 4).
        let a = try Tensor(shape: [2, 4], values: [9, 9, 1, 2, 9, 9, 3, 4])
        let b = try Tensor(shape: [2, 2], values: [1, 0, 0, 1])
        let c = Tensor(zeros: [2, 2])
        Gemm.sgemm(transA: false, transB: false, m: 2, n: 2, k: 2, a: a.pointer + 2, lda: 4, b: b.pointer, ldb: 2, c: c.pointer, ldc: 2)
        XCTAssertEqual(c.scalars, [1, 2, 3, 4])
    }

    func testSgemmAccumulatesWithBetaOne() throws {
        let a = try Tensor(shape: [1, 1], values: [2]), b = try Tensor(shape: [1, 1], values: [3])
        let c = try Tensor(shape: [1, 1], values: [1])
        Gemm.sgemm(transA: false, transB: false, m: 1, n: 1, k: 1, a: a.pointer, lda: 1, b: b.pointer, ldb: 1, beta: 1, c: c.pointer, ldc: 1)
        XCTAssertEqual(c.item, 7)
    }
}
