// libFuzzer target: arbitrary bytes as the training file of every built-in dataset plugin, each
// loaded as `dpohost train` loads it (hh, shp and se from a data_dir holding train.jsonl, jsonl
// from its path): line reading, JSON, each plugin's own record building (HH's prompt split, SHP's
// score ratios, SE's HTML stripping and pairs, JSONL's flat and record rows) and the records the
// host checks. The plugins are the shared libraries named on the fuzz-plugins line, built with
// the same instrumentation by scripts/fuzz.sh into the folder DPOHOST_FUZZ_PLUGINS names.
// fuzz-modules: PluginHost HostUtility DataPipeline Tokenizers CSentencePiece ChatTemplate Autograd TensorCore Kernels512 CProcessorProbe CDPOHostSDK
// fuzz-plugins: dph_hh+DatasetSupport+DPOHostSDK dph_shp+DatasetSupport+DPOHostSDK dph_se+DatasetSupport+DPOHostSDK dph_jsonl+DatasetSupport+DPOHostSDK
// fuzz-libraries: z sentencepiece stdc++
import Foundation
import PluginHost

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-fuzz-datasets-\(getpid())")

let plugins: [LoadedPlugin] = {
    guard let dir = ProcessInfo.processInfo.environment["DPOHOST_FUZZ_PLUGINS"],
          let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
        fatalError("DPOHOST_FUZZ_PLUGINS must name the folder of the instrumented dataset plugins")
    }
    return names.filter { $0.hasSuffix(".so") }.sorted().map { name in
        do { return try PluginLoader.load(path: dir + "/" + name) } catch { fatalError("\(name): \(error)") }
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func datasetPluginsFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let file = folder.appendingPathComponent("train.jsonl")
    _ = FileManager.default.createFile(atPath: file.path, contents: Data(bytes: data, count: size))
    for plugin in plugins {
        let options = plugin.name == "jsonl" ? ["path": file.path]
            : plugin.name == "se" ? ["data_dir": folder.path, "shuffle": "false", "test_fraction": "0"]
            : ["data_dir": folder.path]
        _ = try? DatasetPlugin(plugin, options: options).load(split: "train")
    }
    return 0
}
