import CMPI
import Foundation

/// Collectives that run behind the caller's compute: FSDP starts the next unit's all-gather while
/// the current unit computes, and a unit's gradient reduce-scatter while the next one's backward
/// runs (docs/multi-host.md).
///
/// The queue owns a duplicate of its communicator (so its collectives never interleave with the
/// caller's own on the original) and one thread that runs the queued collectives in the order they
/// were queued, which is the same on every rank. Each is started non-blocking and then tested with
/// a short sleep between tests: Open MPI moves data only inside its calls, and a blocking call
/// would spin a core that the compute threads need. A collective that fails fails every later
/// one (the run ends on the first error). Every queued collective is watched by the
/// communicator's watchdog like a blocking one.
public final class CollectiveQueue: @unchecked Sendable {
    /// A queued collective: `wait()` returns once it finished on this rank (its `then` ran).
    public final class Pending: @unchecked Sendable {
        private let condition = NSCondition()
        private var finished = false
        private var failure: Error?
        fileprivate weak var queue: CollectiveQueue?

        /// Blocks until the collective finished; rethrows its failure. The time blocked counts as
        /// this rank's wait on communication (`Communicator.Traffic.seconds`).
        public func wait() throws {
            condition.lock()
            if !finished {
                let start = DispatchTime.now().uptimeNanoseconds
                while !finished { condition.wait() }
                queue?.addWait(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let failure = self.failure
            condition.unlock()
            if let failure { throw failure }
        }

        fileprivate func finish(_ error: Error?) {
            condition.lock()
            finished = true
            failure = error
            condition.broadcast()
            condition.unlock()
        }
    }

    private struct Job {
        let name: String
        let bytes: Int
        /// Starts the non-blocking collective on the queue's communicator.
        let start: (MPI_Comm, UnsafeMutablePointer<MPI_Request?>) -> Int32
        /// Runs on the queue's thread once the collective finished, before `pending` completes.
        let then: (() -> Void)?
        let pending: Pending
    }

    /// Seconds between tests of a running collective: short against a unit's transfer (tens of
    /// milliseconds), long enough that the thread stays off the cores.
    static let testInterval: useconds_t = 50

    let size: Int
    private let comm: MPI_Comm
    private let watchdog: CollectiveWatchdog?
    private let bfloat16Sum: MPI_Op
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var closed = false
    private var failure: Error?
    private let stopped = DispatchSemaphore(value: 0)
    private let statsLock = NSLock()
    private var stats = Communicator.Traffic()
    /// Seconds collectives ran on the queue's thread. At any moment the caller either computes or
    /// waits for the queue, so this less the caller's waits is what ran behind compute.
    private var runningSeconds = 0.0

    /// Collective over `comm`'s ranks (it duplicates `comm`).
    init(duplicating parent: MPI_Comm, size: Int, watchdog: CollectiveWatchdog?, bfloat16Sum: MPI_Op) throws {
        var dup: MPI_Comm?
        try MPIResult.check("MPI_Comm_dup", MPI_Comm_dup(parent, &dup))
        comm = dup!
        try MPIResult.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(comm, cmpi_errors_return()))
        self.size = size
        self.watchdog = watchdog
        self.bfloat16Sum = bfloat16Sum
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "dpohost-collective-queue"
        thread.start()
    }

    /// The queue's collectives so far: calls, bytes, the seconds callers waited on them, and the
    /// seconds they ran while the caller computed.
    var traffic: Communicator.Traffic {
        statsLock.withLock {
            var t = stats
            t.overlappedSeconds = max(0, runningSeconds - stats.seconds)
            return t
        }
    }

    fileprivate func addWait(_ seconds: Double) { statsLock.withLock { stats.seconds += seconds } }

    // MARK: Collectives (the caller keeps the buffers alive and untouched until `wait()` returns)

    /// Rank r's `send` lands at `recv[r*send.count ..< (r+1)*send.count]`.
    public func allGather(_ send: UnsafeBufferPointer<Float>, into recv: UnsafeMutableBufferPointer<Float>,
                          then: (() -> Void)? = nil) throws -> Pending {
        try allGather(UnsafeRawPointer(send.baseAddress), send.count, into: UnsafeMutableRawPointer(recv.baseAddress),
                      recv.count, cmpi_float(), elementBytes: 4, then: then)
    }

    /// bfloat16 `send` of every rank, concatenated in rank order.
    public func allGather(bfloat16 send: UnsafeBufferPointer<UInt16>, into recv: UnsafeMutableBufferPointer<UInt16>,
                          then: (() -> Void)? = nil) throws -> Pending {
        try allGather(UnsafeRawPointer(send.baseAddress), send.count, into: UnsafeMutableRawPointer(recv.baseAddress),
                      recv.count, cmpi_uint16(), elementBytes: 2, then: then)
    }

