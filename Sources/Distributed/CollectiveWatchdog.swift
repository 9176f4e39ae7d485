import CMPI
import Foundation

/// Aborts the MPI job when one collective waits longer than `timeout`: a peer that hangs (stopped,
/// deadlocked, stuck on I/O) never exits, so `mpirun` alone would wait forever.
///
/// The waiting thread marks the start and end of each collective; a background thread checks the
/// deadline twice a second and calls `MPI_Abort`, which ends every rank.
final class CollectiveWatchdog: @unchecked Sendable {
    let timeout: Double
    private let lock = NSLock()
    private var current: (name: String, since: Date)?
    private var stopped = false
    private let rank: Int
    private let comm: MPI_Comm

    init(timeout: Double, rank: Int, comm: MPI_Comm) {
        self.timeout = timeout
        self.rank = rank
        self.comm = comm
        let thread = Thread { [weak self] in
            while let self, self.poll() { Thread.sleep(forTimeInterval: 0.5) }
        }
        thread.name = "dpohost-collective-watchdog"
        thread.start()
    }

    func begin(_ name: String) { lock.withLock { current = (name, Date()) } }
    func end() { lock.withLock { current = nil } }
    func stop() { lock.withLock { stopped = true } }

    /// False once stopped. Aborts (never returns) when the deadline passed.
    private func poll() -> Bool {
        let (running, expired) = lock.withLock { () -> (Bool, (String, Double)?) in
            guard !stopped else { return (false, nil) }
            guard let current else { return (true, nil) }
            let waited = Date().timeIntervalSince(current.since)
            return (true, waited > timeout ? (current.name, waited) : nil)
        }
        if let (name, waited) = expired {
            let message = "error: rank \(rank): \(name) waited \(Int(waited)) s for the other ranks (collective_timeout_secs=\(timeout)); a rank died or hangs, aborting the job\n"
            FileHandle.standardError.write(Data(message.utf8))
            MPI_Abort(comm, 3)
        }
        return running
    }
}
