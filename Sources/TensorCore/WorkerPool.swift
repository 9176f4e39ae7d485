import CBLAS
import Dispatch

/// Spreads the non-BLAS kernels over the cores, and sets OpenBLAS's own thread count.
///
/// A pool is a value the caller owns (the autograd tape holds one), not process state; OpenBLAS's
/// thread count is process-wide inside OpenBLAS itself, so the last pool created sets it.
public struct WorkerPool: Sendable {
    public let threads: Int
    public let blasThreads: Int

    /// `threads`: workers for Swift kernels; `blasThreads`: OpenBLAS threads (default: same).
    public init(threads: Int? = nil, blasThreads: Int? = nil) {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        self.threads = max(1, threads ?? cores)
        self.blasThreads = max(1, blasThreads ?? self.threads)
        openblas_set_num_threads(Int32(self.blasThreads))
    }

    /// A single-threaded pool (used inside already-parallel loops and in tests).
    public static let serial = WorkerPool(uninitialised: 1)

    private init(uninitialised threads: Int) {
        self.threads = threads
        self.blasThreads = threads
    }

    /// Runs `body(range)` over `0..<count` split into contiguous chunks, one per worker.
    /// Small jobs (below `grain` items) run inline to avoid dispatch overhead.
    public func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        let per = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * per, hi = min(count, lo + per)
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }
}

/// Lets a non-Sendable closure cross into `concurrentPerform`; each chunk touches disjoint data.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

import Foundation
