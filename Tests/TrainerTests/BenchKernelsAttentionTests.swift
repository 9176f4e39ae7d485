import Foundation
import XCTest

/// `dpohost bench kernels --attention-only`: both attention methods at each length, and what each
/// keeps for backward — the tiled method's memory grows with the length, the materialized one's
/// with its square. No timing is asserted.
final class BenchKernelsAttentionTests: XCTestCase, CLIRunning {
    func testEachLengthHasBothMethodsAndTheTiledOneKeepsMemoryLinearInLength() throws {
        let run = try dpohost(["bench", "kernels", "--attention-only", "--attention-lengths", "64,128", "--repeats", "1",
                               "--threads", "1"])
        let text = run.output
        XCTAssertEqual(run.status, 0, text)
        // "heads×d (kv)  T  method  fwd ms  bwd ms  fwd GF/s  bwd GF/s  kept KiB", per shape.
        var kept: [String: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("8×32 (4)") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            XCTAssertEqual(f.count, 9, String(line))
            guard f.count == 9 else { continue }
            kept["\(f[3]) \(f[2])"] = Double(f[8])
        }
        XCTAssertEqual(Set(kept.keys), ["materialized 64", "materialized 128", "tiled 64", "tiled 128"], text)
        // One log-sum-exp per query and head against every probability: 8·T floats, 8·T² floats.
        XCTAssertEqual(kept["tiled 64"], 2.0, text)
        XCTAssertEqual(kept["tiled 128"], 4.0, text)
        XCTAssertEqual(kept["materialized 64"], 128.0, text)
        XCTAssertEqual(kept["materialized 128"], 512.0, text)
    }
}
