import TensorCore

/// A collated batch (docs/spec/data.md §8): chosen/rejected right-padded with the pad id, prompts
/// left-padded (for generation), labels padded with -100, masks with 0.
public struct Batch: Sendable {
    public var elements: [BatchElement]
    public var chosenIds: IndexTensor
    public var chosenMask: IndexTensor
    public var chosenLabels: IndexTensor
    public var rejectedIds: IndexTensor?
    public var rejectedMask: IndexTensor?
    public var rejectedLabels: IndexTensor?
    public var promptIds: IndexTensor
    public var promptMask: IndexTensor

    public var size: Int { elements.count }
    public var isPreference: Bool { rejectedIds != nil }

    /// The tokens of the batch's rows (mask 1): the chosen rows, and the rejected ones when
    /// `includingRejected`; a prompt counts in every row that holds it.
    public func tokenCount(includingRejected: Bool) -> Int {
        let chosen = chosenMask.values.reduce(0) { $0 + Int($1) }
        return chosen + (includingRejected ? (rejectedMask?.values.reduce(0) { $0 + Int($1) } ?? 0) : 0)
    }

    /// Rows `[k*c, (k+1)*c)` with `c = size / parts` (docs/spec/data.md §11: remainders dropped).
    public func slice(part k: Int, of parts: Int, padId: Int32) -> Batch {
        let c = size / parts
        return Collator(padId: padId).collate(Array(elements[(k * c)..<((k + 1) * c)]))
    }

    /// The concatenated forward input `[2B, W]`: chosen rows then rejected rows, both padded to
    /// the wider of the two with 0 for ids and mask (not the pad id) and -100 for labels.
    public func concatenated() -> (ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) {
        guard let rejectedIds, let rejectedMask, let rejectedLabels else {
            return (chosenIds, chosenMask, chosenLabels)
        }
        let w = max(chosenIds.shape[1], rejectedIds.shape[1])
        func stack(_ a: IndexTensor, _ b: IndexTensor, pad: Int32) -> IndexTensor {
            var out = IndexTensor(shape: [a.shape[0] + b.shape[0], w], repeating: pad)
            for (offset, t) in [(0, a), (a.shape[0], b)] {
                for i in 0..<t.shape[0] { for j in 0..<t.shape[1] { out[offset + i, j] = t[i, j] } }
            }
            return out
        }
        return (stack(chosenIds, rejectedIds, pad: 0), stack(chosenMask, rejectedMask, pad: 0),
                stack(chosenLabels, rejectedLabels, pad: -100))
    }
}

public struct Collator {
    public let padId: Int32
    public init(padId: Int32) { self.padId = padId }

    public func collate(_ elements: [BatchElement]) -> Batch {
        func pad(_ rows: [[Int32]], with value: Int32, left: Bool = false) -> IndexTensor {
            let w = rows.map(\.count).max() ?? 0
            var out = IndexTensor(shape: [rows.count, w], repeating: value)
            for (i, row) in rows.enumerated() {
                let start = left ? w - row.count : 0
                for (j, v) in row.enumerated() { out[i, start + j] = v }
            }
            return out
        }
        let ones = { (rows: [[Int32]]) in rows.map { [Int32](repeating: 1, count: $0.count) } }
        let chosen = elements.map(\.chosenIds)
        let rejected = elements.compactMap(\.rejectedIds)
        let preference = !elements.isEmpty && rejected.count == elements.count
        return Batch(
            elements: elements,
            chosenIds: pad(chosen, with: padId), chosenMask: pad(ones(chosen), with: 0),
            chosenLabels: pad(elements.map(\.chosenLabels), with: -100),
            rejectedIds: preference ? pad(rejected, with: padId) : nil,
            rejectedMask: preference ? pad(ones(rejected), with: 0) : nil,
            rejectedLabels: preference ? pad(elements.compactMap(\.rejectedLabels), with: -100) : nil,
            promptIds: pad(elements.map(\.promptIds), with: padId, left: true),
            promptMask: pad(ones(elements.map(\.promptIds)), with: 0, left: true))
    }
}