    /// Sums `send` over ranks and leaves block r (`recv.count` elements) on rank r.
    public func reduceScatterSum(_ send: UnsafeBufferPointer<Float>, into recv: UnsafeMutableBufferPointer<Float>,
                                 then: (() -> Void)? = nil) throws -> Pending {
        try reduceScatter(UnsafeRawPointer(send.baseAddress), send.count, into: UnsafeMutableRawPointer(recv.baseAddress),
                          recv.count, cmpi_float(), cmpi_sum(), elementBytes: 4, then: then)
    }

    /// Sums bfloat16 `send` over ranks, rounding every partial sum to bfloat16, and leaves block r
    /// on rank r.
    public func reduceScatterSum(bfloat16 send: UnsafeBufferPointer<UInt16>, into recv: UnsafeMutableBufferPointer<UInt16>,
                                 then: (() -> Void)? = nil) throws -> Pending {
        try reduceScatter(UnsafeRawPointer(send.baseAddress), send.count, into: UnsafeMutableRawPointer(recv.baseAddress),
                          recv.count, cmpi_uint16(), bfloat16Sum, elementBytes: 2, then: then)
    }

    private func allGather(_ send: UnsafeRawPointer?, _ sendCount: Int, into recv: UnsafeMutableRawPointer?, _ recvCount: Int,
                           _ type: MPI_Datatype?, elementBytes: Int, then: (() -> Void)?) throws -> Pending {
        let n = try MPIResult.allGatherCount("MPI_Iallgather", send: sendCount, recv: recvCount, ranks: size)
        return enqueue("MPI_Iallgather", bytes: recvCount * elementBytes, then: then) { comm, request in
            MPI_Iallgather(send, n, type, recv, n, type, comm, request)
        }
    }

    private func reduceScatter(_ send: UnsafeRawPointer?, _ sendCount: Int, into recv: UnsafeMutableRawPointer?, _ recvCount: Int,
                               _ type: MPI_Datatype?, _ op: MPI_Op?, elementBytes: Int, then: (() -> Void)?) throws -> Pending {
        let n = try MPIResult.reduceScatterCount("MPI_Ireduce_scatter_block", send: sendCount, recv: recvCount, ranks: size)
        return enqueue("MPI_Ireduce_scatter_block", bytes: sendCount * elementBytes, then: then) { comm, request in
            MPI_Ireduce_scatter_block(send, recv, n, type, op, comm, request)
        }
    }

    private func enqueue(_ name: String, bytes: Int, then: (() -> Void)?,
                         start: @escaping (MPI_Comm, UnsafeMutablePointer<MPI_Request?>) -> Int32) -> Pending {
        let pending = Pending()
        pending.queue = self
        condition.lock()
        if let failure {
            condition.unlock()
            pending.finish(failure)
            return pending
        }
        jobs.append(Job(name: name, bytes: bytes, start: start, then: then, pending: pending))
        condition.signal()
        condition.unlock()
        return pending
    }

    // MARK: The queue's thread

    private func run() {
        while let job = next() {
            let failure = self.failure ?? perform(job)
            if failure == nil { job.then?() }
            condition.withLock { if self.failure == nil { self.failure = failure } }
            job.pending.finish(failure)
        }
        stopped.signal()
    }

    private func next() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !closed { condition.wait() }
        return jobs.isEmpty ? nil : jobs.removeFirst()
    }

    private func perform(_ job: Job) -> Error? {
        let token = watchdog?.begin(job.name)
        defer { if let token { watchdog?.end(token) } }
        let start = DispatchTime.now().uptimeNanoseconds
        var request: MPI_Request?
        var code = job.start(comm, &request)
        var done: Int32 = 0
        while code == cmpi_success() {
            code = MPI_Test(&request, &done, cmpi_status_ignore())
            if done != 0 { break }
            usleep(Self.testInterval)
        }
        statsLock.withLock {
            stats.calls += 1
            stats.bytes += job.bytes
            runningSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        do { try MPIResult.check(job.name, code) } catch { return error }
        return nil
    }

    /// Finishes the queued collectives, stops the thread and frees the duplicate communicator.
    /// Before `MPI_Finalize`.
    func close() {
        condition.withLock {
            closed = true
            condition.signal()
        }
        stopped.wait()
        var c: MPI_Comm? = comm
        MPI_Comm_free(&c)
    }
}
