import Foundation
import XCTest
@testable import Checkpoint
import TensorCore
import TestSupport

final class SafeTensorsWriterTests: XCTestCase {
    private func sampleWriter() throws -> SafeTensorsWriter {
        SafeTensorsWriter(
            tensors: ["b.weight": try Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, .leastNonzeroMagnitude, 1e30]),
                      "a.bias": try Tensor(shape: [3], values: [0.25, 0.5, 0.75]),
                      "scalar": Tensor(scalar: -7)],
            indexTensors: ["ids": try IndexTensor(shape: [2, 2], values: [0, -100, Int32.max, Int32.min])],
            metadata: ["format": "pt", "note": "quote \" backslash \\ newline \n ü"])
    }

    func testRoundTripWriterToReader() throws {
        let path = try makeTempDirectory(self) + "/out.safetensors"
        let writer = try sampleWriter()
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.tensorNames, ["a.bias", "b.weight", "ids", "scalar"])
        XCTAssertEqual(file.metadata, writer.metadata)
        for (name, tensor) in writer.tensors {
            let read = try file.floatTensor(named: name)
            XCTAssertEqual(read.shape, tensor.shape, name)
            XCTAssertEqual(read.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), name)
        }
        XCTAssertEqual(try file.dtype(of: "ids"), .i64)
        XCTAssertEqual(try file.indexTensor(named: "ids"), writer.indexTensors["ids"])
    }

    func testWrittenHeaderIsSortedAndPaddedToEightBytes() throws {
        let path = try makeTempDirectory(self) + "/out.safetensors"
        try sampleWriter().write(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        XCTAssertEqual((8 + n) % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix(#"{"__metadata__":{"format":"pt","#), header)
        let positions = ["\"a.bias\"", "\"b.weight\"", "\"ids\"", "\"scalar\""].map { header.range(of: $0)!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
        XCTAssertEqual(header.reversed().drop { $0 == " " }.first, "}", "only spaces may follow the JSON object")
        // data packed back to back: 12 + 24 + 32 + 4 bytes
        XCTAssertEqual(bytes.count, 8 + n + 72)
    }

    func testNonContiguousTensorIsWrittenInRowMajorOrder() throws {
        let path = try makeTempDirectory(self) + "/t.safetensors"
        let t = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]).transposed(0, 1)
        try SafeTensorsWriter(tensors: ["t": t]).write(to: path)
        let read = try SafeTensorsFile(path: path).floatTensor(named: "t")
        XCTAssertEqual(read.shape, [3, 2])
        XCTAssertEqual(read.scalars, [1, 4, 2, 5, 3, 6])
    }

    func testNameUsedForFloatAndIndexTensorIsRejected() throws {
        let path = try makeTempDirectory(self) + "/dup.safetensors"
        let writer = SafeTensorsWriter(tensors: ["x": Tensor(scalar: 1)], indexTensors: ["x": IndexTensor(shape: [1], repeating: 0)])
        assertCheckpointError(try writer.write(to: path), file: path, tensor: "x") {
            if case .invalidTensor = $0 { return true } else { return false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testAtomicWriteReplacesTargetWholeAndLeavesNoTempFile() throws {
        let dir = try makeTempDirectory(self)
        let path = dir + "/model.safetensors"
        try SafeTensorsWriter(tensors: ["old": try Tensor(shape: [1000], values: [Float](repeating: 1, count: 1000))]).write(to: path)
        try SafeTensorsWriter(tensors: ["new": Tensor(scalar: 2)]).write(to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.tensorNames, ["new"])
        XCTAssertEqual(try file.floatTensor(named: "new").item, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"])
    }

    func testFailedAtomicWriteLeavesOldFileIntact() throws {
        struct InjectedFailure: Error {}
        let dir = try makeTempDirectory(self)
        let path = dir + "/model.safetensors"
        try SafeTensorsWriter(tensors: ["old": Tensor(scalar: 1)]).write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try AtomicFile.write(to: path) { sink in
            try sink.write([1, 2, 3, 4])  // partial new contents, then a failure mid-write
            throw InjectedFailure()
        }) { XCTAssertTrue($0 is InjectedFailure) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"])
    }

    func testFailedRenameLeavesTargetAndNoTempFile() throws {
        // A non-empty directory at the target path makes the final rename fail.
        let dir = try makeTempDirectory(self)
        let path = dir + "/model.safetensors"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try writeFile([1], to: path + "/keep")
        assertCheckpointError(try SafeTensorsWriter(tensors: ["x": Tensor(scalar: 1)]).write(to: path), file: path) {
            if case .writeFailed = $0 { return true } else { return false }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path), ["keep"])
    }

    func testWriteIntoMissingDirectoryFailsNamingFile() throws {
        let path = try makeTempDirectory(self) + "/no/such/dir/out.safetensors"
        assertCheckpointError(try SafeTensorsWriter(tensors: ["x": Tensor(scalar: 1)]).write(to: path), file: path) {
            if case .writeFailed = $0 { return true } else { return false }
        }
    }

    func testWrittenFileLoadsInPythonSafetensors() throws {
        let probe = runPython(["-c", "import safetensors, numpy"])
        guard let probe, probe.status == 0 else {
            throw XCTSkip("python3 with safetensors and numpy is not available (\(probe?.output ?? "python3 not runnable")); "
                          + "install them to check interoperability")
        }
        let path = try makeTempDirectory(self) + "/py.safetensors"
        try sampleWriter().write(to: path)
        let script = """
        import json, sys
        from safetensors import safe_open
        out = {}
        with safe_open(sys.argv[1], framework="numpy") as f:
            out["metadata"] = f.metadata()
            for k in sorted(f.keys()):
                t = f.get_tensor(k)
                out[k] = {"dtype": str(t.dtype), "shape": list(t.shape), "values": [float(v) for v in t.reshape(-1)]}
        print(json.dumps(out))
        """
        guard let result = runPython(["-c", script, path]), result.status == 0 else {
            return XCTFail("python safetensors could not load the file")
        }
        let json = try JSONValue(parsing: Data(result.output.utf8))
        XCTAssertEqual(json["metadata"]?["note"]?.stringValue, "quote \" backslash \\ newline \n ü")
        XCTAssertEqual(json["b.weight"]?["dtype"]?.stringValue, "float32")
        XCTAssertEqual(json["b.weight"]?["shape"], .array([.int(2), .int(3)]))
        XCTAssertEqual(json["b.weight"]?["values"]?.arrayValue?.compactMap(\.doubleValue).map { Float($0) },
                       [1, -2, 3.5, 0, .leastNonzeroMagnitude, 1e30])
        XCTAssertEqual(json["ids"]?["dtype"]?.stringValue, "int64")
        XCTAssertEqual(json["ids"]?["values"]?.arrayValue?.compactMap(\.intValue),
                       [0, -100, Int(Int32.max), Int(Int32.min)])
        XCTAssertEqual(json["scalar"]?["shape"], .array([]))
    }

    /// Runs `python3` from PATH; nil when it cannot be started.
    private func runPython(_ arguments: [String]) -> (status: Int32, output: String)? {
        guard let r = try? ProcessRunner.run("/usr/bin/env", ["python3"] + arguments, combineOutput: true) else { return nil }
        return (r.status, r.stdout)
    }
}
