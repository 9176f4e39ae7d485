// libFuzzer target: arbitrary bytes as a model folder's tokenizer.model (a sentencepiece model,
// the folder has no tokenizer.json), loaded as dpohost loads a Llama tokenizer, then a fixed text
// encoded and decoded with it. Built and run by scripts/fuzz.sh.
// fuzz-modules: Tokenizers CSentencePiece
// fuzz-libraries: sentencepiece stdc++
import Foundation
import Tokenizers

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-fuzz-spm-\(getpid())")

@_cdecl("LLVMFuzzerTestOneInput")
public func sentencePieceModelFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("tokenizer.model").path,
                                       contents: Data(bytes: data, count: size))
    guard let tokenizer = try? TokenizerLoader.load(directory: folder) else { return 0 }
    let ids = tokenizer.encode("Hello, world! Ünïcödé 123\n\nHuman: hi", addSpecialTokens: true)
    _ = tokenizer.decode(ids, skipSpecialTokens: false)
    return 0
}
