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
}
