import Checkpoint
import TensorCore

extension WeightFile {
    /// Every tensor of the file as float32, copied out of it (the file's mapping is not kept):
    /// checkpoints, archives and adapters loaded into a model.
    public func copiedTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in tensorNames { out[name] = try floatTensor(named: name).copy() }
        return out
    }
}
