import CMPI
import Foundation

/// Failures of the collectives layer, with Open MPI's own message.
public enum DistributedError: Error, CustomStringConvertible {
    case alreadyInitialized
    case mpi(call: String, code: Int32, message: String)
    case countTooLarge(call: String, count: Int)
    case mismatch(String)

    public var description: String {
        switch self {
        case .alreadyInitialized: return "MPI is already initialised in this process (create one MPIWorld at start-up)"
        case let .mpi(call, code, message): return "\(call) failed (MPI error \(code)): \(message)"
        case let .countTooLarge(call, count): return "\(call): \(count) elements exceed MPI's 32-bit counts"
        case let .mismatch(what): return "ranks disagree: \(what)"
        }
    }
}

/// The process's MPI world: initialised once at start-up (`MPI_Init_thread`) and finalised when
/// the training command succeeds. Started without `mpirun` it is a world of size 1.
///
/// Open MPI keeps the world as process state; this object is its only owner, so nothing else
/// calls `MPI_Init`/`MPI_Finalize`. Errors are returned (`MPI_ERRORS_RETURN`) and become Swift
/// errors. A rank that fails must exit without `MPI_Finalize` (which would wait for the other
/// ranks, themselves waiting in a collective for it): `mpirun` then ends the whole job at once.
/// So nothing finalises implicitly; only `finalize()` does.
public final class MPIWorld: @unchecked Sendable {
    public let communicator: Communicator
    private var finalized = false

    /// `collectiveTimeout`: seconds a single collective may wait before the watchdog aborts the
    /// job (a peer that hangs without dying); nil disables the watchdog.
    public init(collectiveTimeout: Double?) throws {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        guard initialized == 0 else { throw DistributedError.alreadyInitialized }
        // THREAD_MULTIPLE so the watchdog thread may call MPI_Abort while the main thread waits.
        var provided: Int32 = 0
        try MPIResult.check("MPI_Init_thread", MPI_Init_thread(nil, nil, cmpi_thread_multiple(), &provided))
        try MPIResult.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()))
        communicator = try Communicator(comm: cmpi_comm_world(), collectiveTimeout: collectiveTimeout)
    }

    /// True when this process was started by `mpirun`/`orterun` (set before MPI is initialised).
    public static var launchedByMPIRun: Bool {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
    }

    /// `MPI_Finalize` after a barrier-free shutdown; idempotent.
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        communicator.shutDown()
        MPI_Finalize()
    }
}
