import Foundation
import TestSupport
import XCTest

/// `dpohost bench step` on one tiny configuration: the columns a reader compares, and the reason
/// the PyTorch side is skipped when its interpreter cannot import torch, and the cached-reference
/// line under a DPO row. No timing is asserted.
final class BenchStepCommandTests: XCTestCase {
    /// `dpohost ARGS`: exit status and output (stdout and stderr together).
    func dpohost(_ arguments: [String]) throws -> (status: Int32, text: String) {
        let r = try ProcessRunner.run(Repository.products.appendingPathComponent("dpohost"), arguments, combineOutput: true)
        return (r.status, r.stdout)
    }

    func testAnUnknownSizeIsOneErrorLineNamingTheOptionTheValueAndTheChoices() throws {
        let (status, text) = try dpohost(["bench", "step", "--size", "tiny,bogus"])
        XCTAssertEqual(status, 1, text)
        XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines),
                       "error: --size: 'bogus' is not a size; choose from tiny, small, base, 2.8b")
    }

    func testAnUnknownArchitectureLossOrLengthIsOneErrorLine() throws {
        for (arguments, line) in [(["--arch", "bert"], "error: --arch: 'bert' is not an architecture; choose from gpt2, pythia, llama"),
                                  (["--loss", "kto"], "error: --loss: 'kto' is not a loss; choose from sft, dpo, tdpo"),
                                  (["--seq", "2"], "error: --seq: '2' is not a length of at least 4 tokens")] {
            let (status, text) = try dpohost(["bench", "step"] + arguments)
            XCTAssertEqual(status, 1, text)
            XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines), line)
        }
    }

    func testAStepCountBelowItsLeastIsOneErrorLineNamingTheOptionAndTheValue() throws {
        for (option, value, least) in [("--steps", "0", "1"), ("--warmup", "-1", "0"), ("--batch", "0", "1")] {
            let (status, text) = try dpohost(["bench", "step", "\(option)=\(value)"])
            XCTAssertEqual(status, 1, text)
            XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines), "error: \(option): '\(value)' is below \(least)")
        }
    }

    func testOneTinyConfigurationPrintsTheColumnsAndTheTorchSkipReason() throws {
        let (status, text) = try dpohost(["bench", "step", "--arch", "pythia", "--size", "tiny", "--loss", "dpo", "--steps", "1",
                                          "--warmup", "0", "--sgemm-seconds", "0", "--vs-torch", "--python", "/nonexistent/python3",
                                          "--torch-script", #filePath])
        XCTAssertEqual(status, 0, text)
        // The processor, the backend and its kernel, and the ceiling %peak divides by head the table.
        XCTAssertTrue(text.contains("processor: "), text)
        XCTAssertTrue(text.contains("matrix products: "), text)
        XCTAssertTrue(text.contains("ceiling pythia-tiny (1024 rows): "), text)
        XCTAssertTrue(text.contains("PyTorch comparison skipped: "), text)
        let lines = text.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("model ") }, text)
        for column in ["loss", "B", "T", "median_s", "min_s", "tokens/s", "GFLOP/s", "%peak", "peak_MiB"] {
            XCTAssertTrue(header.split(separator: " ").contains(Substring(column)), "\(column) missing: \(header)")
        }
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("pythia-tiny") }, text)
        let fields = row.split(separator: " ")
        XCTAssertEqual(Array(fields.prefix(4)), ["pythia-tiny", "dpo", "4", "128"], row)
        XCTAssertEqual(fields.dropFirst(4).prefix(6).compactMap { Double($0) }.count, 6, row)
        // DPO also times the step with cached reference log-probs, on the line under its row.
        let rowIndex = try XCTUnwrap(lines.firstIndex(of: row))
        let cached = lines[rowIndex + 1]
        XCTAssertTrue(cached.hasPrefix("    cached reference log-probs: median "), text)
        let ratio = try XCTUnwrap(cached.components(separatedBy: " = ").last?.split(separator: "x").first, cached)
        XCTAssertNotNil(Double(ratio), cached)
    }

    func testSeveralLengthsGiveOneRowEach() throws {
        let (status, text) = try dpohost(["bench", "step", "--arch", "gpt2", "--size", "tiny", "--loss", "sft", "--steps", "1",
                                          "--warmup", "0", "--sgemm-seconds", "0", "--batch", "1", "--seq", "16,40"])
        XCTAssertEqual(status, 0, text)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("gpt2-tiny") }.map { Array($0.split(separator: " ").prefix(4)) }
        XCTAssertEqual(rows, [["gpt2-tiny", "sft", "1", "16"], ["gpt2-tiny", "sft", "1", "40"]], text)
    }

    func testALengthBelowFourTokensIsRefusedByValue() throws {
        let (status, text) = try dpohost(["bench", "step", "--arch", "gpt2", "--size", "tiny", "--seq", "512,2"])
        XCTAssertNotEqual(status, 0, text)
        XCTAssertTrue(text.contains("--seq: '2' is not a length of at least 4 tokens"), text)
    }

    /// The op table of a profiled llama-tiny DPO step: op name -> calls, forward ms, backward ms.
    func profiledOps(_ extra: [String] = []) throws -> (ops: [String: [Double]], text: String) {
        let (status, text) = try dpohost(["bench", "step", "--arch", "llama", "--size", "tiny", "--loss", "dpo", "--steps", "1",
                                          "--warmup", "0", "--sgemm-seconds", "0", "--no-cached-reference", "--profile-ops"] + extra)
        XCTAssertEqual(status, 0, text)
        let lines = text.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("    op ") }, text)
        var ops: [String: [Double]] = [:]
        for line in lines[(header + 1)...] {
            let f = line.split(separator: " ")
            guard f.count == 5, f[4].hasSuffix("%") else { break }
            ops[String(f[0])] = f[1...3].compactMap { Double($0) }
        }
        return (ops, text)
    }

    func testNoPackedPromptRunsEachPromptAsAForwardOfItsOwn() throws {
        let (ops, text) = try profiledOps(["--no-packed-prompt"])
        // Two models: the prompt pass runs block 0 and block 1's key and value projections, the
        // rows' pass both blocks; attention once per block and pass.
        XCTAssertEqual(ops["linear"]?.first, 2 * (7 + 2 + 2 * 7), text)
        XCTAssertEqual(ops["attention"]?.first, 2 * (1 + 2), text)
    }

    func testProfileOpsPrintsEveryOpWithItsCallsAndTimes() throws {
        let (ops, text) = try profiledOps()
        // Llama tiny (2 blocks of 7 linears), shared prompt packed with the rows, two models: each
        // linear once per block, attention twice (the prompts, then the rows after them).
        XCTAssertEqual(ops["linear"]?.first, 2 * (2 * 7), text)
        XCTAssertEqual(ops["attention"]?.first, 2 * (2 * 2), text)
        for name in ["linear", "attention", "rmsNorm", "labelLogProbs"] {
            let values = try XCTUnwrap(ops[name], "\(name) missing: \(text)")
            XCTAssertEqual(values.count, 3, text)
            XCTAssertGreaterThan(values[1] + values[2], 0, "\(name): \(text)")
        }
    }

    func testProfileOpsPrintsTheStepsProductsBesideTheSameCallsOnWarmCaches() throws {
        let (status, text) = try dpohost(["bench", "step", "--arch", "gpt2", "--size", "tiny", "--loss", "sft", "--steps", "1",
                                          "--warmup", "0", "--sgemm-seconds", "0", "--profile-ops"])
        XCTAssertEqual(status, 0, text)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("    products in the step: ") && $0.hasSuffix("GFLOP/s)") }, text)
        XCTAssertTrue(lines.contains { $0.hasPrefix("    the same calls on warm caches, mean / fastest: ") }, text)
        let verdict = try XCTUnwrap(lines.first { $0.hasPrefix("    the step's products at ") }, text)
        XCTAssertTrue(verdict.contains("% of the best library's mean call at the step's shapes"), verdict)
        XCTAssertTrue(verdict.contains("with the last-level cache overwritten before each call its fastest take "), verdict)
        let fastest = try XCTUnwrap(lines.first { $0.hasPrefix("    fastest against fastest: the step's fastest call of each shape, ") }, text)
        XCTAssertTrue(fastest.contains("% of the best library's fastest on warm caches and "), fastest)
        XCTAssertTrue(fastest.hasSuffix("% of its fastest with the cache overwritten"), fastest)
        // Both shares are numbers (a missing side would print "-").
        let shares = fastest.split(separator: " ").enumerated().compactMap { i, word in
            word == "%" ? Double(fastest.split(separator: " ")[i - 1]) : nil
        }
        XCTAssertEqual(shares.count, 2, fastest)
        XCTAssertTrue(shares.allSatisfy { $0.isFinite && $0 > 0 }, fastest)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("    product (op(A) op(B) MxNxK)") }, text)
        var rows = 0
        for line in lines[(header + 1)...] {
            let f = line.split(separator: " ")
            guard f.count >= 9, f.last == "%", f[0].count == 2 else { break }
            // calls, step ms, step's fastest ms, mean ms, fastest ms, cold ms, mean/step
            let numbers = f[f.count - 8 ..< f.count - 1].compactMap { Double($0) }
            XCTAssertEqual(numbers.count, 7, line)
            XCTAssertGreaterThan(numbers[0], 0, line)   // calls per step
            XCTAssertTrue(numbers[1..<6].allSatisfy { $0 >= 0 }, line)
            XCTAssertLessThanOrEqual(numbers[2], numbers[1], line) // the step's fastest calls, never above its mean
            rows += 1
        }
        XCTAssertGreaterThan(rows, 0, text)
        XCTAssertTrue(lines[(header + 1)...].contains { $0.contains("x1000x") || $0.hasSuffix("x1000") }, text)
    }
}
