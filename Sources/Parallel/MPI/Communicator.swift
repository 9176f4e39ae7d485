import CMPI
import Foundation
import TensorCore

/// Collectives over one MPI communicator on float32 buffers (plus small double and byte helpers
/// for metrics and state). Every rank must make the same calls in the same order.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// The host name of each rank (its machine's name, as `MPI_Get_processor_name` gives it).
    public private(set) var hosts: [String] = []
    private let comm: MPI_Comm
    private var watchdog: CollectiveWatchdog?

    init(comm: MPI_Comm, collectiveTimeout: Double?) throws {
        var r: Int32 = 0, s: Int32 = 0
        try MPIResult.check("MPI_Comm_rank", MPI_Comm_rank(comm, &r))
        try MPIResult.check("MPI_Comm_size", MPI_Comm_size(comm, &s))
        self.comm = comm
        rank = Int(r)
        size = Int(s)
        hosts = try gatherHostNames()
        // One rank has no one to wait for.
        watchdog = (collectiveTimeout.map { $0 > 0 } ?? false) && s > 1
            ? CollectiveWatchdog(timeout: collectiveTimeout!, rank: Int(r), hosts: hosts, comm: comm) : nil
    }

    /// Every rank's host name, on every rank (a fixed-width all-gather, once at start).
    private func gatherHostNames() throws -> [String] {
        let width = Int(cmpi_max_processor_name()) + 1
        var name = [CChar](repeating: 0, count: width)
        var length: Int32 = 0
        try MPIResult.check("MPI_Get_processor_name", MPI_Get_processor_name(&name, &length))
        var all = [CChar](repeating: 0, count: width * size)
        try name.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { recv in
                try guarded("MPI_Allgather", bytes: recv.count) {
                    MPI_Allgather(send.baseAddress, Int32(width), cmpi_byte(), recv.baseAddress, Int32(width), cmpi_byte(), comm)
                }
            }
        }
        return (0..<size).map { r in
            let bytes = all[(r * width)..<((r + 1) * width)].prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// `rank R on HOST` for messages.
    public func describe(rank r: Int) -> String { Self.describe(rank: r, hosts: hosts) }
    static func describe(rank r: Int, hosts: [String]) -> String { "rank \(r) on \(r < hosts.count ? hosts[r] : "?")" }

    /// The distinct hosts in rank order, for the log (`2 ranks on 2 hosts: a, b`).
    public var hostSummary: String {
        var seen: [String] = []
        for h in hosts where !seen.contains(h) { seen.append(h) }
        return "\(size) ranks on \(seen.count) host\(seen.count == 1 ? "" : "s"): \(seen.joined(separator: ", "))"
    }

    public var isRoot: Bool { rank == 0 }

    /// Finishes and closes the background queue, then stops the watchdog (before `MPI_Finalize`).
    func shutDown() {
        queue?.close()
        queue = nil
        watchdog?.stop()
    }

    private var queue: CollectiveQueue?

    /// The queue whose collectives run behind the caller's compute (`CollectiveQueue`), made on
    /// the first call. Collective: every rank makes the first call at the same point.
    public func backgroundQueue() throws -> CollectiveQueue {
        if let queue { return queue }
        let made = try CollectiveQueue(duplicating: comm, size: size, watchdog: watchdog, bfloat16Sum: try bfloat16Sum())
        queue = made
        return made
    }

    /// Collectives this rank took part in: calls, the bytes of their buffers (what the rank
    /// gathers, scatters or reduces, before Open MPI's own algorithm), and the seconds this
    /// rank's caller waited on them (inside a blocking one: the transfer and any wait for slower
    /// ranks; for a queued one, only while `wait()` blocked), for the communication report.
    public struct Traffic: Sendable, Equatable {
        public var calls = 0
        public var bytes = 0
        public var seconds = 0.0
        /// Seconds a `CollectiveQueue` ran collectives while its caller computed instead of
        /// waiting on them: the communication hidden behind compute.
        public var overlappedSeconds = 0.0
        public init() {}

        public static func - (after: Traffic, before: Traffic) -> Traffic {
            var d = Traffic()
            d.calls = after.calls - before.calls
            d.bytes = after.bytes - before.bytes
            d.seconds = after.seconds - before.seconds
            d.overlappedSeconds = after.overlappedSeconds - before.overlappedSeconds
            return d
        }

        public static func + (a: Traffic, b: Traffic) -> Traffic {
            var s = a
            s.calls += b.calls
            s.bytes += b.bytes
            s.seconds += b.seconds
            s.overlappedSeconds += b.overlappedSeconds
            return s
        }
    }

    /// The blocking collectives' traffic and the background queue's together.
    public var traffic: Traffic { queue.map { blocking + $0.traffic } ?? blocking }
    private var blocking = Traffic()

    private func guarded(_ name: String, bytes: Int = 0, _ body: () -> Int32) throws {
        let token = watchdog?.begin(name)
        let start = DispatchTime.now().uptimeNanoseconds
        let code = body()
        blocking.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        blocking.calls += 1
        blocking.bytes += bytes
        if let token { watchdog?.end(token) }
        try MPIResult.check(name, code)
    }

    // MARK: float32

    /// `buffer[i] = sum over ranks of buffer[i]`, in place.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        let n = try MPIResult.count("MPI_Allreduce", buffer.count)
        try guarded("MPI_Allreduce", bytes: 4 * buffer.count) {
            MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, n, cmpi_float(), cmpi_sum(), comm)
        }
    }

    /// Rank r's `send` lands at `recv[r*send.count ..< (r+1)*send.count]`.
    public func allGather(_ send: UnsafeBufferPointer<Float>, into recv: UnsafeMutableBufferPointer<Float>) throws {
        let n = try MPIResult.allGatherCount("MPI_Allgather", send: send.count, recv: recv.count, ranks: size)
        try guarded("MPI_Allgather", bytes: 4 * recv.count) {
            MPI_Allgather(send.baseAddress, n, cmpi_float(), recv.baseAddress, n, cmpi_float(), comm)
        }
    }

    private var bf16SumOp: MPI_Op?
    func bfloat16Sum() throws -> MPI_Op {
        if let bf16SumOp { return bf16SumOp }
        var op: MPI_Op?
        // inout[i] = bf16(in[i] + inout[i]): each partial sum rounded to bfloat16, as a bf16
        // all-reduce does.
        try MPIResult.check("MPI_Op_create", MPI_Op_create({ input, output, count, _ in
            guard let input, let output, let count else { return }
            let a = input.assumingMemoryBound(to: UInt16.self), b = output.assumingMemoryBound(to: UInt16.self)
            for i in 0..<Int(count.pointee) { b[i] = BFloat16.bits(BFloat16.value(a[i]) + BFloat16.value(b[i])) }
        }, 1, &op))
        bf16SumOp = op
        return op!
    }

    /// Root's `send` blocks land in rank order in root's `recv` (`recv` is ignored elsewhere).
    public func gather(_ send: UnsafeBufferPointer<Float>, into recv: UnsafeMutableBufferPointer<Float>?, root: Int = 0) throws {
        let n = try MPIResult.count("MPI_Gather", send.count)
        try guarded("MPI_Gather", bytes: 4 * send.count) {
            MPI_Gather(send.baseAddress, n, cmpi_float(), recv?.baseAddress, n, cmpi_float(), Int32(root), comm)
        }
    }

    /// Overwrites `buffer` on every rank with root's values.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        let n = try MPIResult.count("MPI_Bcast", buffer.count)
        try guarded("MPI_Bcast", bytes: 4 * buffer.count) { MPI_Bcast(buffer.baseAddress, n, cmpi_float(), Int32(root), comm) }
    }

    public func barrier() throws {
        try guarded("MPI_Barrier") { MPI_Barrier(comm) }
    }

    // MARK: small helpers

    /// Element-wise sum over ranks of a few doubles (norms, counters).
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var out = values
        let n = try MPIResult.count("MPI_Allreduce", values.count)
        try out.withUnsafeMutableBufferPointer { b in
            try guarded("MPI_Allreduce") {
                MPI_Allreduce(cmpi_in_place(), b.baseAddress, n, cmpi_double(), cmpi_sum(), comm)
            }
        }
        return out
    }

    /// Every rank's `values` concatenated in rank order (lengths may differ).
    public func allGatherConcatenated(_ values: [Float]) throws -> [Float] {
        var counts = [Int32](repeating: 0, count: size)
        var mine = try MPIResult.count("MPI_Allgather", values.count)
        try counts.withUnsafeMutableBufferPointer { c in
            try guarded("MPI_Allgather") {
                MPI_Allgather(&mine, 1, cmpi_int32(), c.baseAddress, 1, cmpi_int32(), comm)
            }
        }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + counts[r - 1] }
        var out = [Float](repeating: 0, count: Int(counts.reduce(0, +)))
        try values.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBufferPointer { o in
                try guarded("MPI_Allgatherv") {
                    MPI_Allgatherv(s.baseAddress, mine, cmpi_float(), o.baseAddress, counts, displacements, cmpi_float(), comm)
                }
            }
        }
        return out
    }

    /// Root's bytes on every rank (length sent first).
    public func broadcast(bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var length = [Double(bytes.count)]
        try length.withUnsafeMutableBufferPointer { b in
            try guarded("MPI_Bcast") { MPI_Bcast(b.baseAddress, 1, cmpi_double(), Int32(root), comm) }
        }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        let n = try MPIResult.count("MPI_Bcast", out.count)
        try out.withUnsafeMutableBufferPointer { b in
            try guarded("MPI_Bcast") { MPI_Bcast(b.baseAddress, n, cmpi_byte(), Int32(root), comm) }
        }
        return out
    }

    /// Root's string on every rank.
    public func broadcast(string: String, root: Int = 0) throws -> String {
        String(decoding: try broadcast(bytes: Array(string.utf8), root: root), as: UTF8.self)
    }
}
