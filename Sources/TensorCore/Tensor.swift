import Dispatch
import Foundation

/// A block of float32 memory shared by every tensor viewing it.
///
/// Parameters of one model block can live in one storage (as llm.c keeps all parameters in one
/// allocation) so a sharded trainer can hold or all-gather a block by slicing a single buffer.
public final class TensorStorage: @unchecked Sendable {
    /// Valid while `isResident` (always, except for storage whose memory was given up).
    public private(set) var pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let release: (() -> Void)?
    /// False after `releaseMemory()`: the tensors viewing this storage must not be read until
    /// `acquireMemory()`.
    public private(set) var isResident = true

    /// Allocates `count` floats, 64-byte aligned for the SIMD kernels, zero-filled unless
    /// `zeroed` is false (for outputs a kernel overwrites entirely).
    public init(count: Int, zeroed: Bool = true, cache: BufferCache = .shared) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw: UnsafeMutableRawPointer
        if let reused = cache.take(bytes: bytes) {
            raw = reused
        } else {
            var fresh: UnsafeMutableRawPointer?
            guard posix_memalign(&fresh, 64, bytes) == 0, let fresh else {
                fatalError("TensorStorage: out of memory allocating \(bytes) bytes")
            }
            raw = fresh
        }
        if zeroed { Self.zero(raw, bytes: bytes) }
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.release = nil
    }

    /// Buffers of at least this many bytes are zeroed by `Gemm.threads` workers at once.
    public static let parallelZeroBytes = 1 << 20

    /// Zero-fills `bytes` at `raw`. A large buffer (a gradient, often fresh from `mmap`) is cut
    /// into one page-aligned block per worker: the memset and the first-touch page faults are
    /// memory work the main thread would otherwise do alone while the other cores idle. There is
    /// no pool here, so the split is `Gemm.threads`, process-wide like the matrix products'.
    static func zero(_ raw: UnsafeMutableRawPointer, bytes: Int) {
        let blocks = Gemm.threads
        guard bytes >= parallelZeroBytes, blocks > 1 else {
            memset(raw, 0, bytes)
            return
        }
        let page = 4096
        let per = ((bytes + blocks - 1) / blocks + page - 1) / page * page
        let base = UnsafeSendable(raw)
        WorkerThreads.shared.run(chunks: blocks) { i in
            let lo = i * per, hi = min(bytes, lo + per)
            if lo < hi { memset(base.value + lo, 0, hi - lo) }
        }
    }

    /// Wraps memory owned elsewhere (a memory-mapped checkpoint, a plugin's buffer);
    /// `release` runs when the last tensor viewing it goes away.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, release: (() -> Void)?, fileMapped: Bool = false) {
        self.pointer = pointer
        self.count = count
        self.release = release
        self.fileMapped = fileMapped
    }

    /// Whether the memory is a private mapping of a file (a checkpoint's float32 tensor).
    private var fileMapped = false

    /// For a file mapping: gives its resident pages back (`MADV_DONTNEED`), after the values were
    /// copied elsewhere (16-bit weights made parameter by parameter), so that the whole file is
    /// never resident at once. Later reads see the file's values again; nothing else happens for
    /// memory that is not a file mapping.
    public func dropFileMappedPages() {
        guard fileMapped, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: pointer) + page - 1) / page * page
        let end = (Int(bitPattern: pointer + count)) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        madvise(p, end - start, MADV_DONTNEED)
    }

    deinit {
        if let release { release() } else if isResident { Self.give(pointer, count: count) }
    }

    private static func give(_ pointer: UnsafeMutablePointer<Float>, count: Int, to cache: BufferCache = .shared) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if !cache.give(UnsafeMutableRawPointer(pointer), bytes: bytes) { free(pointer) }
    }

    /// Gives the memory back while the tensors viewing it stay alive (FSDP frees a block's
    /// gathered parameters between its forward and its backward; the tape's saved views of them
    /// stay valid objects, to be filled again before they are read).
    /// `cache`: where the memory waits for the next `acquireMemory(from:)` (a holder that takes
    /// and gives back the same buffers all the time keeps its own, unbounded by the shared limit).
    public func releaseMemory(into cache: BufferCache = .shared) {
        precondition(release == nil, "TensorStorage: cannot release borrowed memory")
        guard isResident else { return }
        Self.give(pointer, count: count, to: cache)
        isResident = false
    }

    /// Takes memory again after `releaseMemory()`; its contents are unspecified until written.
    public func acquireMemory(from cache: BufferCache = .shared) {
        guard !isResident else { return }
        pointer = TensorStorage(count: count, zeroed: false, cache: cache).takePointer()
        isResident = true
    }

    /// Hands this storage's memory to the caller (the storage itself then owns none).
    private func takePointer() -> UnsafeMutablePointer<Float> {
        isResident = false
        return pointer
    }
}

