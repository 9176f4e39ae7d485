// libFuzzer target: the run's configuration as `dpohost train --config FILE KEY=VALUE...` reads
// it. The input up to its first NUL byte is the YAML file; each line after it is one command-line
// override. Composed over the repository's config/ (the fuzzer runs from the repository root),
// interpolated and read into the typed config. Built and run by scripts/fuzz.sh.
// fuzz-modules: Configuration HostUtility TensorCore Tokenizers DataPipeline ChatTemplate Kernels512 CProcessorProbe CSentencePiece Yams CYaml
// fuzz-libraries: sentencepiece stdc++
import Configuration
import Foundation

let file = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-fuzz-config-\(getpid()).yaml")
let loader = ConfigLoader(configDirectory: URL(fileURLWithPath: "config"))

@_cdecl("LLVMFuzzerTestOneInput")
public func configYAMLFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = bytes.firstIndex(of: 0) ?? size
    _ = FileManager.default.createFile(atPath: file.path, contents: Data(bytes[..<split]))
    let overrides = split < size
        ? String(decoding: bytes[(split + 1)...], as: UTF8.self).split(separator: "\n").map(String.init) : []
    _ = try? loader.load(arguments: overrides, userConfigFile: file.path)
    return 0
}
