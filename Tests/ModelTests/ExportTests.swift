import Autograd
import Checkpoint
import Foundation
import Model
import TensorCore
import TestSupport
import Training
import XCTest

/// Export writes a directory that loads back to identical logits, here and in transformers.
final class ExportTests: XCTestCase {
    func logits(_ dir: String) throws -> [Float] {
        let g = try SafeTensorsFile(path: ModelFixtures.golden("forward-pythia-tiny.safetensors"))
        let lm = try LanguageModel(directory: dir, registry: ModelFixtures.registry(), trainable: false)
        return try lm.forward(ids: g.indexTensor(named: "input_ids"), mask: g.indexTensor(named: "attention_mask"),
                              tape: Tape(pool: .serial, recording: false)).value.scalars
    }

    func testExportRoundTripGivesIdenticalLogits() throws {
        for name in ["pythia-tiny", "llama-tiny", "gpt2-tiny-sharded"] {
            let lm = try LanguageModel(directory: ModelFixtures.model(name), registry: ModelFixtures.registry(), trainable: false)
            let out = try ModelFixtures.temporaryDirectory().appendingPathComponent("export").path
            try ModelExport.export(lm, to: out)
            for file in ["config.json", "model.safetensors", "tokenizer_config.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), "\(name): \(file)")
            }
            let reloaded = try LanguageModel(directory: out, registry: ModelFixtures.registry(), trainable: false)
            for (a, b) in zip(lm.parameters, reloaded.parameters) {
                XCTAssertEqual(a.name, b.name)
                XCTAssertEqual(a.variable.value.scalars, b.variable.value.scalars, "\(name): \(a.name)")
            }
        }
        let out = try ModelFixtures.temporaryDirectory().appendingPathComponent("p").path
        try ModelExport.export(LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false), to: out)
        XCTAssertEqual(try logits(out), try logits(ModelFixtures.model("pythia-tiny")))
    }

    func testExportedFileCarriesPyTorchFormatMetadataAndWritesTheTiedMatrixOnce() throws {
        let lm = try LanguageModel(directory: ModelFixtures.model("gpt2-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let out = try ModelFixtures.temporaryDirectory().appendingPathComponent("g").path
        try ModelExport.export(lm, to: out)
        let file = try SafeTensorsFile(path: out + "/model.safetensors")
        XCTAssertEqual(file.metadata["format"], "pt")
        XCTAssertTrue(file.contains("transformer.wte.weight"))
        XCTAssertFalse(file.contains("lm_head.weight"))
    }

    /// Needs Python with torch and transformers; skipped with the reason otherwise.
    func testTransformersLoadsTheExportToTheSameLogits() throws {
        let probe = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", "import torch, transformers"])
        try XCTSkipIf(probe.status != 0, "python3 with torch and transformers is not importable here")

        let lm = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let out = try ModelFixtures.temporaryDirectory().appendingPathComponent("hf").path
        try ModelExport.export(lm, to: out)
        let script = """
        import sys, torch, transformers
        from safetensors.torch import load_file
        g = load_file(sys.argv[2])
        m = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
        with torch.no_grad():
            out = m(input_ids=g["input_ids"], attention_mask=g["attention_mask"]).logits
        mask = g["attention_mask"].bool()
        print(float((out[mask] - g["logits"][mask]).abs().max()))
        """
        let p = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, out, ModelFixtures.golden("forward-pythia-tiny.safetensors")])
        XCTAssertEqual(p.status, 0, p.stderr)
        let text = p.stdout
        let diff = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .infinity
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }
}
