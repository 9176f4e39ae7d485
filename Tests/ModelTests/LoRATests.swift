import Autograd
import Checkpoint
import Configuration
import Foundation
import Model
import PluginHost
import TensorCore
import TestSupport
import Training
import XCTest

/// LoRA as PEFT defines it: the adapted linear's gradients by finite differences in both weight
/// layouts; every adapter `peft` wrote for the fixture models (Conv1D, NeoX, Llama, rsLoRA)
/// gives its golden logits; the reference view is the base model bit for bit.
final class LoRATests: XCTestCase {
    static let peft = ModelFixtures.root.appendingPathComponent("peft")

    func checkGradients(layout: LinearLayout) throws {
        let (batch, inputs, outputs, r) = (3, 5, 4, 2)
        var rng = SplitMix64(seed: 7)
        func random(_ shape: [Int]) -> Tensor {
            let t = Tensor(zeros: shape)
            for i in 0..<t.count { t.pointer[i] = Float(rng.nextUniform() * 2 - 1) }
            return t
        }
        let weightShape = layout == .outIn ? [outputs, inputs] : [inputs, outputs]
        let settings = LoRASettings(r: r, alpha: 3, targetModules: ["all-linear"])
        let failure = try GradientCheck().run(inputs: [random([batch, inputs]), random(weightShape), random([outputs]),
                                                       random([r, inputs]), random([outputs, r])],
                                              differentiable: [0, 3, 4]) { tape, v in
            let adapter = LoRAAdapter(module: "m", a: v[3], b: v[4], layout: layout)
            let lora = LoRAAdapters(settings: settings, adapters: [adapter], weights: [ObjectIdentifier(v[1])], seed: 0)
            return try XCTUnwrap(try lora.linear(v[0], weight: v[1], bias: v[2], layout: layout, tape: tape))
        }
        XCTAssertNil(failure, "\(layout): \(failure.map { "\($0)" } ?? "")")
    }

    func testAdaptedLinearGradientsMatchFiniteDifferencesInTheLinearLayout() throws { try checkGradients(layout: .outIn) }
    func testAdaptedLinearGradientsMatchFiniteDifferencesInTheConv1DLayout() throws { try checkGradients(layout: .inOut) }

    /// `logits` of the golden against the model's, at real positions, with the forward goldens' tolerance.
    func assertLogits(_ logits: Variable, _ expected: Tensor, mask: IndexTensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(logits.shape, expected.shape, file: file, line: line)
        let (n, t, v) = (expected.shape[0], expected.shape[1], expected.shape[2])
        let a = logits.value.scalars, e = expected.scalars
        var worst: Float = 0
        for row in 0..<n { for pos in 0..<t where mask[row, pos] != 0 {
            for k in 0..<v { let i = (row * t + pos) * v + k; worst = max(worst, abs(a[i] - e[i]) - 1e-4 * abs(e[i])) }
        } }
        XCTAssertLessThanOrEqual(worst, 1e-4, what, file: file, line: line)
    }

    func checkPEFT(_ adapter: String, base: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try LanguageModel(directory: ModelFixtures.model(base), registry: ModelFixtures.registry(), trainable: false)
        let lora = try model.loadPEFTAdapter(directory: Self.peft.appendingPathComponent(adapter).path)
        XCTAssertFalse(lora.adapters.isEmpty, file: file, line: line)
        let input = try SafeTensorsFile(path: ModelFixtures.golden("forward-\(base).safetensors"))
        let golden = try SafeTensorsFile(path: Self.peft.appendingPathComponent("\(adapter)/golden.safetensors").path)
        let mask = try input.indexTensor(named: "attention_mask"), ids = try input.indexTensor(named: "input_ids")
        let tape = Tape(pool: WorkerPool(threads: 2), recording: false)
        assertLogits(try model.forward(ids: ids, mask: mask, tape: tape), try golden.floatTensor(named: "logits"), mask: mask,
                     "\(adapter): adapted logits", file: file, line: line)
        assertLogits(try model.referenceView().forward(ids: ids, mask: mask, tape: tape), try golden.floatTensor(named: "base_logits"),
                     mask: mask, "\(adapter): base logits", file: file, line: line)
    }

