// libFuzzer target: arbitrary bytes as a dataset file (read line by line through zlib, each line
// parsed as a JSON record and its fields taken as the jsonl plugin takes them) and as HTML
// stripped as the StackExchange plugin strips it. Built and run by scripts/fuzz.sh.
// fuzz-modules: DatasetSupport DPOHostSDK
// fuzz-libraries: z
import DatasetSupport
import Glibc

let scratch = "/tmp/dpohost-fuzz-rows-\(getpid()).jsonl"

@_cdecl("LLVMFuzzerTestOneInput")
public func datasetRowsFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data, size)
    close(fd)
    try? JSONRow.forEach(path: scratch, maximumLineBytes: 1 << 16) { row in
        _ = try? row.strings(["prompt", "chosen", "rejected"])
    }
    _ = HTMLStripper.strip(String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self))
    return 0
}
