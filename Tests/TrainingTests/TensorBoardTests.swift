import Foundation
@testable import Reporting
import XCTest

/// The TensorBoard event file: byte for byte what TensorBoard's own writer writes for the same
/// events (Golden/make_tensorboard_golden.py), and read back by TensorBoard's own reader where
/// Python's `tensorboard` is installed.
final class TensorBoardTests: XCTestCase {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-tb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testCRC32CIsCastagnolisAndMaskedAsTFRecordMasksIt() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        let crc = CRC32C.checksum([1, 2, 3])
        XCTAssertEqual(CRC32C.masked([1, 2, 3]), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    func testEventFileIsByteForByteWhatTensorBoardsOwnWriterWrites() throws {
        let dir = try tempDir()
        let board = try TensorBoardLog(directory: dir, now: Date(timeIntervalSince1970: 1_700_000_000.5))
        try board.scalars(["rewards_train/accuracies": 0.5, "loss/train": 0.69], step: 4, time: Date(timeIntervalSince1970: 1_700_000_001.25))
        try board.text("**prompt**\n\nHi", tag: "samples/policy", step: 8, time: Date(timeIntervalSince1970: 1_700_000_002))
        try board.hyperparameters([("loss.beta", .number(0.1))], time: Date(timeIntervalSince1970: 1_700_000_003))
        let written = try Data(contentsOf: XCTUnwrap(TensorBoardLog.files(in: dir).first))
        XCTAssertEqual(written, try Data(contentsOf: Self.golden.appendingPathComponent("tensorboard_golden.tfevents")))
    }

    /// Every scalar of every event file in `dir` by tag, as TensorBoard's EventAccumulator reads them.
    /// A non-finite value reads as nil.
    func readWithTensorBoard(_ dir: URL) throws -> [String: [[Double?]]] {
        let script = """
        import json, math, sys
        from tensorboard.backend.event_processing import event_accumulator as ea
        acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
        acc.Reload()
        out = {tag: [[e.step, e.value if math.isfinite(e.value) else None] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
        out["_text"] = [[e.step, 0] for tag in acc.Tags()["tensors"] if tag.startswith("samples/") for e in acc.Tensors(tag)]
        try:
            out["_hparams"] = [[0, 1]] if acc.PluginTagToContent("hparams") else []
        except KeyError:
            out["_hparams"] = []
        print(json.dumps(out))
        """
        let data = try PythonReader.output(of: script, arguments: [dir.path], package: "tensorboard")
        return try JSONDecoder().decode([String: [[Double?]]].self, from: data)
    }

    func testEveryValueOfMetricsJSONLIsAScalarTensorBoardReadsAtItsStep() throws {
        let dir = try tempDir()
        let logs = try RunLogs(directory: dir, destinations: [.jsonl, .tensorboard],
                               samplesFile: dir.appendingPathComponent("samples.jsonl"), experiment: "tb")
        var generator = SystemRandomNumberGenerator()
        var expected: [String: [[Double]]] = [:]
        for step in 1...200 {
            let keys = ["loss/train", "rewards_train/accuracies", "rewards_train/margins", "logps_train/chosen", "grad_norm"]
                .filter { _ in Int.random(in: 0..<5, using: &generator) > 0 }  // some records lack some metrics
            let values = Dictionary(uniqueKeysWithValues: keys.map { ($0, Double(Float(Double.random(in: -50...50, using: &generator)))) })
            for (key, value) in values { expected[key, default: []].append([Double(8 * step), value]) }
            try logs.append(MetricsRecord(examples: 8 * step, split: "train", values: values))
        }
        let read = try readWithTensorBoard(dir)
        for (key, points) in expected {
            XCTAssertEqual(read[key]?.map { $0.map { $0 ?? .nan } }, points, key)
        }
    }

    func testTensorBoardReadsEveryScalarAndStepAndAResumedRunHasNoDuplicates() throws {
        let dir = try tempDir()
        try "loss:\n  beta: 0.1\nexp_name: tb\n".write(to: dir.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let samples = dir.appendingPathComponent("samples.jsonl")
        let first = try RunLogs(directory: dir, destinations: [.jsonl, .tensorboard], samplesFile: samples, experiment: "tb")
        try first.append(MetricsRecord(examples: 0, split: "eval", values: ["loss/eval": 0.69]))
        try first.append(MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.6, "grad_norm": .nan]))
        try first.append(MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.5]))
        // Resumed from the checkpoint at 4 examples: the logs are rewound, then the run goes on.
        try MetricsLog.rewind(dir.appendingPathComponent("metrics.jsonl"), toExamples: 4)
        let resumed = try RunLogs(directory: dir, destinations: [.jsonl, .tensorboard], samplesFile: samples, experiment: "tb")
        try resumed.append(MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.45]))
        try resumed.sample(SampleRecord(step: 8, model: "policy", prompt: "Hi", sample: "there"))
        XCTAssertEqual(TensorBoardLog.files(in: dir).count, 1)

        let read = try readWithTensorBoard(dir)
        XCTAssertEqual(read["loss/train"]?.map { $0[0] }, [4, 8])
        XCTAssertEqual(try XCTUnwrap(read["loss/train"]?.last?[1] ?? nil), 0.45, accuracy: 1e-6)
        XCTAssertEqual(read["grad_norm"]?.map { $0[0] }, [4])
        XCTAssertNil(try XCTUnwrap(read["grad_norm"]?.first)[1])  // NaN, kept as TensorBoard keeps it
        XCTAssertEqual(read["loss/eval"]?.map { $0[0] }, [0])
        XCTAssertEqual(read["_text"]?.map { $0[0] }, [8])
        XCTAssertEqual(read["_hparams"]?.count, 1)
    }
}
