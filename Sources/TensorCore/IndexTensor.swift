/// Integer tensor for token ids, labels (with -100 for ignored positions), masks and positions.
public struct IndexTensor: Sendable, Equatable {
    public let shape: [Int]
    public var values: [Int32]

    public init(shape: [Int], values: [Int32]) throws {
        guard Tensor.elementCount(shape) == values.count else {
            throw TensorError.shapeMismatch(op: "IndexTensor", detail: "shape \(shape) holds \(Tensor.elementCount(shape)) values, got \(values.count)")
        }
        self.shape = shape
        self.values = values
    }

    public init(shape: [Int], repeating value: Int32) {
        self.shape = shape
        self.values = [Int32](repeating: value, count: Tensor.elementCount(shape))
    }

    public var count: Int { values.count }
    public var rank: Int { shape.count }

    public subscript(_ i: Int, _ j: Int) -> Int32 {
        get { values[i * shape[1] + j] }
        set { values[i * shape[1] + j] = newValue }
    }
}

extension IndexTensor {
    /// Rows `range` of a `[N, T]` tensor.
    public func rows(_ range: Range<Int>) -> IndexTensor {
        precondition(rank == 2 && range.lowerBound >= 0 && range.upperBound <= shape[0], "IndexTensor.rows: \(range) of \(shape)")
        return try! IndexTensor(shape: [range.count, shape[1]],
                                values: Array(values[(range.lowerBound * shape[1])..<(range.upperBound * shape[1])]))
    }

    /// Columns `range` of a `[N, T]` tensor.
    public func columns(_ range: Range<Int>) -> IndexTensor {
        precondition(rank == 2 && range.lowerBound >= 0 && range.upperBound <= shape[1], "IndexTensor.columns: \(range) of \(shape)")
        let t = shape[1]
        return try! IndexTensor(shape: [shape[0], range.count],
                                values: (0..<shape[0]).flatMap { n in values[(n * t + range.lowerBound)..<(n * t + range.upperBound)] })
    }
}
