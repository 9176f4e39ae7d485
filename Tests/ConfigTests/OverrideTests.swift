import XCTest
@testable import Configuration

final class OverrideTests: XCTestCase {
    func testGroupSelectionAfterDottedOverrideOfSameGroupStillAppliesTheOverride() throws {
        let c = try load(required + ["loss.beta=0.3", "loss=dpo"]).config
        XCTAssertEqual(c.loss.name, "dpo")
        XCTAssertEqual(c.loss.options["beta"], .double(0.3))
    }

    func testGroupSelectionReplacesTheWholeGroupNode() throws {
        // The user file picks dpo; the command line's loss=tdpo must not keep dpo's keys.
        let file = try temporaryYAML("loss: dpo\n")
        let c = try load(required + ["loss=tdpo"], userConfigFile: file).config
        XCTAssertEqual(c.loss.name, "tdpo")
        XCTAssertNil(c.loss.options["label_smoothing"])
    }

    func testLastGroupSelectionWins() throws {
        let c = try load(["exp_name=run", "model=gpt2-xl", "model=pythia69"]).config
        XCTAssertEqual(c.model.nameOrPath, "EleutherAI/pythia-6.9b")
    }

    func testScalarOverridesAreTypedLikeYAML() throws {
        let tree = try load(required + ["lr=1e-6", "batch_size=64", "debug=True", "fsdp_port=null",
                                        "max_grad_norm=1", "trainer=FSDPTrainer"]).tree
        XCTAssertEqual(tree.value(at: ["lr"]), .double(1e-6))
        XCTAssertEqual(tree.value(at: ["batch_size"]), .int(64))
        XCTAssertEqual(tree.value(at: ["debug"]), .bool(true))
        XCTAssertEqual(tree.value(at: ["fsdp_port"]), .null)
        XCTAssertEqual(tree.value(at: ["max_grad_norm"]), .int(1))
        XCTAssertEqual(tree.value(at: ["trainer"]), .string("FSDPTrainer"))
    }

    func testQuotedOverrideValueStaysAString() throws {
        let c = try load(["exp_name='123'", "model.name_or_path=\"true\""]).config
        XCTAssertEqual(c.expName, "123")
        XCTAssertEqual(c.model.nameOrPath, "true")
    }

    func testBracketListsParse() throws {
        XCTAssertEqual(try load(required + ["datasets=[hh,shp]"]).config.datasets, ["hh", "shp"])
        XCTAssertEqual(try load(required + ["datasets=[hh, shp, se]"]).config.datasets, ["hh", "shp", "se"])
        XCTAssertEqual(try load(required + ["datasets=['a,b',c]"]).config.datasets, ["a,b", "c"])
        XCTAssertEqual(try load(required + ["plugins=[]"]).config.plugins, [])
        XCTAssertEqual(try load(required + ["local_dirs=[/tmp/a,/scr]"]).config.localDirs, ["/tmp/a", "/scr"])
    }

    func testNestedListsAndMappingsParse() throws {
        let value = try OverrideValueParser.parse("[1,[2.5,x],{a:1,b:[y]}]")
        XCTAssertEqual(value, .list([.int(1), .list([.double(2.5), .string("x")]),
                                     .mapping(ConfigMapping([("a", .int(1)), ("b", .list([.string("y")]))]))]))
    }

    func testPlusAddsAKeyNotInTheSchema() throws {
        let c = try load(required + ["+my_flag=1", "loss=dpo", "loss.beta=0.1", "+loss.gamma=0.5"]).config
        XCTAssertEqual(c.extras["my_flag"], .int(1))
        XCTAssertEqual(c.loss.options["gamma"], .double(0.5))
    }

    func testPlusOnAnExistingKeyIsAnError() {
        XCTAssertEqual(loadError(required + ["+lr=1e-6"]), .keyAlreadyExists(key: "lr"))
    }

    func testDoublePlusSetsOrAdds() throws {
        let c = try load(required + ["++lr=1e-6", "++new_key=x"]).config
        XCTAssertEqual(c.lr, 1e-6)
        XCTAssertEqual(c.extras["new_key"], .string("x"))
    }

    func testUnknownKeySuggestsTheNearestKnownKey() {
        let error = loadError(required + ["loss=dpo", "loss.bta=0.1"])
        XCTAssertEqual(error, .unknownKey(key: "loss.bta", suggestion: "loss.beta"))
        XCTAssertTrue(error?.description.contains("unknown config key 'loss.bta'; did you mean 'loss.beta'?") ?? false)
    }

    func testUnknownTopLevelKeySuggestsTheNearestKnownKey() {
        XCTAssertEqual(loadError(required + ["batchsize=8"]), .unknownKey(key: "batchsize", suggestion: "batch_size"))
    }

