// libFuzzer target: arbitrary bytes as the tar inside a plugin bundle's .tar.gz (compressed here,
// so that mutations reach tar rather than gzip), installed as `plugins install` installs it into a
// scratch plugin folder: the listing's checks (links, devices, set-id bits, size and entry
// limits), extraction and the manifest. Built and run by scripts/fuzz.sh.
// fuzz-modules: PluginHost HostUtility DataPipeline Tokenizers CSentencePiece ChatTemplate Autograd TensorCore Kernels512 CProcessorProbe CDPOHostSDK
// fuzz-libraries: z sentencepiece stdc++
import CZlib
import Foundation
import PluginHost

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-fuzz-tar-\(getpid())")
let archive = scratch.path + ".tar.gz"

@_cdecl("LLVMFuzzerTestOneInput")
public func bundleTarFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let gz = gzopen(archive, "wb1") else { return 0 }
    if size > 0 { _ = gzwrite(gz, data, UInt32(size)) }
    gzclose(gz)
    _ = try? BundleStore(directory: scratch.path).install(bundlePath: archive)
    try? FileManager.default.removeItem(at: scratch)
    return 0
}
