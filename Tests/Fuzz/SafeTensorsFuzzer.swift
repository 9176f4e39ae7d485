// libFuzzer target: arbitrary bytes read as a safetensors file, every tensor read back. Any outcome
// but a crash, a hang or a leak is fine (a refusal is an error, which is the expected answer to
// most inputs). Built and run by scripts/fuzz.sh (`make fuzz`), not by `swift build`.
// fuzz-modules: Checkpoint HostUtility TensorCore Kernels512 CProcessorProbe
import Checkpoint
import Foundation

/// Each fuzzing process writes its inputs to one scratch file (the reader takes a path).
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-fuzz-\(getpid()).safetensors").path

@_cdecl("LLVMFuzzerTestOneInput")
public func safeTensorsFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = FileManager.default.createFile(atPath: scratch, contents: Data(bytes: data, count: size))
    guard let file = try? SafeTensorsFile(path: scratch) else { return 0 }
    for name in file.tensorNames { _ = try? file.floatTensor(named: name) }
    return 0
}
