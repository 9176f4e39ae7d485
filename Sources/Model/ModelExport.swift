import Checkpoint
import Foundation
import TensorCore

/// Writes a model as a Hugging Face directory transformers loads: config.json, model.safetensors
/// (F32, `{"format": "pt"}` metadata, tied matrices once), generation_config.json and the
/// tokenizer files copied from the model it came from. Also used for checkpoint folders, which
/// name the weights `policy.safetensors`.
public enum ModelExport {
    public static let sideFiles = ["generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
                                   "merges.txt", "tokenizer.model", "special_tokens_map.json", "added_tokens.json"]

    public static func write(weights: [String: Tensor], configText: String, sideFilesFrom source: String,
                             to directory: String, weightsFileName: String = ModelDirectory.singleFileName) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try SafeTensorsWriter(tensors: weights, metadata: ["format": "pt"]).write(to: directory + "/" + weightsFileName)
        try AtomicFile.write(to: directory + "/config.json") { try $0.write(Array(configText.utf8)) }
        for name in sideFiles where fm.fileExists(atPath: source + "/" + name) && source != directory {
            let data = try Data(contentsOf: URL(fileURLWithPath: source + "/" + name))
            try AtomicFile.write(to: directory + "/" + name) { try $0.write(Array(data)) }
        }
    }

    /// Exports `model` (current weights) to `directory`.
    public static func export(_ model: LanguageModel, to directory: String) throws {
        try write(weights: model.state, configText: model.configText, sideFilesFrom: model.directory, to: directory)
    }
}
