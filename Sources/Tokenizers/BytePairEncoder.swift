import Foundation

/// The BPE model of a byte-level tokenizer: turns the bytes of one pre-tokenized piece into
/// vocabulary ids by applying ranked merges.
struct BytePairEncoder: Sendable {
    /// One merge rule: the pair's rank (lower merges first) and the id of the merged symbol.
    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// Vocabulary id of the single-byte symbol of each byte.
    private let byteSymbolIds: [Int32]
    /// Merges keyed by `pairKey(left, right)` of the two symbol ids.
    private let merges: [UInt64: Merge]
    private let cache = WordCache(capacity: 10_000)

    /// - Parameters:
    ///   - vocabulary: token string (byte-level alphabet) -> id.
    ///   - merges: merge pairs in rank order.
    ///   - file: named in errors.
    init(vocabulary: [String: Int32], merges pairs: [(String, String)], alphabet: ByteLevelAlphabet,
         file: String) throws {
        byteSymbolIds = try (0...255).map { byte in
            let symbol = alphabet.symbol(for: UInt8(byte))
            guard let id = vocabulary[symbol] else {
                throw TokenizerError.malformedFile(
                    path: file, reason: "vocabulary lacks the byte-level symbol '\(symbol)' of byte \(byte)")
            }
            return id
        }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, (left, right)) in pairs.enumerated() {
            guard let leftId = vocabulary[left], let rightId = vocabulary[right],
                  let result = vocabulary[left + right] else {
                throw TokenizerError.malformedFile(
                    path: file, reason: "merge \(rank) '\(left) \(right)' uses a token missing from the vocabulary")
            }
            // A repeated pair keeps its first (lowest) rank.
            if merges[Self.pairKey(leftId, rightId)] == nil {
                merges[Self.pairKey(leftId, rightId)] = Merge(rank: Int32(rank), result: result)
            }
        }
        self.merges = merges
    }

    /// The ids of one pre-tokenized piece given as raw UTF-8 bytes.
    func encode(_ bytes: [UInt8]) -> [Int32] {
        if let cached = cache.value(for: bytes) {
            return cached
        }
        let ids = applyMerges(bytes.map { byteSymbolIds[Int($0)] })
        cache.insert(ids, for: bytes)
        return ids
    }

    /// Repeatedly merges the lowest-ranked adjacent pair (leftmost on ties) until none has a
    /// rank. Like Hugging Face's Rust implementation, this keeps a doubly linked list of symbols
    /// and a priority queue of candidate pairs, so long words cost O(n log n), not O(n^2).
    private func applyMerges(_ initial: [Int32]) -> [Int32] {
        guard initial.count > 1 else { return initial }
        var symbols = initial
        var previous = Array(-1..<(initial.count - 1))
        var next = Array(1...initial.count)
        next[initial.count - 1] = -1
        var alive = [Bool](repeating: true, count: initial.count)
        var queue = MergeQueue()
        for position in 0..<(initial.count - 1) {
            if let merge = merges[Self.pairKey(symbols[position], symbols[position + 1])] {
                queue.push(rank: merge.rank, position: position, result: merge.result)
            }
        }
        while let candidate = queue.pop() {
            let position = candidate.position
            let right = next[position]
            // Skip candidates made stale by an earlier merge at or next to this position.
            guard alive[position], right >= 0,
                  merges[Self.pairKey(symbols[position], symbols[right])]?.result == candidate.result
            else { continue }
            symbols[position] = candidate.result
            alive[right] = false
            let after = next[right]
            next[position] = after
            if after >= 0 {
                previous[after] = position
            }
            let before = previous[position]
            if before >= 0, let merge = merges[Self.pairKey(symbols[before], symbols[position])] {
                queue.push(rank: merge.rank, position: before, result: merge.result)
            }
            if after >= 0, let merge = merges[Self.pairKey(symbols[position], symbols[after])] {
                queue.push(rank: merge.rank, position: position, result: merge.result)
            }
        }
        var ids: [Int32] = []
        var position = 0
        while position >= 0 {
            ids.append(symbols[position])
            position = next[position]
        }
        return ids
    }

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
private struct MergeQueue {
    struct Candidate {
        var order: UInt64
        var result: Int32
        var position: Int { Int(order & 0xFFFF_FFFF) }
    }

    private var heap: [Candidate] = []

    mutating func push(rank: Int32, position: Int, result: Int32) {
        heap.append(Candidate(order: UInt64(UInt32(rank)) << 32 | UInt64(position), result: result))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].order < heap[parent].order else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].order < heap[smallest].order { smallest = left }
            if right < heap.count && heap[right].order < heap[smallest].order { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

/// Ids of recently seen words. Words repeat heavily in dialogue data, and BPE dominates encoding
/// time. Bounded: once full, new words are computed but not stored (as Hugging Face does).
private final class WordCache: @unchecked Sendable {
    // @unchecked: every access to `entries` holds `lock`.
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func value(for word: [UInt8]) -> [Int32]? {
        lock.withLock { entries[word] }
    }

    func insert(_ ids: [Int32], for word: [UInt8]) {
        lock.withLock {
            if entries.count < capacity {
                entries[word] = ids
            }
        }
    }
}
