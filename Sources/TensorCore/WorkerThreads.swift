import Foundation
import Synchronization

/// The threads that run the parallel parts of every kernel and matrix product.
///
/// A step of a small model is hundreds of short parallel jobs (tens of microseconds each). Woken
/// from sleep, a dispatch worker starts 8-20 µs late (`bench kernels --row-kernels-only` prints
/// it), by which time the caller has often done the job alone. These threads instead keep
/// polling for the next job for a while (`spinNanoseconds`) before they sleep, so a job that follows
/// another starts on every core at once.
///
/// One job runs at a time; a caller that finds a job running (a nested call from inside a job, or
/// a second thread) runs its own chunks inline. Like the global dispatch queues it replaces, the
/// set of threads is process-wide: `shared` starts empty, `WorkerPool` adds threads up to its own
/// count less one (the caller is the other), and they live until exit.
public final class WorkerThreads: @unchecked Sendable {
    public static let shared = WorkerThreads()

    /// How long a worker polls for the next job before it sleeps, and a caller polls for the
    /// job's end before it starts yielding its core.
    static let spinNanoseconds: UInt64 = 100_000

    /// The published job: a pointer to the caller's `Job`, 0 when none.
    private let jobAddress = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    /// Workers between taking the job's address and their last use of it.
    private let inside = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let parking = NSCondition()

    private struct Job {
        let chunks: Int
        let body: (Int) -> Void
    }

    private let started = Mutex(0)

    /// Makes sure at least `count` worker threads run.
    public func reserve(_ count: Int) {
        started.withLock { started in
            while started < count {
                let thread = Thread { [unowned self] in self.work() }
                thread.name = "dpohost-worker"
                thread.start()
                started += 1
            }
        }
    }

    /// Runs `body(0..<chunks)`, each index once, on the calling thread and the workers; returns
    /// when all are done.
    public func run(chunks: Int, _ body: (Int) -> Void) {
        guard chunks > 1, running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for c in 0..<max(chunks, 0) { body(c) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = Job(chunks: chunks, body: body)
            withUnsafeMutablePointer(to: &job) { pointer in
                nextChunk.store(0, ordering: .relaxed)
                unfinished.store(chunks, ordering: .relaxed)
                jobAddress.store(Int(bitPattern: pointer), ordering: .sequentiallyConsistent)
                generation.add(1, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    parking.lock()
                    parking.broadcast()
                    parking.unlock()
                }
                runChunks(of: pointer.pointee)
                waitUntil { unfinished.load(ordering: .acquiring) == 0 }
                // No worker may still hold the address once this returns (the job is on this stack).
                jobAddress.store(0, ordering: .sequentiallyConsistent)
                waitUntil { inside.load(ordering: .sequentiallyConsistent) == 0 }
            }
        }
        running.store(false, ordering: .releasing)
    }

    /// Polls, then yields the core between polls (another process may need it: an MPI rank).
    private func waitUntil(_ done: () -> Bool) {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
        var spins = 0
        while !done() {
            spins += 1
            if spins % 256 == 0, DispatchTime.now().uptimeNanoseconds > deadline { sched_yield() }
        }
    }

    private func runChunks(of job: Job) {
        while true {
            let c = nextChunk.add(1, ordering: .relaxed).oldValue
            if c >= job.chunks { return }
            job.body(c)
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    private func work() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins % 256 == 0, DispatchTime.now().uptimeNanoseconds > deadline {
                    parking.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { parking.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    parking.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            inside.add(1, ordering: .sequentiallyConsistent)
            let address = jobAddress.load(ordering: .sequentiallyConsistent)
            if let job = UnsafePointer<Job>(bitPattern: address) {
                runChunks(of: job.pointee)
            }
            inside.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
