import XCTest
@testable import Configuration

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
        XCTAssertEqual(loadError(required + ["lora.r=high"]),
                       .typeMismatch(key: "lora.r", expected: "an integer", value: "high"))
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

/// Numeric options outside their range are refused by key and value before a run starts
/// (`train --help`, "Ranges"), instead of training something meaningless.
final class RangeValidationTests: XCTestCase {
    func refusal(_ overrides: [String]) -> (key: String, value: String, reason: String)? {
        guard case let .invalidValue(key, value, reason)? = loadError(required + overrides) else { return nil }
        return (key, value, reason)
    }

    func assertRefused(_ override: String, key: String, value: String, reason: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let r = refusal([override])
        XCTAssertEqual(r?.key, key, override, file: file, line: line)
        XCTAssertEqual(r?.value, value, override, file: file, line: line)
        XCTAssertEqual(r?.reason, reason, override, file: file, line: line)
    }

    func testNegativeLearningRateIsRefused() {
        assertRefused("lr=-1", key: "lr", value: "-1", reason: "must be at least 0")
    }

    func testNonFiniteNumbersAreRefused() {
        assertRefused("max_grad_norm=nan", key: "max_grad_norm", value: ".nan", reason: "must be a finite number")
        assertRefused("lr=.inf", key: "lr", value: ".inf", reason: "must be a finite number")
    }

    func testGradientClippingThresholdMustBeAboveZero() {
        assertRefused("max_grad_norm=-1", key: "max_grad_norm", value: "-1", reason: "must be above 0")
        assertRefused("max_grad_norm=0", key: "max_grad_norm", value: "0", reason: "must be above 0")
    }

    func testACollectiveTimeoutOfZeroTurnsTheWatchdogOffAndANegativeOneIsRefused() throws {
        XCTAssertEqual(try load(required + ["collective_timeout_secs=0"]).config.collectiveTimeoutSecs, 0)
        assertRefused("collective_timeout_secs=-1", key: "collective_timeout_secs", value: "-1", reason: "must be at least 0")
    }

    func testNegativeCountsAreRefused() {
        assertRefused("warmup_steps=-1", key: "warmup_steps", value: "-1", reason: "must be at least 0")
        assertRefused("n_eval_examples=-5", key: "n_eval_examples", value: "-5", reason: "must be at least 0")
    }

    func testZeroEpochsOrExamplesAreRefused() {
        assertRefused("n_epochs=0", key: "n_epochs", value: "0", reason: "must be at least 1")
        assertRefused("n_examples=-3", key: "n_examples", value: "-3", reason: "must be at least 1")
    }

    func testMixupAlphaMustBeAFraction() {
        assertRefused("ref_model_mixup_alpha=1.5", key: "ref_model_mixup_alpha", value: "1.5", reason: "must be between 0 and 1")
    }

    func testPromptLengthMustLeaveRoomForTheResponse() {
        let r = refusal(["max_length=128", "max_prompt_length=128"])
        XCTAssertEqual(r?.key, "max_prompt_length")
        XCTAssertEqual(r?.value, "128")
        XCTAssertEqual(r?.reason, "must be below max_length (128), or every response is cut to nothing")
        XCTAssertNotNil(try? load(required + ["max_length=128", "max_prompt_length=127"]))
    }

    func testBatchMustSplitEvenlyIntoAccumulationSteps() {
        let r = refusal(["batch_size=6", "gradient_accumulation_steps=4"])
        XCTAssertEqual(r?.key, "batch_size")
        XCTAssertEqual(r?.value, "6")
        XCTAssertEqual(r?.reason, "must be a multiple of gradient_accumulation_steps (4), or the remainder of every batch is never trained on")
        XCTAssertNotNil(try? load(required + ["batch_size=8", "gradient_accumulation_steps=4"]))
    }

    func testThreadsAreBoundedByTheMachine() {
        assertRefused("threads=0", key: "threads", value: "0", reason: "must be at least 1")
        let r = refusal(["threads=100000"])
        XCTAssertEqual(r?.key, "threads")
        XCTAssertEqual(r?.reason, "must be at most \(TrainingConfig.maximumThreads) (4 per core of this machine)")
    }

    func testTheReferenceDefaultsPassEveryRange() throws {
        XCTAssertNoThrow(try load(required))
    }
}