    func testAGPT2AdapterOnConv1DLayersGivesPEFTsLogits() throws { try checkPEFT("gpt2-tiny-r4", base: "gpt2-tiny") }
    func testAPythiaAdapterGivesPEFTsLogits() throws { try checkPEFT("pythia-tiny-r4", base: "pythia-tiny") }
    func testALlamaAdapterGivesPEFTsLogits() throws { try checkPEFT("llama-tiny-r4", base: "llama-tiny") }
    func testAnRSLoRAAdapterScalesByAlphaOverTheRootOfR() throws { try checkPEFT("llama-tiny-rslora-r8", base: "llama-tiny") }

    func testTheReferenceViewIsTheBaseModelBitForBit() throws {
        let base = try LanguageModel(directory: ModelFixtures.model("llama-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let adapted = try LanguageModel(directory: ModelFixtures.model("llama-tiny"), registry: ModelFixtures.registry(), trainable: false)
        _ = try adapted.loadPEFTAdapter(directory: Self.peft.appendingPathComponent("llama-tiny-r4").path)
        let input = try SafeTensorsFile(path: ModelFixtures.golden("forward-llama-tiny.safetensors"))
        let ids = try input.indexTensor(named: "input_ids"), mask = try input.indexTensor(named: "attention_mask")
        let tape = Tape(pool: .serial, recording: false)
        let plain = try base.forward(ids: ids, mask: mask, tape: tape).value.scalars
        XCTAssertEqual(try adapted.referenceView().forward(ids: ids, mask: mask, tape: tape).value.scalars, plain)
        XCTAssertNotEqual(try adapted.forward(ids: ids, mask: mask, tape: tape).value.scalars, plain)
    }

    /// Adapter gradients of one recorded forward (with B made nonzero) and the reference view's logits.
    func adaptedGradients(_ model: LanguageModel, _ base: String) throws -> (grads: [[Float]], reference: [Float]) {
        let lora = try model.attachLoRA(LoRASettings(r: 2, alpha: 4, targetModules: ["all-linear"]), seed: 5)
        for (k, adapter) in lora.adapters.enumerated() {
            for i in 0..<adapter.b.value.count { adapter.b.value.pointer[i] = Float((k + i) % 7 - 3) * 0.01 }
        }
        let input = try SafeTensorsFile(path: ModelFixtures.golden("forward-\(base).safetensors"))
        let ids = try input.indexTensor(named: "input_ids"), mask = try input.indexTensor(named: "attention_mask")
        let tape = Tape(pool: WorkerPool(threads: 2))
        let logits = try model.forward(ids: ids, mask: mask, tape: tape)
        try tape.backward(try tape.sum(try tape.mul(logits, logits)))
        let reference = try model.referenceView().forward(ids: ids, mask: mask, tape: Tape(pool: .serial, recording: false))
        return (lora.parameters.map { $0.variable.grad!.scalars }, reference.value.scalars)
    }

    func checkSixteenBitBase(_ precision: WeightPrecision, _ base: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let rounded = try LanguageModel(directory: ModelFixtures.model(base), registry: ModelFixtures.registry(), trainable: false)
        rounded.castWeights(to: precision)
        let compact = try LanguageModel(directory: ModelFixtures.model(base), registry: ModelFixtures.registry(), trainable: false)
        compact.castWeights(to: precision)
        try compact.compactWeights()
        let expected = try adaptedGradients(rounded, base), found = try adaptedGradients(compact, base)
        let differing = zip(found.grads, expected.grads).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        XCTAssertEqual(differing, [], "\(precision) \(base): gradients of these adapter parameters differ", file: file, line: line)
        XCTAssertTrue(found.reference == expected.reference, "\(precision) \(base): reference logits differ", file: file, line: line)
        XCTAssertGreaterThan(expected.grads.flatMap { $0 }.map(abs).max() ?? 0, 0, file: file, line: line)
    }

    func testABFloat16BaseHeldCompactTrainsAsTheRoundedFloat32BaseBitForBit() throws {
        try checkSixteenBitBase(.bfloat16, "gpt2-tiny")
        try checkSixteenBitBase(.bfloat16, "llama-tiny")
    }

    func testAFloat16BaseHeldCompactTrainsAsTheRoundedFloat32BaseBitForBit() throws {
        try checkSixteenBitBase(.float16, "pythia-tiny")
    }

    func testAnUnknownTargetModuleListsTheModelsLinears() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("gpt2-tiny"), registry: ModelFixtures.registry(), trainable: false)
        XCTAssertThrowsError(try model.attachLoRA(LoRASettings(r: 4, targetModules: ["q_proj"]), seed: 0)) {
            XCTAssertEqual("\($0)", "lora.target_modules: q_proj is not a linear module of this model; its linear modules are c_attn, c_fc, c_proj (or all-linear)")
        }
        XCTAssertThrowsError(try model.attachLoRA(LoRASettings(r: 0), seed: 0)) { XCTAssertEqual("\($0)", "lora.r must be >= 1, got 0") }
    }

