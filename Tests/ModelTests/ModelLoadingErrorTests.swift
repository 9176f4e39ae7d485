import Checkpoint
import Foundation
import Model
import PluginHost
import TensorCore
import Training
import XCTest

/// A bad model directory is one clear error naming the file and what is wrong, never a crash.
final class ModelLoadingErrorTests: XCTestCase {
    func assertLoadFails(_ dir: URL, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LanguageModel(directory: dir.path, registry: ModelFixtures.registry(), trainable: false),
                             file: file, line: line) { error in
            let message = String(describing: error)
            for m in mentions { XCTAssertTrue(message.contains(m), "'\(message)' should mention '\(m)'", file: file, line: line) }
        }
    }

    func rewriteConfig(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("config.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
    }

    func testUnknownArchitectureNamesTheModelTypeAndTheKnownOnes() throws {
        let dir = try ModelFixtures.copy("gpt2-tiny")
        try rewriteConfig(dir) { $0["model_type"] = "mamba" }
        assertLoadFails(dir, mentions: ["config.json", "mamba", "gpt2", "gpt_neox", "llama"])
    }

    func testConfigWithoutModelTypeIsAnError() throws {
        let dir = try ModelFixtures.copy("gpt2-tiny")
        try rewriteConfig(dir) { $0.removeValue(forKey: "model_type") }
        assertLoadFails(dir, mentions: ["config.json", "model_type"])
    }

    func testMissingTensorNamesTheTensor() throws {
        let dir = try ModelFixtures.copy("pythia-tiny")
        let file = try SafeTensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
        var tensors: [String: Tensor] = [:]
        for name in file.tensorNames where name != "embed_out.weight" { tensors[name] = try file.floatTensor(named: name).copy() }
        try SafeTensorsWriter(tensors: tensors).write(to: dir.appendingPathComponent("model.safetensors").path)
        assertLoadFails(dir, mentions: ["embed_out.weight"])
    }

    func testTensorOfTheWrongShapeNamesItAndBothShapes() throws {
        let dir = try ModelFixtures.copy("llama-tiny")
        try rewriteConfig(dir) { $0["intermediate_size"] = 128 }
        assertLoadFails(dir, mentions: ["mlp.gate_proj.weight", "[176, 64]", "[128, 64]"])
    }

    func testTruncatedCheckpointIsAnErrorNamingTheFile() throws {
        let dir = try ModelFixtures.copy("gpt2-tiny")
        let path = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: path)
        try data.prefix(data.count / 2).write(to: path)
        assertLoadFails(dir, mentions: ["model.safetensors"])
    }

    func testPickleOnlyDirectoryIsRefused() throws {
        let dir = try ModelFixtures.copy("gpt2-tiny")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        try Data([0x80, 0x02]).write(to: dir.appendingPathComponent("pytorch_model.bin"))
        assertLoadFails(dir, mentions: ["pytorch_model.bin", "safetensors"])
    }

    func testUnsupportedRopeScalingIsRefused() throws {
        let dir = try ModelFixtures.copy("llama-tiny")
        try rewriteConfig(dir) { $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0, "factor": 2.0] }
        assertLoadFails(dir, mentions: ["yarn"])
    }

    func testMissingDirectoryIsAnError() throws {
        assertLoadFails(URL(fileURLWithPath: "/nonexistent/model"), mentions: ["/nonexistent/model"])
    }
}