    func testUnrelatedUnknownKeyHasNoSuggestion() {
        XCTAssertEqual(loadError(required + ["zzzzzzzzzzzz=1"]), .unknownKey(key: "zzzzzzzzzzzz", suggestion: nil))
    }

    func testUnknownGroupOptionListsTheAvailableOnes() {
        let error = loadError(required + ["loss=dppo"])
        let available = ["aot", "aot_pair", "apo_down", "apo_zero", "bco_pair", "cdpo", "discopop", "dpo", "exo_pair",
                         "hinge", "ipo", "nca_pair", "robust", "rpo", "sft", "simpo", "sppo_hard", "tdpo"]
        XCTAssertEqual(error, .unknownGroupOption(group: "loss", option: "dppo", available: available))
        XCTAssertTrue(error?.description.contains("available: " + available.joined(separator: ", ")) ?? false)
    }

    func testOverrideWithoutEqualsIsAnErrorNamingIt() {
        guard case let .malformedOverride(argument, _)? = loadError(required + ["batch_size"]) else {
            return XCTFail("expected malformedOverride")
        }
        XCTAssertEqual(argument, "batch_size")
    }

    func testBareCommaIsASweepAndAnError() {
        guard case let .malformedOverride(argument, reason)? = loadError(required + ["datasets=hh,shp"]) else {
            return XCTFail("expected malformedOverride")
        }
        XCTAssertEqual(argument, "datasets=hh,shp")
        XCTAssertTrue(reason.contains("[a,b]"))
    }

    func testSettingASectionToAScalarIsAnError() {
        XCTAssertEqual(loadError(required + ["wandb=false"]), .sectionAssignedScalar(key: "wandb", value: "false"))
    }

    func testHydraRuntimeOverridesAreIgnoredWithAWarning() throws {
        let loaded = try load(required + ["hydra.run.dir=."])
        XCTAssertEqual(loaded.warnings.count, 1)
        XCTAssertTrue(loaded.warnings[0].contains("hydra.run.dir=."))
    }

    func testInterpolationOfAnotherKey() throws {
        let c = try load(required + ["+tag=${exp_name}-${batch_size}", "+same=${batch_size}"]).config
        XCTAssertEqual(c.extras["tag"], .string("run-4"))
        XCTAssertEqual(c.extras["same"], .int(4))
    }

    func testInterpolationCycleIsAnError() {
        guard case let .interpolation(_, reason)? = loadError(required + ["+a=${b}", "+b=${a}"]) else {
            return XCTFail("expected an interpolation error")
        }
        XCTAssertTrue(reason.contains("cycle"))
    }

    func testInterpolationsNestedPastTheLimitAreAnErrorNotADeepRecursion() {
        let depth = 50_000
        let nested = String(repeating: "${oc.env:DPOHOST_UNSET_VARIABLE,", count: depth) + "x" + String(repeating: "}", count: depth)
        guard case let .interpolation(key, reason)? = loadError(required + ["+deep=" + nested]) else {
            return XCTFail("expected an interpolation error")
        }
        XCTAssertEqual(key, "deep")
        XCTAssertTrue(reason.contains("nested more than \(Interpolator.maximumNesting) levels"), reason)
    }

    func testInterpolationsNestedUpToTheLimitResolve() throws {
        let levels = Interpolator.maximumNesting
        let nested = String(repeating: "${oc.env:DPOHOST_UNSET_VARIABLE,", count: levels) + "x" + String(repeating: "}", count: levels)
        XCTAssertEqual(try load(required + ["+deep=" + nested]).config.extras["deep"], .string("x"))
    }

    func testAChainOfReferencesPastTheLimitIsAnError() {
        let length = 200
        let chain = (0..<length).map { "+k\($0)=${k\($0 + 1)}" } + ["+k\(length)=1"]
        guard case let .interpolation(_, reason)? = loadError(required + chain) else {
            return XCTFail("expected an interpolation error")
        }
        XCTAssertTrue(reason.contains("chained more than \(Interpolator.maximumChain) deep"), reason)
    }
}

final class OverrideGrammarTests: XCTestCase {
    func testDeletionIsRejectedClearly() {
        XCTAssertEqual(loadError(required + ["~lr"]),
                       .malformedOverride(argument: "~lr", reason: "deleting keys (~key) is not supported"))
    }

    func testEmptyValueIsTheEmptyString() throws {
        XCTAssertEqual(try ConfigOverride(parsing: "+tag=").value, .string(""))
    }

    func testEscapedCommaStaysInAPrimitive() throws {
        XCTAssertEqual(try ConfigOverride(parsing: "exp_name=a\\,b").value, .string("a,b"))
    }

    func testInterpolationTextKeepsItsCommas() throws {
        XCTAssertEqual(try ConfigOverride(parsing: "local_run_dir=${get_local_run_dir:${exp_name},${local_dirs}}").value,
                       .string("${get_local_run_dir:${exp_name},${local_dirs}}"))
    }
}
