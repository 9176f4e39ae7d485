import Foundation
import XCTest
@testable import Checkpoint
import TensorCore

final class SafeTensorsFileTests: XCTestCase {
    func testReadsForwardGoldenInputIdsAsI64() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("golden/forward-gpt2-tiny.safetensors"))
        XCTAssertEqual(try file.dtype(of: "input_ids"), .i64)
        let ids = try file.indexTensor(named: "input_ids")
        XCTAssertEqual(ids.shape, [3, 24])
        XCTAssertEqual(Array(ids.values.prefix(5)), [347, 539, 246, 820, 992])
        XCTAssertEqual(Array(ids.values.suffix(3)), [0, 0, 0])
        let labels = try file.indexTensor(named: "labels")
        XCTAssertEqual(labels[2, 14], 226)
        XCTAssertEqual(labels[2, 15], -100)
        let mask = try file.indexTensor(named: "attention_mask")
        XCTAssertEqual(mask[2, 14], 1)
        XCTAssertEqual(mask[2, 15], 0)
    }

    func testReadsForwardGoldenLogitsAsF32() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("golden/forward-gpt2-tiny.safetensors"))
        let logits = try file.floatTensor(named: "logits")
        XCTAssertEqual(logits.shape, [3, 24, 1000])
        XCTAssertEqual(Array(logits.scalars.prefix(5)),
                       [0.10335876792669296, -0.15812955796718597, 3.300601005554199, 1.7260102033615112, -2.242501735687256])
        XCTAssertEqual(logits[1, 5, 7], -3.1736900806427)
        XCTAssertEqual(logits.scalars.last, 0.1345226764678955)
        XCTAssertEqual(try file.floatTensor(named: "logps_sum").scalars,
                       [-193.84405517578125, -197.61268615722656, -128.53404235839844])
    }

    func testTensorNamesAndShapesOfForwardGolden() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("golden/forward-gpt2-tiny.safetensors"))
        XCTAssertEqual(file.tensorNames, ["attention_mask", "input_ids", "labels", "logits", "logps_mean",
                                          "logps_sum", "loss_mask", "per_token_logps"])
        XCTAssertEqual(try file.shape(of: "per_token_logps"), [3, 23])
        XCTAssertEqual(try file.shape(of: "logps_mean"), [3])
    }

    func testReadsMetadataStrings() throws {
        let golden = try SafeTensorsFile(path: Fixtures.path("golden/forward-gpt2-tiny.safetensors"))
        XCTAssertEqual(golden.metadata, ["model": "models/gpt2-tiny", "pad_id": "0", "vocab_size": "1000"])
        let model = try SafeTensorsFile(path: Fixtures.path("models/gpt2-tiny/model.safetensors"))
        XCTAssertEqual(model.metadata, ["format": "pt"])
    }

    func testReadsModelWeightsWithValues() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("models/gpt2-tiny/model.safetensors"))
        XCTAssertEqual(file.tensorNames.count, 28)
        let wte = try file.floatTensor(named: "transformer.wte.weight")
        XCTAssertEqual(wte.shape, [1000, 64])
        XCTAssertEqual(Array(wte.scalars.prefix(3)), [0.033365216106176376, -0.16824807226657867, 0.3260153532028198])
        XCTAssertEqual(wte[999, 63], 0.040407780557870865)
        XCTAssertEqual(Array(try file.floatTensor(named: "transformer.h.1.ln_2.bias").scalars.prefix(2)),
                       [-0.02189977653324604, 0.04471489414572716])
    }

    func testAlignedF32IsZeroCopyViewOfMapping() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("models/gpt2-tiny/model.safetensors"))
        let a = try file.floatTensor(named: "transformer.wte.weight")
        let b = try file.floatTensor(named: "transformer.wte.weight")
        XCTAssertEqual(a.pointer, b.pointer, "aligned F32 should be read in place, not copied")
    }

    func testTensorOutlivesFileObject() throws {
        var file: SafeTensorsFile? = try SafeTensorsFile(path: Fixtures.path("golden/forward-gpt2-tiny.safetensors"))
        let logits = try file!.floatTensor(named: "logits")
        file = nil
        XCTAssertEqual(logits[1, 5, 7], -3.1736900806427)
    }

    func testInPlaceWriteToMappedTensorDoesNotTouchFile() throws {
        let dir = try makeTempDirectory(self)
        let path = dir + "/w.safetensors"
        try SafeTensorsWriter(tensors: ["w": try Tensor(shape: [2], values: [1, 2])]).write(to: path)
        let t = try SafeTensorsFile(path: path).floatTensor(named: "w")
        t[0] = 42
        XCTAssertEqual(t[0], 42)
        XCTAssertEqual(try SafeTensorsFile(path: path).floatTensor(named: "w").scalars, [1, 2])
    }

    func testF16ConversionIsExact() throws {
        // (bits, value): normals, signed zeros, smallest subnormal, largest subnormal, max, infinities.
        let cases: [(UInt16, Float)] = [
            (0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125), (0x0000, 0), (0x8000, -0.0),
            (0x0001, 5.9604644775390625e-08), (0x03FF, 6.0975551605224609375e-05),
            (0x0400, 6.103515625e-05), (0x7BFF, 65504), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        let dir = try makeTempDirectory(self)
        let path = dir + "/f16.safetensors"
        let data = littleEndianBytes(cases.map(\.0))
        try writeFile(safetensorsBytes(header: #"{"h":{"dtype":"F16","shape":[\#(cases.count)],"data_offsets":[0,\#(data.count)]}}"#,
                                       data: data), to: path)
        let values = try SafeTensorsFile(path: path).floatTensor(named: "h").scalars
        for (i, c) in cases.enumerated() {
            XCTAssertEqual(values[i].bitPattern, c.1.bitPattern, "half 0x\(String(c.0, radix: 16))")
        }
    }

    func testF16NaNStaysNaN() throws {
        XCTAssertTrue(HalfConversion.float(fromHalf: 0x7E00).isNaN)
        XCTAssertTrue(HalfConversion.float(fromHalf: 0xFC01).isNaN)
    }

    #if !(os(macOS) && arch(x86_64))
    func testF16ConversionMatchesFloat16ForAllBitPatterns() {
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = HalfConversion.float(fromHalf: bits)
            if expected.isNaN {
                XCTAssertTrue(got.isNaN, "0x\(String(bits, radix: 16))")
            } else {
                XCTAssertEqual(got.bitPattern, expected.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
    }
    #endif

    func testBF16ConversionIsExact() throws {
        let values: [Float] = [1, -2.5, 3.140625, 1.0e-38, -0.0, .infinity, 65536, 0.0078125]
        // The upper 16 bits are a BF16 encoding; reading it back must give exactly those bits
        // with a zero lower half (1e-38 checks truncation of a value BF16 cannot hold exactly).
        let bits = values.map { UInt16($0.bitPattern >> 16) }
        let dir = try makeTempDirectory(self)
        let path = dir + "/bf16.safetensors"
        let data = littleEndianBytes(bits)
        try writeFile(safetensorsBytes(header: #"{"b":{"dtype":"BF16","shape":[2,4],"data_offsets":[0,\#(data.count)]}}"#,
                                       data: data), to: path)
        let t = try SafeTensorsFile(path: path).floatTensor(named: "b")
        XCTAssertEqual(t.shape, [2, 4])
        XCTAssertEqual(t.scalars.map(\.bitPattern), values.map { $0.bitPattern & 0xFFFF_0000 })
    }

    func testF64ConvertsToNearestFloat() throws {
        let doubles: [Double] = [0.1, -1e10, 2.5]
        let dir = try makeTempDirectory(self)
        let path = dir + "/f64.safetensors"
        let data = littleEndianBytes(doubles.map(\.bitPattern))
        try writeFile(safetensorsBytes(header: #"{"d":{"dtype":"F64","shape":[3],"data_offsets":[0,24]}}"#, data: data), to: path)
        XCTAssertEqual(try SafeTensorsFile(path: path).floatTensor(named: "d").scalars, doubles.map { Float($0) })
    }

    func testUnalignedF32IsCopiedCorrectly() throws {
        // A 2-byte I16 tensor first puts the F32 data at an odd-of-4 offset.
        let dir = try makeTempDirectory(self)
        let path = dir + "/unaligned.safetensors"
        let header = #"{"a":{"dtype":"I16","shape":[1],"data_offsets":[0,2]},"f":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}"#
        // pad the header so the data region itself starts 8-aligned
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        try writeFile(safetensorsBytes(header: padded, data: [7, 0] + floatBytes([1.5, -3])), to: path)
        XCTAssertEqual(try SafeTensorsFile(path: path).floatTensor(named: "f").scalars, [1.5, -3])
    }

    func testI32ReadsAsIndexTensor() throws {
        let dir = try makeTempDirectory(self)
        let path = dir + "/i32.safetensors"
        try writeFile(safetensorsBytes(header: #"{"i":{"dtype":"I32","shape":[3],"data_offsets":[0,12]}}"#,
                                       data: littleEndianBytes([Int32(-5), 0, Int32.max])), to: path)
        XCTAssertEqual(try SafeTensorsFile(path: path).indexTensor(named: "i").values, [-5, 0, Int32.max])
    }

    func testI64OutOfInt32RangeIsAnError() throws {
        let dir = try makeTempDirectory(self)
        let path = dir + "/big.safetensors"
        try writeFile(safetensorsBytes(header: #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#,
                                       data: littleEndianBytes([Int64(1), Int64(1) << 40])), to: path)
        assertCheckpointError(try SafeTensorsFile(path: path).indexTensor(named: "ids"), file: path, tensor: "ids") {
            if case .valueOutOfRange = $0 { return true } else { return false }
        }
    }

    func testReadingIndexTensorAsFloatIsAnError() throws {
        let path = Fixtures.path("golden/forward-gpt2-tiny.safetensors")
        assertCheckpointError(try SafeTensorsFile(path: path).floatTensor(named: "input_ids"), file: path, tensor: "input_ids") {
            if case .unsupportedConversion = $0 { return true } else { return false }
        }
    }

    func testScalarAndEmptyTensorsAreAccepted() throws {
        let dir = try makeTempDirectory(self)
        let path = dir + "/scalar.safetensors"
        try writeFile(safetensorsBytes(header: #"{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#,
                                       data: floatBytes([2.5])), to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(try file.floatTensor(named: "s").item, 2.5)
        XCTAssertEqual(try file.floatTensor(named: "e").shape, [0, 3])
    }

    func testGapsBetweenTensorsAreAccepted() throws {
        let dir = try makeTempDirectory(self)
        let path = dir + "/gap.safetensors"
        try writeFile(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                       data: floatBytes([9, 1])), to: path)
        XCTAssertEqual(try SafeTensorsFile(path: path).floatTensor(named: "a").scalars, [1])
    }
}
