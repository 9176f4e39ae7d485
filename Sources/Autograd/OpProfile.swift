import Dispatch

/// Wall time per op of the tapes it is attached to (`Tape.profile`), by op name: where a step's
/// time goes below the phases (`dpohost bench step --profile-ops`).
///
/// An op's forward is the time from the end of the previous op (or the last `restartClock`) to
/// its result, so work between ops (a plugin's own code, host bookkeeping) counts toward the
/// next op. Its backward is the time of its recorded backward function.
public final class OpProfile {
    public struct Entry: Sendable {
        public var calls = 0
        public var forwardSeconds = 0.0
        public var backwardSeconds = 0.0
    }

    public private(set) var entries: [String: Entry] = [:]
    private var clock = DispatchTime.now().uptimeNanoseconds

    public init() {}

    /// Starts the next op's forward interval now (call before a forward begins).
    public func restartClock() { clock = DispatchTime.now().uptimeNanoseconds }

    func forwardEnded(_ op: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        entries[op, default: Entry()].calls += 1
        entries[op, default: Entry()].forwardSeconds += Double(now - clock) / 1e9
        clock = now
    }

    func backward(_ op: String, _ body: () throws -> Void) rethrows {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        entries[op, default: Entry()].backwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Forgets every entry (after warm-up steps).
    public func reset() {
        entries = [:]
        restartClock()
    }

    /// `linear(_:weight:bias:layout:)` -> `linear`.
    static func name(_ function: String) -> String {
        function.firstIndex(of: "(").map { String(function[..<$0]) } ?? function
    }
}
