import Autograd
import Checkpoint
import Foundation
import PluginHost
import TensorCore

/// A throwaway Hugging Face model directory (config.json + model.safetensors) with random
/// weights, so the benchmark loads its models through the real plugin and checkpoint path.
///
/// The parameter list comes from the model plugin's own `configure`; values follow transformers'
/// initialisation closely enough for timing: N(0, 0.02) matrices, unit norm weights, zero biases.
struct RandomModelDirectory {
    let path: String

    init(shape: BenchModelShape, registry: PluginRegistry, seed: UInt64) throws {
        path = NSTemporaryDirectory() + "dpohost-bench-\(shape.name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let configData = try JSONSerialization.data(withJSONObject: shape.configJSON, options: [.sortedKeys, .prettyPrinted])
        try configData.write(to: URL(fileURLWithPath: path + "/config.json"))
        let text = String(decoding: configData, as: UTF8.self)
        let type = shape.configJSON["model_type"] as! String
        guard let plugin = try registry.plugins(kind: .model).lazy.map({ try ModelPlugin($0) })
            .first(where: { $0.modelTypes.contains(type) }) else {
            throw BenchError("no model plugin runs model_type '\(type)' (are the libdph_*.so next to the binary?)")
        }
        var rng = SplitMix64(seed: seed)
        var tensors: [String: Tensor] = [:]
        for spec in try plugin.configure(configJSON: text) {
            if spec.name.hasSuffix(".bias") {
                tensors[spec.name] = Tensor(zeros: spec.shape)
            } else if spec.shape.count == 1 {
                tensors[spec.name] = Tensor(shape: spec.shape, repeating: 1)
            } else {
                tensors[spec.name] = Tensor.randomNormal(spec.shape, scale: 0.02, using: &rng)
            }
        }
        try SafeTensorsWriter(tensors: tensors).write(to: path + "/model.safetensors")
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A benchmark failure, shown as its text.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}
