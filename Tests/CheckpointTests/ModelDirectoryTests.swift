import Foundation
import XCTest
@testable import Checkpoint
import TensorCore

final class ModelDirectoryTests: XCTestCase {
    func testSingleFileModelLoadsAllTensors() throws {
        let model = try ModelDirectory(path: Fixtures.path("models/gpt2-tiny"))
        XCTAssertEqual(model.tensorNames.count, 28)
        XCTAssertEqual(try model.shape(of: "transformer.h.0.attn.c_attn.weight"), [64, 192])
        XCTAssertEqual(try model.floatTensor(named: "transformer.wte.weight")[999, 63], 0.040407780557870865)
        XCTAssertEqual(try model.file(containing: "transformer.wte.weight"),
                       Fixtures.path("models/gpt2-tiny/model.safetensors"))
    }

    func testShardedModelMatchesSingleFileForEveryTensor() throws {
        let single = try ModelDirectory(path: Fixtures.path("models/gpt2-tiny"))
        let sharded = try ModelDirectory(path: Fixtures.path("models/gpt2-tiny-sharded"))
        XCTAssertEqual(sharded.tensorNames, single.tensorNames)
        for name in single.tensorNames {
            let a = try single.floatTensor(named: name), b = try sharded.floatTensor(named: name)
            XCTAssertEqual(a.shape, b.shape, name)
            XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), name)
        }
        let shardFiles = Set(try sharded.tensorNames.map { try sharded.file(containing: $0) })
        XCTAssertEqual(shardFiles.count, 3)
    }

    func testSingleFileWinsOverIndex() throws {
        let dir = try makeTempDirectory(self)
        try SafeTensorsWriter(tensors: ["w": Tensor(scalar: 1)]).write(to: dir + "/model.safetensors")
        try writeFile(Array(#"{"weight_map": {"other": "missing.safetensors"}}"#.utf8), to: dir + "/model.safetensors.index.json")
        XCTAssertEqual(try ModelDirectory(path: dir).tensorNames, ["w"])
    }

    func testIndexEntryMissingFromShardNamesIndexShardAndTensor() throws {
        let dir = try makeTempDirectory(self)
        try SafeTensorsWriter(tensors: ["a": Tensor(scalar: 1)]).write(to: dir + "/model-00001-of-00001.safetensors")
        try writeFile(Array(#"{"weight_map": {"a": "model-00001-of-00001.safetensors", "b": "model-00001-of-00001.safetensors"}}"#.utf8),
                      to: dir + "/model.safetensors.index.json")
        let index = dir + "/model.safetensors.index.json"
        assertCheckpointError(try ModelDirectory(path: dir), file: index, tensor: "b") {
            if case let .shardMissingTensor(_, shard, "b") = $0 {
                return shard.hasSuffix("model-00001-of-00001.safetensors") && $0.description.contains(shard)
            }
            return false
        }
    }

    func testIndexShardPathOutsideDirectoryIsRejected() throws {
        let dir = try makeTempDirectory(self)
        let index = dir + "/model.safetensors.index.json"
        try writeFile(Array(#"{"weight_map": {"a": "../elsewhere.safetensors"}}"#.utf8), to: index)
        assertCheckpointError(try ModelDirectory(path: dir), file: index) {
            if case .malformedIndex = $0 { return true } else { return false }
        }
    }

    func testMissingShardFileNamesShard() throws {
        let dir = try makeTempDirectory(self)
        try writeFile(Array(#"{"weight_map": {"a": "gone.safetensors"}}"#.utf8), to: dir + "/model.safetensors.index.json")
        assertCheckpointError(try ModelDirectory(path: dir), file: dir + "/gone.safetensors") {
            if case .cannotOpen = $0 { return true } else { return false }
        }
    }

    /// PyTorch's legacy format (before 1.6: a bare pickle, no zip) is refused naming the format.
    func testALegacyPickleCheckpointIsRefusedNamingItsFormat() throws {
        let dir = try makeTempDirectory(self)
        let pickle = dir + "/pytorch_model.bin"
        try writeFile([0x80, 0x02] + [UInt8](repeating: 0x4E, count: 30), to: pickle)
        assertCheckpointError(try ModelDirectory(path: dir), file: pickle) {
            if case .malformedArchive = $0 { return $0.description.contains("legacy") && $0.description.contains("safetensors") } else { return false }
        }
    }

    func testMissingDirectoryIsAnError() throws {
        let dir = try makeTempDirectory(self) + "/does-not-exist"
        assertCheckpointError(try ModelDirectory(path: dir), file: dir) {
            if case .missingDirectory = $0 { return true } else { return false }
        }
    }

    func testDirectoryWithoutWeightsIsAnError() throws {
        let dir = try makeTempDirectory(self)
        try writeFile(Array("{}".utf8), to: dir + "/config.json")
        assertCheckpointError(try ModelDirectory(path: dir), file: dir) {
            if case .noWeights = $0 { return true } else { return false }
        }
    }

    func testAWeightsFileThatIsALinkLoopIsNamedWithTheReasonNotReportedMissing() throws {
        let dir = try makeTempDirectory(self)
        try writeFile(Array("{}".utf8), to: dir + "/config.json")
        try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: "model.safetensors")
        assertCheckpointError(try ModelDirectory(path: dir), file: dir + "/model.safetensors") {
            if case let .cannotOpen(_, reason) = $0 { return reason == "Too many levels of symbolic links" } else { return false }
        }
    }

    func testMissingTensorInModelIsAnError() throws {
        let dir = Fixtures.path("models/gpt2-tiny-sharded")
        assertCheckpointError(try ModelDirectory(path: dir).floatTensor(named: "lm_head.weight"), file: dir, tensor: "lm_head.weight") {
            if case .tensorNotFound = $0 { return true } else { return false }
        }
    }

    func testReadsConfigJSON() throws {
        let config = try ModelDirectory(path: Fixtures.path("models/gpt2-tiny")).configObject()
        XCTAssertEqual(config["model_type"]?.stringValue, "gpt2")
        XCTAssertEqual(config["n_embd"], .int(64))
        XCTAssertEqual(config["vocab_size"]?.intValue, 1000)
        XCTAssertEqual(config["layer_norm_epsilon"]?.doubleValue, 1e-5)
        XCTAssertEqual(config["tie_word_embeddings"]?.boolValue, true)
        XCTAssertEqual(config["n_inner"], .null)
        XCTAssertEqual(config["architectures"], .array([.string("GPT2LMHeadModel")]))
    }

    func testInvalidConfigJSONNamesFile() throws {
        let dir = try makeTempDirectory(self)
        try SafeTensorsWriter(tensors: ["w": Tensor(scalar: 1)]).write(to: dir + "/model.safetensors")
        try writeFile(Array("{ nope".utf8), to: dir + "/config.json")
        assertCheckpointError(try ModelDirectory(path: dir).config(), file: dir + "/config.json") {
            if case .invalidJSON = $0 { return true } else { return false }
        }
    }

    func testMissingConfigJSONNamesFile() throws {
        let dir = try makeTempDirectory(self)
        try SafeTensorsWriter(tensors: ["w": Tensor(scalar: 1)]).write(to: dir + "/model.safetensors")
        assertCheckpointError(try ModelDirectory(path: dir).config(), file: dir + "/config.json") {
            if case .invalidJSON = $0 { return true } else { return false }
        }
    }
}
