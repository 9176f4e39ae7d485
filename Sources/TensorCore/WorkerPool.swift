import Dispatch

/// Spreads the kernels over the cores, and sets how many blocks a matrix product is split into.
///
/// A pool is a value the caller owns (the autograd tape holds one), not process state; the
/// product split (`Gemm.threads`) is process-wide, like OpenBLAS's thread count, so the last
/// pool created sets it. The matrix-product library itself is kept single-threaded (see `Gemm`).
public struct WorkerPool: Sendable {
    public let threads: Int
    public let blasThreads: Int

    /// `threads`: workers for Swift kernels; `blasThreads`: blocks per matrix product (default: same).
    /// The default is the cores shared out among the ranks Open MPI placed on this machine
    /// (`OMPI_COMM_WORLD_LOCAL_SIZE`), so ranks on one machine do not compete for its cores.
    public init(threads: Int? = nil, blasThreads: Int? = nil) {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let localRanks = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        self.threads = max(1, threads ?? cores / max(1, localRanks))
        self.blasThreads = max(1, blasThreads ?? self.threads)
        Gemm.threads = self.blasThreads
        WorkerThreads.shared.reserve(max(self.threads, self.blasThreads) - 1)
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
        WorkerThreads.shared.run(chunks: chunks) { c in
            let lo = c * per, hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Lets a non-Sendable closure cross into `concurrentPerform`; each chunk touches disjoint data.
public struct UnsafeSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

import Foundation
