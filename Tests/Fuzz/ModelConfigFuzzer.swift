// libFuzzer target: arbitrary bytes as a model's config.json, read by every built-in model
// plugin's `configure` (the plugins' own range checks and the host's parameter budget) as
// `dpohost train` reads it before loading weights. The plugins are the shared libraries named on
// the fuzz-plugins line, built with the same instrumentation by scripts/fuzz.sh into the folder
// DPOHOST_FUZZ_PLUGINS names.
// fuzz-modules: PluginHost HostUtility DataPipeline Tokenizers CSentencePiece ChatTemplate Autograd TensorCore Kernels512 CProcessorProbe CDPOHostSDK
// fuzz-libraries: sentencepiece stdc++
// fuzz-plugins: GPT2Model+DPOHostSDK PythiaModel+DPOHostSDK LlamaModel+DPOHostSDK GPTJModel
import Foundation
import PluginHost

let models: [ModelPlugin] = {
    guard let folder = ProcessInfo.processInfo.environment["DPOHOST_FUZZ_PLUGINS"],
          let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
        fatalError("DPOHOST_FUZZ_PLUGINS must name the folder of the instrumented model plugins")
    }
    return names.filter { $0.hasSuffix(".so") }.sorted().map { name in
        do { return try ModelPlugin(PluginLoader.load(path: folder + "/" + name)) } catch {
            fatalError("\(name): \(error)")
        }
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func modelConfigFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for model in models { _ = try? model.configure(configJSON: text) }
    return 0
}
