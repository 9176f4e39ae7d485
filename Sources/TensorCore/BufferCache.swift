import Foundation

/// Large freed tensor buffers kept for the next allocation of the same size.
///
/// A training step allocates the same activation and gradient sizes every time; glibc serves
/// buffers this large with fresh `mmap`s, so each step would page-fault and have the kernel zero
/// every page again before `TensorStorage` zeroes it once more. Only buffers of at least
/// `minimumBytes` are kept, at most `limitBytes` in all, so idle memory stays bounded.
///
/// Buffers from 16 KiB up are kept: at tiny sizes (hidden 64) most activations are below 1 MiB,
/// and glibc handed them back to the kernel and faulted them in again every step (llama-tiny DPO
/// 10 % faster).
///
/// The limit (1 GiB) is above what a base-size step frees at once: with 512 MiB, buffers past
/// the limit went back to glibc, which kept them in its heap (its mmap threshold had grown) next
/// to the cache's, and a pythia-base DPO step peaked 110 MiB higher and ran 3-5 % slower.
public final class BufferCache: @unchecked Sendable {
    public static let shared = BufferCache(minimumBytes: 1 << 14, limitBytes: 1024 << 20)

    public let minimumBytes: Int
    public let limitBytes: Int
    private let lock = NSLock()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var held = 0

    public init(minimumBytes: Int, limitBytes: Int) {
        self.minimumBytes = minimumBytes
        self.limitBytes = limitBytes
    }

    /// A kept buffer of exactly `bytes`, or nil.
    func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= minimumBytes else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard let p = free[bytes]?.popLast() else { return nil }
        held -= bytes
        return p
    }

    /// Keeps `p` (allocated with `posix_memalign`) unless that would pass the limit; false means
    /// the caller frees it.
    func give(_ p: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard bytes >= minimumBytes else { return false }
        lock.lock()
        defer { lock.unlock() }
        guard held + bytes <= limitBytes else { return false }
        free[bytes, default: []].append(p)
        held += bytes
        return true
    }

    /// Frees every kept buffer: after one-off work (building or converting weights) whose
    /// sizes the steps will not ask for again.
    public func trim() {
        lock.lock()
        let kept = free
        free = [:]
        held = 0
        lock.unlock()
        for pointers in kept.values { for p in pointers { Foundation.free(p) } }
    }

    /// Bytes currently kept.
    public var heldBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return held
    }
}
