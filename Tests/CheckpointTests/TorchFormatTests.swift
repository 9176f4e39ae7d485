import Checkpoint
import Foundation
import TensorCore
import XCTest

/// PyTorch's own checkpoint format (fixtures torch-format/README.md): views of one storage and
/// 16-bit storages read to their values, and malicious pickles refused with nothing run.
final class TorchFormatTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch-format")
    func fixture(_ name: String) -> String { Self.folder.appendingPathComponent(name).path }

    func flat(_ value: Any) -> [Double] {
        if let list = value as? [Any] { return list.flatMap(flat) }
        return [(value as? NSNumber)?.doubleValue ?? .nan]
    }

    func testViewsOffsetsStridesAndSixteenBitStoragesReadToTheirValues() throws {
        let file = try TorchCheckpointFile(path: fixture("views.pt"))
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("views.json")))) as? [String: Any])
        for name in ["whole", "row_view", "col_view", "transposed", "half", "bf16", "scalar", "shared_a", "shared_b"] {
            let values = try file.floatTensor(named: name).scalars.map(Double.init)
            XCTAssertEqual(values, flat(try XCTUnwrap(expected[name])), name)
        }
        XCTAssertEqual(try file.shape(of: "transposed"), [6, 4])
        XCTAssertEqual(try file.shape(of: "scalar"), [])
        XCTAssertEqual(try file.dtype(of: "half"), .f16)
        XCTAssertEqual(try file.dtype(of: "bf16"), .bf16)
        XCTAssertEqual(try file.int64Values(named: "int64").map(Double.init), flat(try XCTUnwrap(expected["int64"])))
    }

    func testEveryMaliciousPickleIsRefusedNamingTheFileAndTheObjectAndRunsNothing() throws {
        let marker = "/tmp/dpohost-pickle-ran"
        try? FileManager.default.removeItem(atPath: marker)
        // Protocol 2 pickles name Python 2's modules: builtins.eval is __builtin__.eval there and
        // subprocess.call commands.call.
        for (name, object) in [("evil-system.pt", "posix.system"), ("evil-eval.pt", "__builtin__.eval"),
                               ("evil-subprocess.pt", "commands.call"), ("evil-object.pt", "argparse.Namespace")] {
            XCTAssertThrowsError(try TorchCheckpointFile(path: fixture(name)), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(fixture(name) + ": refused: the pickle names \(object)"), text)
                XCTAssertTrue(text.contains("nothing in the file was run"), text)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "a pickle ran code")
    }

    /// Every tensor a PyTorch checkpoint holds equals the same model's safetensors tensor, bit for bit.
    func assertSameTensors(_ torch: any WeightFile, as safetensors: String, count: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try ModelDirectory(path: Self.folder.deletingLastPathComponent().appendingPathComponent("models/\(safetensors)").path)
        XCTAssertEqual(torch.tensorNames.count, count, "\(torch.tensorNames)", file: file, line: line)
        for name in torch.tensorNames {
            // transformers 5 names GPT-NeoX's head lm_head.weight; the safetensors files embed_out.weight.
            let stored = name == "lm_head.weight" && !reference.contains(name) ? "embed_out.weight" : name
            XCTAssertEqual(try torch.shape(of: name), try reference.shape(of: stored), name, file: file, line: line)
            XCTAssertEqual(try torch.floatTensor(named: name).scalars.map(\.bitPattern),
                           try reference.floatTensor(named: stored).scalars.map(\.bitPattern), name, file: file, line: line)
        }
    }

    /// The DPO reference's `{step_idx, state, metrics}` archive yields its state dict: the weights
    /// of pythia-tiny-ref (its head under transformers 5's name, lm_head.weight).
    func testTheReferencesArchiveYieldsItsStateDict() throws {
        let file = try TorchCheckpointFile(path: fixture("policy.pt"))
        XCTAssertFalse(file.tensorNames.contains("step_idx"))
        try assertSameTensors(file, as: "pythia-tiny-ref", count: 28)
    }

    func testPytorchModelBinFoldersHoldTheSafetensorsModelsWeights() throws {
        let pythia = try TorchCheckpointFile(path: fixture("pythia-tiny-bin/pytorch_model.bin"))
        try assertSameTensors(pythia, as: "pythia-tiny", count: 28)
        let llama = try TorchCheckpointFile(path: fixture("llama-tiny-bin/pytorch_model.bin"))
        try assertSameTensors(llama, as: "llama-tiny", count: 21)
    }

    func testAFileThatIsNotAZipIsOneClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-torch-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bogus = dir.appendingPathComponent("pytorch_model.bin")
        try Data(repeating: 0x41, count: 100).write(to: bogus)
        XCTAssertThrowsError(try ModelDirectory(path: dir.path)) { error in
            XCTAssertEqual("\(error)", "\(bogus.path): not a readable PyTorch checkpoint: not a zip file (no end of central directory)")
        }
    }
}

/// Damaged or hostile archives give one error naming the file, never a crash or a huge allocation.
final class TorchFormatHostileInputTests: XCTestCase {
    func write(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-torch-\(UUID()).pt").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testEveryTruncationOfAGoodFileIsRefusedWithoutACrash() throws {
        let good = try [UInt8](Data(contentsOf: TorchFormatTests.folder.appendingPathComponent("views.pt")))
        for cut in stride(from: 8, to: good.count, by: 97) {
            let path = try write(Array(good[..<cut]))
            XCTAssertThrowsError(try TorchCheckpointFile(path: path), "cut at \(cut)") { error in
                XCTAssertTrue("\(error)".hasPrefix(path), "\(error)")
            }
        }
    }

    func testFlippedBytesInTheCentralDirectoryAndPickleNeverCrash() throws {
        let good = try [UInt8](Data(contentsOf: TorchFormatTests.folder.appendingPathComponent("views.pt")))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15   // a fixed LCG: the same 1000 files every run
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for _ in 0..<1000 {
            var bytes = good
            for _ in 0..<4 { bytes[next() % bytes.count] = UInt8(next() % 256) }
            let path = try write(bytes)
            // Either it still reads (a flipped tensor value) or it is refused; it never traps.
            if let file = try? TorchCheckpointFile(path: path) {
                for name in file.tensorNames { _ = try? file.floatTensor(named: name) }
            }
        }
    }
}
