import Foundation
import XCTest
@testable import Checkpoint

/// One malformed file per test; each must be rejected at open, before data is read, with an
/// error that names the file (and the tensor where one is at fault).
final class MalformedSafeTensorsTests: XCTestCase {
    private func write(_ bytes: [UInt8], name: String = "bad.safetensors") throws -> String {
        let path = try makeTempDirectory(self) + "/" + name
        try writeFile(bytes, to: path)
        return path
    }

    private func open(_ path: String) throws -> SafeTensorsFile { try SafeTensorsFile(path: path) }

    func testTruncatedFileIsRejected() throws {
        let path = try write([1, 0, 0])
        assertCheckpointError(try open(path), file: path) {
            if case .truncated(_, 3) = $0 { return true } else { return false }
        }
    }

    func testEmptyFileIsRejected() throws {
        let path = try write([])
        assertCheckpointError(try open(path), file: path) {
            if case .truncated(_, 0) = $0 { return true } else { return false }
        }
    }

    func testHeaderLengthLargerThanFileIsRejected() throws {
        let path = try write(safetensorsBytes(header: "{}", claimedLength: 4096))
        assertCheckpointError(try open(path), file: path) {
            if case .headerExceedsFile(_, 4096, 10) = $0 { return true } else { return false }
        }
    }

    func testHeaderLengthOver100MBIsRejected() throws {
        let path = try write(safetensorsBytes(header: "{}", claimedLength: 100_000_001))
        assertCheckpointError(try open(path), file: path) {
            if case .headerTooLarge(_, 100_000_001, _) = $0 { return true } else { return false }
        }
    }

    func testHeaderLengthNearUInt64MaxIsRejected() throws {
        let path = try write(safetensorsBytes(header: "{}", claimedLength: .max))
        assertCheckpointError(try open(path), file: path) {
            if case .headerTooLarge = $0 { return true } else { return false }
        }
    }

    func testNonJSONHeaderIsRejected() throws {
        let path = try write(safetensorsBytes(header: "not json at all"))
        assertCheckpointError(try open(path), file: path) {
            if case .malformedHeader = $0 { return true } else { return false }
        }
    }

    func testNonUTF8HeaderIsRejected() throws {
        var bytes = safetensorsBytes(header: #"{"a":1}"#)
        bytes[10] = 0xFF
        let path = try write(bytes)
        assertCheckpointError(try open(path), file: path) {
            if case .malformedHeader = $0 { return true } else { return false }
        }
    }

    func testJSONArrayHeaderIsRejected() throws {
        let path = try write(safetensorsBytes(header: "[1, 2]"))
        assertCheckpointError(try open(path), file: path) {
            if case .malformedHeader = $0 { return true } else { return false }
        }
    }

    func testNonStringMetadataIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"__metadata__":{"step":3}}"#))
        assertCheckpointError(try open(path), file: path) {
            if case .malformedHeader = $0 { return true } else { return false }
        }
    }

    func testEntryMissingDTypeIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: floatBytes([1])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .malformedEntry(_, "w", _) = $0 { return true } else { return false }
        }
    }

    func testEntryMissingShapeIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: floatBytes([1])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .malformedEntry(_, "w", _) = $0 { return true } else { return false }
        }
    }

    func testEntryMissingDataOffsetsIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: floatBytes([1])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .malformedEntry(_, "w", _) = $0 { return true } else { return false }
        }
    }

    func testNegativeDimensionIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: floatBytes([1])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .malformedEntry(_, "w", _) = $0 { return true } else { return false }
        }
    }

    func testUnknownDTypeIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]}}"#, data: floatBytes([1])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .unknownDType(_, "w", "Q4_K") = $0 { return true } else { return false }
        }
    }

    func testSizeShapeMismatchIsRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#,
                                              data: [UInt8](repeating: 0, count: 24)))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .sizeMismatch(_, "w", [2, 3], "F32", 20) = $0 { return true } else { return false }
        }
    }

    func testShapeProductOverflowIsRejected() throws {
        let big = Int.max / 2
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","shape":[\#(big),\#(big)],"data_offsets":[0,4]}}"#,
                                              data: floatBytes([1])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .sizeMismatch = $0 { return true } else { return false }
        }
    }

    func testOffsetsOutOfRangeAreRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                              data: floatBytes([1, 2])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .offsetsOutOfRange(_, "w", 4, 12, 8) = $0 { return true } else { return false }
        }
    }

    func testReversedOffsetsAreRejected() throws {
        let path = try write(safetensorsBytes(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#,
                                              data: floatBytes([1, 2])))
        assertCheckpointError(try open(path), file: path, tensor: "w") {
            if case .offsetsOutOfRange = $0 { return true } else { return false }
        }
    }

    func testOverlappingOffsetsAreRejected() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let path = try write(safetensorsBytes(header: header, data: floatBytes([1, 2, 3])))
        assertCheckpointError(try open(path), file: path, tensor: "b") {
            if case .overlappingTensors(_, "b", "a") = $0 { return true } else { return false }
        }
    }

    func testMissingTensorIsAnError() throws {
        let path = Fixtures.path("models/gpt2-tiny/model.safetensors")
        assertCheckpointError(try open(path).floatTensor(named: "lm_head.weight"), file: path, tensor: "lm_head.weight") {
            if case .tensorNotFound(_, "lm_head.weight") = $0 { return true } else { return false }
        }
    }

    func testMissingFileIsAnError() throws {
        let path = try makeTempDirectory(self) + "/absent.safetensors"
        assertCheckpointError(try open(path), file: path) {
            if case .cannotOpen = $0 { return true } else { return false }
        }
    }
}
