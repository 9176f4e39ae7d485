import Autograd
import Model
import TensorCore

/// A model's parameters rebound as views into one float32 buffer per `ShardLayout` unit, filled
/// with their current values: how FSDP and 16-bit reference weights hold a unit whole only while
/// a forward uses it (the buffers' memory can be released and taken again).
struct UnitStorages {
    let layout: ShardLayout
    /// One buffer per unit, of `shardLength * worldSize` floats (padding zero).
    let storages: [TensorStorage]
    /// The model's parameters in declaration order, as views into `storages`.
    let parameters: [NamedParameter]
    let unitOfParameter: [String: Int]

    init(model: LanguageModel, worldSize: Int, requiresGrad: Bool) throws {
        let layout = ShardLayout(parameters: model.parameters.map { ($0.name, $0.variable.value.count) },
                                 blockName: model.plugin.blockName, worldSize: worldSize)
        var rebound = model.parameters, storages: [TensorStorage] = [], unitOf: [String: Int] = [:]
        for (u, unit) in layout.units.enumerated() {
            let storage = TensorStorage(count: unit.shardLength * worldSize)
            for m in unit.members {
                let old = model.parameters[m.parameter]
                let view = Tensor(storage: storage, offset: m.offset, shape: old.variable.shape)
                try view.assign(old.variable.value)
                rebound[m.parameter] = NamedParameter(name: old.name, variable: Variable(view, requiresGrad: requiresGrad))
                unitOf[old.name] = u
            }
            storages.append(storage)
        }
        self.layout = layout
        self.storages = storages
        self.parameters = rebound
        self.unitOfParameter = unitOf
    }
}
