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
