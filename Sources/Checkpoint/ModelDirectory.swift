import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TensorCore

/// A local Hugging Face model folder (what `save_pretrained` writes).
///
/// Weights are found in this order: `model.safetensors`; else `model.safetensors.index.json`
/// and the shards its `weight_map` names (each opened once, every listed tensor checked to be
/// present up front); else `policy.safetensors` (a dpohost checkpoint folder, which also holds
/// config.json and the tokenizer files); else `pytorch_model.bin`, else
/// `pytorch_model.bin.index.json` and its shards, read by `TorchCheckpointFile` (which runs
/// nothing from the pickle).
public final class ModelDirectory: @unchecked Sendable {
    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"
    public static let pickleFileName = "pytorch_model.bin"
    public static let pickleIndexFileName = "pytorch_model.bin.index.json"
    public static let checkpointFileName = "policy.safetensors"
    public static let configFileName = "config.json"

    public let path: String
    /// The file holding each tensor.
    private let owners: [String: any WeightFile]

    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CheckpointError.missingDirectory(path: path)
        }
        self.path = path
        let single = ModelDirectory.join(path, ModelDirectory.singleFileName)
        let index = ModelDirectory.join(path, ModelDirectory.indexFileName)
        let pickle = ModelDirectory.join(path, ModelDirectory.pickleFileName)
        let pickleIndex = ModelDirectory.join(path, ModelDirectory.pickleIndexFileName)
        let checkpoint = ModelDirectory.join(path, ModelDirectory.checkpointFileName)
        // A weights file that is there but cannot be reached (a link loop, a dangling link, no
        // permission) is named with the reason, not reported as absent.
        for candidate in [single, index, checkpoint, pickle, pickleIndex] {
            var info = stat()
            if lstat(candidate, &info) == 0, stat(candidate, &info) != 0 {
                throw CheckpointError.cannotOpen(file: candidate, reason: MappedFile.errnoText())
            }
        }
        if FileManager.default.fileExists(atPath: single) {
            let file = try SafeTensorsFile(path: single)
            owners = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, file) })
        } else if FileManager.default.fileExists(atPath: index) {
            owners = try ModelDirectory.openShards(directory: path, index: index, open: SafeTensorsFile.init(path:))
        } else if FileManager.default.fileExists(atPath: checkpoint) {
            let file = try SafeTensorsFile(path: checkpoint)
            owners = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, file) })
        } else if FileManager.default.fileExists(atPath: pickle) {
            let file = try TorchCheckpointFile(path: pickle)
            owners = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, file) })
        } else if FileManager.default.fileExists(atPath: pickleIndex) {
            owners = try ModelDirectory.openShards(directory: path, index: pickleIndex, open: TorchCheckpointFile.init(path:))
        } else {
            throw CheckpointError.noWeights(directory: path)
        }
    }

    /// Tensor names, sorted.
    public var tensorNames: [String] { owners.keys.sorted() }

    public func contains(_ name: String) -> Bool { owners[name] != nil }

    public func shape(of name: String) throws -> [Int] { try owner(of: name).shape(of: name) }

    public func dtype(of name: String) throws -> SafeTensorsDType { try owner(of: name).dtype(of: name) }

    /// The tensor converted to float32 (see `SafeTensorsFile.floatTensor(named:)`).
    public func floatTensor(named name: String) throws -> Tensor { try owner(of: name).floatTensor(named: name) }

    /// The file a tensor is stored in (the single file or its shard).
    public func file(containing name: String) throws -> String { try owner(of: name).path }

    /// `config.json` parsed.
    public func config() throws -> JSONValue { try readJSON(ModelDirectory.configFileName) }

    /// `config.json` as a string-keyed object; a config that is not an object is an error.
    public func configObject() throws -> [String: JSONValue] {
        let file = ModelDirectory.join(path, ModelDirectory.configFileName)
        guard let object = try config().objectValue else {
            throw CheckpointError.invalidJSON(file: file, detail: "top level is not a JSON object")
        }
        return object
    }

    /// Any JSON side file of the model (generation_config.json, tokenizer_config.json, ...).
    public func readJSON(_ fileName: String) throws -> JSONValue {
        try ModelDirectory.readJSON(at: ModelDirectory.join(path, fileName))
    }

    private func owner(of name: String) throws -> any WeightFile {
        guard let file = owners[name] else {
            throw CheckpointError.tensorNotFound(file: path, tensor: name)
        }
        return file
    }

    static func readJSON(at file: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CheckpointError.invalidJSON(file: file, detail: "missing or unreadable")
        }
        do {
            return try JSONValue(parsing: data)
        } catch {
            throw CheckpointError.invalidJSON(file: file, detail: "not valid JSON")
        }
    }

    private static func openShards(directory: String, index: String,
                                   open: (String) throws -> any WeightFile) throws -> [String: any WeightFile] {
        guard let weightMap = try readJSON(at: index)["weight_map"]?.objectValue else {
            throw CheckpointError.malformedIndex(file: index, detail: "no weight_map object")
        }
        var shards: [String: any WeightFile] = [:]
        var owners: [String: any WeightFile] = [:]
        for name in weightMap.keys.sorted() {
            guard let shardName = weightMap[name]?.stringValue else {
                throw CheckpointError.malformedIndex(file: index, detail: "weight_map entry for '\(name)' is not a file name")
            }
            // Shards are siblings of the index; a path must not lead elsewhere on disk.
            guard !shardName.isEmpty, !shardName.contains("/"), shardName != ".", shardName != ".." else {
                throw CheckpointError.malformedIndex(file: index, detail: "shard '\(shardName)' for '\(name)' is not a plain file name")
            }
            let shard: any WeightFile
            if let opened = shards[shardName] {
                shard = opened
            } else {
                shard = try open(join(directory, shardName))
                shards[shardName] = shard
            }
            guard shard.contains(name) else {
                throw CheckpointError.shardMissingTensor(index: index, shard: shard.path, tensor: name)
            }
            owners[name] = shard
        }
        return owners
    }

    private static func join(_ directory: String, _ name: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent(name).path
    }
}

/// A file of named tensors: safetensors, or a PyTorch checkpoint.
public protocol WeightFile: AnyObject, Sendable {
    var path: String { get }
    var tensorNames: [String] { get }
    func contains(_ name: String) -> Bool
    func shape(of name: String) throws -> [Int]
    func dtype(of name: String) throws -> SafeTensorsDType
    func floatTensor(named name: String) throws -> Tensor
}

extension SafeTensorsFile: WeightFile {}
extension TorchCheckpointFile: WeightFile {}
/// A whole model folder reads like one file of its tensors.
extension ModelDirectory: WeightFile {}

extension ModelDirectory {
    /// The weights at `path`: a model folder, a `.safetensors` file, or a PyTorch checkpoint
    /// (`policy.pt`, `pytorch_model.bin`).
    public static func weightFile(at path: String) throws -> any WeightFile {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || isDirectory.boolValue {
            return try ModelDirectory(path: path)
        }
        return path.hasSuffix(".safetensors") ? try SafeTensorsFile(path: path) : try TorchCheckpointFile(path: path)
    }
}
