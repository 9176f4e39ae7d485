import CMPI

/// MPI's return codes and counts, checked: an error code becomes `DistributedError.mpi`, and a
/// count must fit MPI's 32 bits and match the buffers of the collective (the same rules for the
/// blocking collectives of `Communicator` and the queued ones of `CollectiveQueue`).
enum MPIResult {
    static func check(_ call: String, _ code: Int32) throws {
        guard code != cmpi_success() else { return }
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        let bytes = buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }
        throw DistributedError.mpi(call: call, code: code, message: String(decoding: bytes, as: UTF8.self))
    }

    static func count(_ call: String, _ n: Int) throws -> Int32 {
        guard n <= Int(Int32.max) else { throw DistributedError.countTooLarge(call: call, count: n) }
        return Int32(n)
    }

    /// The per-rank count of an all-gather of `send` elements per rank into `recv`.
    static func allGatherCount(_ call: String, send: Int, recv: Int, ranks: Int) throws -> Int32 {
        guard recv == send * ranks else { throw DistributedError.mismatch("all-gather of \(send) per rank into \(recv) elements") }
        return try MPIResult.count(call, send)
    }

    /// The per-rank count of a reduce-scatter of `send` elements into `recv` per rank.
    static func reduceScatterCount(_ call: String, send: Int, recv: Int, ranks: Int) throws -> Int32 {
        guard send == recv * ranks else { throw DistributedError.mismatch("reduce-scatter of \(send) into \(recv) per rank") }
        return try MPIResult.count(call, recv)
    }
}
