import TensorCore

extension Tape {
    /// Rows of `table [V, E]` picked by `ids` (any shape); output `ids.shape + [E]`.
    public func embedding(_ ids: IndexTensor, table: Variable) throws -> Variable {
        guard table.value.rank == 2 else {
            throw TensorError.shapeMismatch(op: "embedding", detail: "table \(table.shape) must be [vocab, width]")
        }
        let vocab = table.shape[0], width = table.shape[1]
        if let bad = ids.values.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw TensorError.indexOutOfRange(op: "embedding", detail: "id \(bad) outside [0, \(vocab)) for table \(table.shape)")
        }
        let tv = table.value.contiguous()
        let out = Tensor(uninitialized: ids.shape + [width])   // every row is copied from the table
        EmbeddingKernel.forward(ids: ids.values, table: tv.pointer, y: out.pointer, width: width, pool: pool)
        return result(out, inputs: [table]) { [pool] dy in
            let dy = dy.contiguous()
            EmbeddingKernel.backward(ids: ids.values, dy: dy.pointer, dtable: table.gradBuffer().pointer,
                                     width: width, pool: pool)
        }
    }
}