    func testAnAdapterForOtherShapesIsRefusedNamingTheTensor() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        XCTAssertThrowsError(try model.loadPEFTAdapter(directory: Self.peft.appendingPathComponent("llama-tiny-r4").path)) {
            XCTAssertTrue("\($0)".contains("not a linear module of this model") || "\($0)".contains("has shape"), "\($0)")
        }
    }

    func logits(_ model: LanguageModel, _ base: String) throws -> (Variable, IndexTensor) {
        let input = try SafeTensorsFile(path: ModelFixtures.golden("forward-\(base).safetensors"))
        let mask = try input.indexTensor(named: "attention_mask")
        return (try model.forward(ids: input.indexTensor(named: "input_ids"), mask: mask, tape: Tape(pool: .serial, recording: false)), mask)
    }

    func checkMerge(_ adapter: String, base: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let merged = try LanguageModel(directory: ModelFixtures.model(base), registry: ModelFixtures.registry(), trainable: false)
        try merged.mergePEFTAdapter(directory: Self.peft.appendingPathComponent(adapter).path)
        XCTAssertNil(merged.lora, file: file, line: line)
        let golden = try SafeTensorsFile(path: Self.peft.appendingPathComponent("\(adapter)/golden.safetensors").path)
        let (out, mask) = try logits(merged, base)
        assertLogits(out, try golden.floatTensor(named: "logits"), mask: mask, "\(adapter): merged", file: file, line: line)
    }

    func testMergingAConv1DAdapterGivesTheAdaptedLogits() throws { try checkMerge("gpt2-tiny-r4", base: "gpt2-tiny") }
    func testMergingALlamaRSLoRAAdapterGivesTheAdaptedLogits() throws { try checkMerge("llama-tiny-rslora-r8", base: "llama-tiny") }

    /// Python with torch, transformers and peft, or a skip saying what is missing.
    func python(_ script: String, _ args: [String]) throws -> String {
        let probe = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", "import torch, transformers, peft"])
        try XCTSkipIf(probe.status != 0, "python3 with torch, transformers and peft is not importable here (pip install peft)")
        let p = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script] + args)
        XCTAssertEqual(p.status, 0, p.stderr)
        return p.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes `lora` (B and any saved module moved away from their start) as a PEFT folder and has
    /// peft load it on `base` in transformers: its logits must be dpohost's.
    func checkPEFTLoadsOurs(_ base: String, _ settings: LoRASettings, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try LanguageModel(directory: ModelFixtures.model(base), registry: ModelFixtures.registry(), trainable: false)
        let lora = try model.attachLoRA(settings, seed: 3)
        // Train-like values: B away from zero and the saved modules moved, so the logits change.
        var rng = SplitMix64(seed: 11)
        for a in lora.adapters { for i in 0..<a.b.value.count { a.b.value.pointer[i] = Float(rng.nextUniform() - 0.5) * 0.2 } }
        for m in lora.saved { for i in 0..<m.copy.value.count { m.copy.value.pointer[i] += Float(rng.nextUniform() - 0.5) * 0.2 } }
        let dir = try ModelFixtures.temporaryDirectory()
        try SafeTensorsWriter(tensors: Dictionary(uniqueKeysWithValues: lora.parameters.map { ($0.name, $0.variable.value) }))
            .write(to: dir.appendingPathComponent("adapter_model.safetensors").path)
        try lora.peftConfig(baseModel: ModelFixtures.model(base)).write(to: dir.appendingPathComponent("adapter_config.json"),
                                                                       atomically: true, encoding: .utf8)
        let (ours, _) = try logits(model, base)
        let oursFile = dir.appendingPathComponent("ours.safetensors")
        try SafeTensorsWriter(tensors: ["logits": ours.value]).write(to: oursFile.path)
        let script = """
        import sys, torch, transformers, peft
        from safetensors.torch import load_file
        g = load_file(sys.argv[3]); ours = load_file(sys.argv[4])["logits"]
        base = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1], attn_implementation="eager")
        m = peft.PeftModel.from_pretrained(base, sys.argv[2]).eval()
        with torch.no_grad():
            out = m(input_ids=g["input_ids"], attention_mask=g["attention_mask"]).logits
        mask = g["attention_mask"].bool()
        print(float((out[mask] - ours[mask]).abs().max()), float((out[mask] - g["logits"][mask]).abs().max()))
        """
        let text = try python(script, [ModelFixtures.model(base), dir.path, ModelFixtures.golden("forward-\(base).safetensors"), oursFile.path])
        let parts = text.split(separator: " ").compactMap { Double($0) }
        XCTAssertEqual(parts.count, 2, text, file: file, line: line)
        XCTAssertLessThanOrEqual(parts.first ?? .infinity, 1e-4, "peft's logits against dpohost's adapted model", file: file, line: line)
        XCTAssertGreaterThan(parts.last ?? 0, 1e-3, "the adapter changes the base logits", file: file, line: line)
    }

    func testAnAdapterDpohostWritesLoadsInPEFTAndGivesTheSameLogits() throws {
        try checkPEFTLoadsOurs("gpt2-tiny", LoRASettings(r: 4, alpha: 8, targetModules: ["all-linear"]))
    }

    func testAnAdapterWithAModuleTrainedInFullLoadsInPEFTAndGivesTheSameLogits() throws {
        // lm_head: transformers 5's name of Pythia's head (embed_out in its checkpoints).
        try checkPEFTLoadsOurs("pythia-tiny", LoRASettings(r: 4, alpha: 8, targetModules: ["query_key_value"], modulesToSave: ["lm_head"]))
    }

    func testAModuleToSaveIsACopyThePolicyTrainsWhileTheReferenceKeepsTheBase() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        let (before, _) = try logits(model, "pythia-tiny")
        let lora = try model.attachLoRA(LoRASettings(r: 2, targetModules: ["query_key_value"], modulesToSave: ["embed_out"]), seed: 1)
        XCTAssertEqual(lora.saved.map(\.name), ["embed_out.weight"])
        XCTAssertEqual(lora.parameters.last?.name, "base_model.model.embed_out.weight")
        XCTAssertTrue(lora.saved[0].copy.requiresGrad)
        for i in 0..<lora.saved[0].copy.value.count { lora.saved[0].copy.value.pointer[i] *= 2 }
        let (adapted, _) = try logits(model, "pythia-tiny")
        let (reference, _) = try logits(model.referenceView(), "pythia-tiny")
        XCTAssertTrue(reference.value.scalars == before.value.scalars, "the reference reads the base head")
        XCTAssertFalse(adapted.value.scalars == before.value.scalars, "the policy reads the trained copy")
    }

    func testModulesToSaveThatNameNoModuleOrAnAdaptedOneAreRefused() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        XCTAssertThrowsError(try model.attachLoRA(LoRASettings(r: 2, modulesToSave: ["score"]), seed: 0)) {
            XCTAssertTrue("\($0)".hasPrefix("lora.modules_to_save: score is not a module of this model; its modules outside the blocks are "), "\($0)")
            XCTAssertTrue("\($0)".contains("embed_out, gpt_neox.embed_in, gpt_neox.final_layer_norm, lm_head"), "\($0)")
        }
        XCTAssertThrowsError(try model.attachLoRA(LoRASettings(r: 2, targetModules: ["query_key_value"], modulesToSave: ["query_key_value"]), seed: 0)) {
            XCTAssertTrue("\($0)".contains("is also a LoRA target"), "\($0)")
        }
    }
}
