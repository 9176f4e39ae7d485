import XCTest
import TensorCore

/// The elementwise kernels and the zero-fill that are split over workers give the same bits as
/// on one thread, whatever the split (sizes on both sides of the thresholds, odd shapes).
final class ParallelKernelTests: XCTestCase {
    /// Three workers: an uneven split. Creating a pool sets the process-wide product split, so
    /// the previous one is restored after each test.
    var pool: WorkerPool!
    private var savedGemmThreads = 1

    override func setUp() {
        savedGemmThreads = Gemm.threads
        pool = WorkerPool(threads: 3)
    }

    override func tearDown() {
        Gemm.threads = savedGemmThreads
    }

    /// Deterministic values of mixed sign and magnitude (an LCG; TensorCore has no RNG).
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let unit = Float(state >> 40) / Float(1 << 24) * 2 - 1
            return unit * Float(1 << Int((state >> 20) % 12))
        }
    }

    func tensor(_ shape: [Int], seed: UInt64) throws -> Tensor {
        try Tensor(shape: shape, values: values(Tensor.elementCount(shape), seed: seed))
    }

    func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

    func testZeroedStorageIsAllZeroJustBelowAndAboveTheParallelThreshold() {
        Gemm.threads = 3
        let threshold = TensorStorage.parallelZeroBytes / MemoryLayout<Float>.stride
        for count in [threshold - 1, threshold, threshold + 1, threshold + 1025, 3 * threshold + 7] {
            // A dirty buffer of the same size goes back to the buffer cache first, so the zeroed
            // allocation below (usually) gets those very bytes back.
            do {
                let dirty = TensorStorage(count: count, zeroed: false)
                dirty.pointer.update(repeating: .nan, count: count)
            }
            let s = TensorStorage(count: count)
            let buffer = UnsafeBufferPointer(start: s.pointer, count: count)
            XCTAssertNil(buffer.firstIndex { $0.bitPattern != 0 }, "count \(count)")
        }
    }

    func testParallelCopyOfStridedViewsEqualsTheElementwiseOne() throws {
        // A slice of a fused [B, T, H, 3 * d] projection (Pythia's split) and a transpose, large
        // enough for three workers, plus a small one that stays on the calling thread.
        let fused = try tensor([7, 43, 11, 3 * 31], seed: 1)
        let views = [try fused.slice(axis: 3, 31..<62), try fused.transposed(1, 2),
                     try tensor([3, 5, 6], seed: 2).slice(axis: 2, 1..<4)]
        for view in views {
            XCTAssertFalse(view.isContiguous)
            var expected: [Float] = []
            view.forEachOffset { expected.append(view.storage.pointer[$0]) }
            XCTAssertEqual(view.contiguous(pool: pool).scalars.map(\.bitPattern), expected.map(\.bitPattern))
            XCTAssertEqual(bits(view.contiguous(pool: pool)), bits(view.contiguous()))
        }
    }

    func testParallelAccumulateIntoDenseAndStridedViewsEqualsTheSerialOne() throws {
        for (shape, slice) in [([7, 43, 11, 93], 31..<62), ([2, 3, 9], 2..<5)] {
            var sliced = shape
            sliced[shape.count - 1] = slice.count
            let addend = try tensor(sliced, seed: 3)
            let serial = try tensor(shape, seed: 4), parallel = try tensor(shape, seed: 4)
            try serial.slice(axis: shape.count - 1, slice).accumulate(addend)
            try parallel.slice(axis: shape.count - 1, slice).accumulate(addend, pool: pool)
            XCTAssertEqual(bits(parallel), bits(serial), "\(shape)")

            let dense = try tensor(shape, seed: 5)
            let a = try tensor(shape, seed: 6), b = try tensor(shape, seed: 6)
            try a.accumulate(dense)
            try b.accumulate(dense, pool: pool)
            XCTAssertEqual(bits(b), bits(a), "\(shape)")
        }
    }

    func testAssignZeroPlusGivesTheBitsOfAccumulatingIntoZeros() throws {
        // `0 + -0` is `+0`: a first gradient written without zero-filling must not keep a -0.
        var v = values(3 * Tensor.parallelGrain + 5, seed: 7)
        v[0] = -0.0
        v[v.count - 1] = -0.0
        let source = try Tensor(shape: [v.count], values: v)
        for p in [WorkerPool.serial, pool!] {
            let expected = Tensor(zeros: [v.count])
            try expected.accumulate(source)
            let out = Tensor(uninitialized: [v.count])
            try out.assign(zeroPlus: source, pool: p)
            XCTAssertEqual(out[0].bitPattern, Float(0).bitPattern)
            XCTAssertEqual(bits(out), bits(expected))
        }
        // Through a strided view: only the viewed elements are written.
        let base = try tensor([40, 3000], seed: 8)
        let before = base.scalars
        let columns = try tensor([40, 1000], seed: 9)
        try base.slice(axis: 1, 1000..<2000).assign(zeroPlus: columns, pool: pool)
        let after = base.scalars
        for r in 0..<40 {
            for c in 0..<3000 {
                let expected = (1000..<2000).contains(c) ? 0 + columns[r, c - 1000] : before[r * 3000 + c]
                XCTAssertEqual(after[r * 3000 + c].bitPattern, expected.bitPattern)
            }
        }
    }

    func testParallelColumnSumsEqualTheSerialOnesBitForBit() throws {
        // Odd sizes, so the column blocks are uneven; db starts non-zero (it accumulates).
        for (rows, width) in [(517, 1001), (3, 7), (1, 4099)] {
            let dy = values(rows * width, seed: 10), start = values(width, seed: 11)
            var serial = start, parallel = start
            dy.withUnsafeBufferPointer { d in
                ReduceSum.backwardColumns(dy: d.baseAddress!, into: &serial, rows: rows, width: width, pool: .serial)
                ReduceSum.backwardColumns(dy: d.baseAddress!, into: &parallel, rows: rows, width: width, pool: pool)
            }
            // The serial reference: each column summed over the rows in order.
            var reference = start
            for r in 0..<rows { for i in 0..<width { reference[i] += dy[r * width + i] } }
            XCTAssertEqual(serial.map(\.bitPattern), reference.map(\.bitPattern), "\(rows)x\(width)")
            XCTAssertEqual(parallel.map(\.bitPattern), reference.map(\.bitPattern), "\(rows)x\(width)")
        }
    }

    func testParallelBroadcastOfSameShapesEqualsTheSerialOne() throws {
        let shape = [513, 257]
        let a = try tensor(shape, seed: 12), b = try tensor(shape, seed: 13)
        for op in [Broadcast.Operation.add, .sub, .mul, .div] {
            XCTAssertEqual(bits(Broadcast.forward(op, a, b, outShape: shape, pool: pool)),
                           bits(Broadcast.forward(op, a, b, outShape: shape, pool: .serial)), "\(op)")
        }
        for sign: Float in [1, -1] {
            let serial = try tensor(shape, seed: 14), parallel = try tensor(shape, seed: 14)
            Broadcast.accumulateReduced(a, into: serial, sign: sign, pool: .serial)
            Broadcast.accumulateReduced(a, into: parallel, sign: sign, pool: pool)
            XCTAssertEqual(bits(parallel), bits(serial))
        }
        // A reduced operand still sums over the broadcast axis, in row order.
        let row = try tensor([257], seed: 15)
        var expected = row.scalars
        for r in 0..<513 { for i in 0..<257 { expected[i] += a[r, i] } }
        Broadcast.accumulateReduced(a, into: row, pool: pool)
        XCTAssertEqual(bits(row), expected.map(\.bitPattern))
    }
}
