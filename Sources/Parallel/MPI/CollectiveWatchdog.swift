import CMPI
import Foundation

/// Aborts the MPI job when one collective waits longer than `timeout`: a peer that hangs (stopped,
/// deadlocked, stuck on I/O) never exits, so `mpirun` alone would wait forever.
///
/// Each collective is marked at its start and end by the thread that runs it (the caller's, or a
/// `CollectiveQueue`'s, so several may be in flight); a background thread checks the oldest one's
/// deadline twice a second and calls `MPI_Abort`, which ends every rank. When a peer's host is
/// gone from the network, the abort itself waits on it for good (Open MPI tells every daemon,
/// the lost one included), so this rank ends itself `abortGrace` seconds later whatever the abort
/// does, and a local `mpirun` is ended too: the job then ends on every surviving host
/// (docs/multi-host.md).
final class CollectiveWatchdog: @unchecked Sendable {
    let timeout: Double
    static let abortGrace = 3.0
    private let lock = NSLock()
    /// The collectives in flight, by the token `begin` returned.
    private var inFlight: [Int: (name: String, since: Date)] = [:]
    private var nextToken = 0
    private var stopped = false
    private let rank: Int
    private let hosts: [String]
    private let comm: MPI_Comm

    init(timeout: Double, rank: Int, hosts: [String], comm: MPI_Comm) {
        self.timeout = timeout
        self.rank = rank
        self.hosts = hosts
        self.comm = comm
        let thread = Thread { [weak self] in
            while let self, self.poll() { Thread.sleep(forTimeInterval: 0.5) }
        }
        thread.name = "dpohost-collective-watchdog"
        thread.start()
    }

    /// Marks a collective's start; pass the token to `end`.
    func begin(_ name: String) -> Int {
        lock.withLock {
            nextToken += 1
            inFlight[nextToken] = (name, Date())
            return nextToken
        }
    }
    func end(_ token: Int) { lock.withLock { _ = inFlight.removeValue(forKey: token) } }
    func stop() { lock.withLock { stopped = true } }

    /// When `mpirun` is this rank's parent (the rank runs on the machine mpirun was started on),
    /// a detached process ends it `abortGrace` seconds from now: once a host is unreachable, Open
    /// MPI's abort waits on that host's daemon for good (and kills this rank first), so the job
    /// would never end here. After a clean abort mpirun is already gone. Ranks started by a remote
    /// daemon need nothing: the daemon ends with its ranks, or when it loses mpirun.
    static func armLauncherReaper() {
        let parent = getppid()
        guard let name = try? String(contentsOfFile: "/proc/\(parent)/comm", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines),
              ["mpirun", "mpiexec", "orterun", "prterun"].contains(name) else { return }
        let script = "sleep \(Int(abortGrace)); kill -9 \(parent) 2>/dev/null"
        let words: [String] = ["setsid", "-f", "/bin/sh", "-c", script]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        _ = posix_spawnp(&pid, "setsid", nil, nil, argv, environ)
    }

    /// False once stopped. Aborts (never returns) when the deadline passed.
    private func poll() -> Bool {
        let (running, expired) = lock.withLock { () -> (Bool, (String, Double)?) in
            guard !stopped else { return (false, nil) }
            guard let current = inFlight.values.min(by: { $0.since < $1.since }) else { return (true, nil) }
            let waited = Date().timeIntervalSince(current.since)
            return (true, waited > timeout ? (current.name, waited) : nil)
        }
        if let (name, waited) = expired {
            let host = { (r: Int) in Communicator.describe(rank: r, hosts: self.hosts) }
            let others = hosts.indices.filter { $0 != rank }.map(host).joined(separator: ", ")
            let message = "error: \(host(rank)): \(name) waited \(Int(waited)) s for the other ranks (\(others); collective_timeout_secs=\(timeout)); a rank died or hangs, or its host is unreachable: aborting the job\n"
            FileHandle.standardError.write(Data(message.utf8))
            Self.armLauncherReaper()
            let deadline = Thread {
                Thread.sleep(forTimeInterval: Self.abortGrace)
                _exit(3)
            }
            deadline.start()
            MPI_Abort(comm, 3)
            _exit(3)
        }
        return running
    }
}
