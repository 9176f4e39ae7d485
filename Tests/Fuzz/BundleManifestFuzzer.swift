// libFuzzer target: arbitrary bytes as a plugin bundle's manifest.json, checked as `plugins
// install` and `plugins verify` check it (the listed files are absent, so nothing is loaded).
// Built and run by scripts/fuzz.sh.
// fuzz-modules: PluginHost HostUtility DataPipeline Tokenizers CSentencePiece ChatTemplate Autograd TensorCore Kernels512 CProcessorProbe CDPOHostSDK
// fuzz-libraries: sentencepiece stdc++
import Foundation
import PluginHost

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-fuzz-bundle-\(getpid())")

@_cdecl("LLVMFuzzerTestOneInput")
public func bundleManifestFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("manifest.json").path,
                                       contents: Data(bytes: data, count: size))
    _ = try? BundleStore.verify(directory: folder.path, label: "fuzz")
    return 0
}
