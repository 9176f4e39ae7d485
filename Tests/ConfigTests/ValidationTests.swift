import XCTest
@testable import Training

final class ValidationTests: XCTestCase {
    func testMissingDPOBetaIsAnErrorNamingIt() {
        let error = loadError(required + ["loss=dpo"])
        XCTAssertEqual(error, .missingValues(["loss.beta"]))
        XCTAssertTrue(error?.description.contains("loss.beta") ?? false)
    }

    func testEveryMissingValueIsListed() {
        XCTAssertEqual(loadError(["loss=ipo"]), .missingValues(["exp_name", "model.name_or_path", "loss.beta"]))
    }

    func testTypeMismatchNamesKeyExpectedTypeAndValue() {
        let error = loadError(required + ["batch_size=abc"])
        XCTAssertEqual(error, .typeMismatch(key: "batch_size", expected: "an integer", value: "abc"))
        XCTAssertEqual(error?.description, "config key 'batch_size' expects an integer, got 'abc'")
    }

    func testTypeMismatchInsideAGroupNamesTheDottedKey() {
        XCTAssertEqual(loadError(required + ["loss=dpo", "loss.beta=high"]),
                       .typeMismatch(key: "loss.beta", expected: "a number", value: "high"))
    }

    func testBatchSizeMustBePositive() {
        guard case let .invalidValue(key, _, _)? = loadError(required + ["batch_size=0"]) else {
            return XCTFail("expected invalidValue")
        }
        XCTAssertEqual(key, "batch_size")
    }

    func testTruncationModeIsValidated() throws {
        XCTAssertEqual(try load(required + ["truncation_mode=keep_end"]).config.truncationMode, .keepEnd)
        guard case let .invalidValue(key, value, _)? = loadError(required + ["truncation_mode=middle"]) else {
            return XCTFail("expected invalidValue")
        }
        XCTAssertEqual(key, "truncation_mode")
        XCTAssertEqual(value, "middle")
    }

    func testProgressAcceptsBooleans() throws {
        XCTAssertEqual(try load(required + ["progress=false"]).config.progress, .off)
        XCTAssertEqual(try load(required + ["progress=lines"]).config.progress, .lines)
    }

    func testNullEpochsNeedsExamples() throws {
        XCTAssertNotNil(loadError(required + ["n_epochs=null"]))
        XCTAssertEqual(try load(required + ["n_epochs=null", "n_examples=1000"]).config.nExamples, 1000)
    }

    func testEvalEveryIsRoundedDownWithAWarning() throws {
        let loaded = try load(required + ["batch_size=64", "eval_every=1000"])
        XCTAssertEqual(loaded.config.evalEvery, 960)
        XCTAssertEqual(loaded.tree.value(at: ["eval_every"]), .int(960))
        XCTAssertEqual(loaded.warnings, ["eval_every (1000) is not a multiple of batch_size (64); using eval_every=960"])
    }

    func testEvalEveryMultipleOfBatchSizeIsKeptWithoutWarning() throws {
        let loaded = try load(required + ["batch_size=8", "eval_every=800"])
        XCTAssertEqual(loaded.config.evalEvery, 800)
        XCTAssertEqual(loaded.warnings, [])
    }

    func testEvalEveryBelowOneBatchBecomesOneBatch() throws {
        let loaded = try load(required + ["batch_size=64", "eval_every=10"])
        XCTAssertEqual(loaded.config.evalEvery, 64)
        XCTAssertEqual(loaded.warnings.count, 1)
    }
}