/// A float32 tensor: a strided view into a `TensorStorage`.
///
/// Reshapes of contiguous tensors, transposes and slices are free views; kernels that need
/// row-major data call `contiguous()`, which copies only when the view is not already dense.
public struct Tensor: @unchecked Sendable {
    public let storage: TensorStorage
    public let offset: Int
    public let shape: [Int]
    public let strides: [Int]

    public init(storage: TensorStorage, offset: Int = 0, shape: [Int], strides: [Int]? = nil) {
        let strides = strides ?? Tensor.rowMajorStrides(shape)
        precondition(shape.count == strides.count, "Tensor: shape \(shape) and strides \(strides) differ in rank")
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
    }

    /// A new zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.init(storage: TensorStorage(count: Tensor.elementCount(shape)), shape: shape)
    }

    /// A new tensor whose elements are unspecified: only for outputs a kernel writes in full
    /// (skips zeroing memory that is about to be overwritten).
    public init(uninitialized shape: [Int]) {
        self.init(storage: TensorStorage(count: Tensor.elementCount(shape), zeroed: false), shape: shape)
    }

    /// A new tensor holding `values` in row-major order.
    public init(shape: [Int], values: [Float]) throws {
        let n = Tensor.elementCount(shape)
        guard n == values.count else {
            throw TensorError.shapeMismatch(op: "Tensor(shape:values:)",
                                            detail: "shape \(shape) holds \(n) values, got \(values.count)")
        }
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            if n > 0 { storage.pointer.update(from: src.baseAddress!, count: n) }
        }
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(zeros: shape)
        if value != 0 { storage.pointer.update(repeating: value, count: count) }
    }

    /// A rank-0 scalar.
    public init(scalar: Float) {
        self.init(shape: [], repeating: scalar)
    }

    public static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public var rank: Int { shape.count }
    public var count: Int { Tensor.elementCount(shape) }

    /// True when the elements are dense and row-major from `offset`.
    public var isContiguous: Bool {
        var expected = 1
        for i in stride(from: rank - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// Pointer to the first element. Only meaningful for row-major reads when `isContiguous`.
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// A dense row-major copy, or `self` when already dense.
    public func contiguous() -> Tensor { contiguous(pool: .serial) }

    /// A dense row-major copy, or `self` when already dense; a large copy is spread over `pool`
    /// (a split of Pythia's fused query/key/value copies megabytes per layer).
    public func contiguous(pool: WorkerPool) -> Tensor {
        if isContiguous { return self }
        let out = Tensor(uninitialized: shape)
        let n = rowLength, s = rowStride
        let p = UnsafeSendable((storage.pointer, out.pointer))
        forEachRow(pool: pool) { row, off in
            let (src, dst) = p.value
            let d = dst + row * n
            // Unit stride within rows (a slice along an outer axis, e.g. Pythia's per-head
            // query/key/value split): a plain copy, which the compiler vectorises.
            if s == 1 { d.update(from: src + off, count: n) } else { for j in 0..<n { d[j] = src[off + j * s] } }
        }
        return out
    }

    /// Elements per worker below which the elementwise copies and sums here stay on the calling
    /// thread (dispatching costs more than it saves).
    public static let parallelGrain = 1 << 15

    // The view read as `rowCount` rows of its last dimension: `rowLength` elements each, at
    // `rowStride` apart in storage.
    private var rowLength: Int { rank == 0 ? 1 : shape[rank - 1] }
    private var rowStride: Int { rank == 0 ? 1 : strides[rank - 1] }
    private var rowCount: Int { count == 0 ? 0 : count / rowLength }
    private var rowGrain: Int { max(1, Tensor.parallelGrain / max(rowLength, 1)) }
    /// The storage distance between consecutive rows when it is the same for all of them (the
    /// outer axes nest without gaps, as in a slice of the last axis), else nil.
    private var uniformRowStep: Int? {
        guard rank >= 2 else { return nil }
        for d in 0..<(rank - 2) where strides[d] != strides[d + 1] * shape[d + 1] { return nil }
        return strides[rank - 2]
    }

    /// `forEachRow` over every row, the rows split into ranges that `pool`'s workers walk apart.
    private func forEachRow(pool: WorkerPool, _ body: (Int, Int) -> Void) {
        pool.parallelFor(rowCount, grain: rowGrain) { rows in forEachRow(rows, body) }
    }

    /// Calls `body(row, offset)` for each row in `rows` (row-major order, see `rowCount`) with the
    /// storage offset of the row's first element. Starting anywhere lets workers walk disjoint
    /// row ranges of a strided view.
    private func forEachRow(_ rows: Range<Int>, _ body: (Int, Int) -> Void) {
        if rows.isEmpty { return }
        let outer = rank - 1
        if outer <= 0 { for row in rows { body(row, offset) }; return }
        if let step = uniformRowStep {
            for row in rows { body(row, offset + row * step) }
            return
        }
        // The multi-index of the first row, then an odometer over the outer dimensions.
        var index = [Int](repeating: 0, count: outer)
        var off = offset, rest = rows.lowerBound
        for d in stride(from: outer - 1, through: 0, by: -1) {
            index[d] = rest % shape[d]
            rest /= shape[d]
            off += index[d] * strides[d]
        }
        for row in rows {
            body(row, off)
            var d = outer - 1
            while d >= 0 {
                index[d] += 1
                off += strides[d]
                if index[d] < shape[d] { break }
                off -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// A deep copy that never shares storage with `self`.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        let src = contiguous()
        out.pointer.update(from: src.pointer, count: count)
        return out
    }

    /// Calls `body` with the storage offset of every element, in row-major order.
    public func forEachOffset(_ body: (Int) -> Void) {
        let n = rowLength, s = rowStride
        forEachRow(0..<rowCount) { _, off in for j in 0..<n { body(off + j * s) } }
    }

    /// The elements in row-major order.
    public var scalars: [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.pointer, count: count))
    }

    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements")
        return storage.pointer[offset]
    }

    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[storageIndex(index)] }
        nonmutating set { storage.pointer[storageIndex(index)] = newValue }
    }

    private func storageIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "Tensor: index \(index) for shape \(shape)")
        var off = offset
        for (d, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[d], "Tensor: index \(index) out of range for shape \(shape)")
            off += i * strides[d]
        }
        return off
    }

    // MARK: views

    /// Same elements with a new shape; free when contiguous. One dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        let inferred = newShape.filter { $0 == -1 }.count
        if inferred > 1 || newShape.contains(where: { $0 < -1 }) {
            throw TensorError.shapeMismatch(op: "reshape", detail: "invalid target shape \(newShape)")
        }
        if inferred == 1 {
            guard known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch(op: "reshape", detail: "cannot reshape \(shape) to \(newShape)")
            }
            resolved = newShape.map { $0 == -1 ? count / known : $0 }
        }
        guard Tensor.elementCount(resolved) == count else {
            throw TensorError.shapeMismatch(op: "reshape", detail: "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        }
        let base = contiguous()
        return Tensor(storage: base.storage, offset: base.offset, shape: resolved)
    }

    /// Swaps two axes (a view).
    public func transposed(_ a: Int, _ b: Int) throws -> Tensor {
        guard a >= 0, a < rank, b >= 0, b < rank else {
            throw TensorError.shapeMismatch(op: "transpose", detail: "axes (\(a), \(b)) for shape \(shape)")
        }
        var s = shape, st = strides
        s.swapAt(a, b)
        st.swapAt(a, b)
        return Tensor(storage: storage, offset: offset, shape: s, strides: st)
    }

    /// Elements `range` along `axis` (a view).
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        guard axis >= 0, axis < rank, range.lowerBound >= 0, range.upperBound <= shape[axis] else {
            throw TensorError.shapeMismatch(op: "slice", detail: "range \(range) on axis \(axis) of shape \(shape)")
        }
        var s = shape
        s[axis] = range.count
        return Tensor(storage: storage, offset: offset + range.lowerBound * strides[axis], shape: s, strides: strides)
    }

    /// Fills every element with `value`, through the view.
    public func fill(_ value: Float) {
        if isContiguous { pointer.update(repeating: value, count: count); return }
        forEachOffset { storage.pointer[$0] = value }
    }

    /// `self += other` elementwise (same shape), through the view; a large sum is spread over
    /// `pool` (each element is one addition, so the result does not depend on the split).
    public func accumulate(_ other: Tensor, pool: WorkerPool = .serial) throws {
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(op: "accumulate", detail: "\(shape) += \(other.shape)")
        }
        add(other.contiguous(pool: pool), overwrite: false, pool: pool)
    }

    /// `self = 0 + other` elementwise (same shape), through the view: exactly what `accumulate`
    /// gives into a zero-filled tensor (`0 + -0` is `+0`), without filling it with zeros first.
    public func assign(zeroPlus other: Tensor, pool: WorkerPool = .serial) throws {
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(op: "assign(zeroPlus:)", detail: "\(shape) = 0 + \(other.shape)")
        }
        add(other.contiguous(pool: pool), overwrite: true, pool: pool)
    }

    /// `self = (overwrite ? 0 : self) + src` elementwise; `src` is dense with this shape.
    private func add(_ src: Tensor, overwrite: Bool, pool: WorkerPool) {
        let zero: Float = 0   // `zero + x`, not `x`: the addition is what turns -0 into +0
        if isContiguous {
            let p = UnsafeSendable((pointer, src.pointer))
            pool.parallelFor(count, grain: Tensor.parallelGrain) { r in
                let (d, s) = p.value
                if overwrite { for i in r { d[i] = zero + s[i] } } else { for i in r { d[i] += s[i] } }
            }
            return
        }
        let n = rowLength, st = rowStride
        let p = UnsafeSendable((storage.pointer, src.pointer))
        forEachRow(pool: pool) { row, off in
            let (d, s) = p.value
            let sr = s + row * n
            if st == 1 {
                let dr = d + off
                if overwrite { for j in 0..<n { dr[j] = zero + sr[j] } } else { for j in 0..<n { dr[j] += sr[j] } }
            } else if overwrite {
                for j in 0..<n { d[off + j * st] = zero + sr[j] }
            } else {
                for j in 0..<n { d[off + j * st] += sr[j] }
            }
        }
    }

    /// Copies `other` into this view (same shape).
    public func assign(_ other: Tensor) throws {
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(op: "assign", detail: "\(shape) = \(other.shape)")
        }
        let src = other.contiguous()
        if isContiguous { pointer.update(from: src.pointer, count: count); return }
        var i = 0
        let s = src.pointer
        forEachOffset { off in storage.pointer[off] = s[i]; i += 1 }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let vals = scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(vals)\(count > 8 ? ", ..." : "")])"
    }
}
