import XCTest
@testable import Configuration

final class FileAndDirectoryTests: XCTestCase {
    func testUserConfigFileIsMergedOverDefaultsAndUnderTheCommandLine() throws {
        let file = try temporaryYAML("""
            batch_size: 8
            lr: 1.0e-6
            loss: dpo
            model:
              name_or_path: /from/file
            """)
        let c = try load(["exp_name=run", "batch_size=16", "loss.beta=0.2"], userConfigFile: file).config
        XCTAssertEqual(c.batchSize, 16)        // command line beats the file
        XCTAssertEqual(c.lr, 1e-6)             // the file beats the defaults
        XCTAssertEqual(c.loss.name, "dpo")     // the file chose the group
        XCTAssertEqual(c.loss.options["beta"], .double(0.2))
        XCTAssertEqual(c.model.nameOrPath, "/from/file")
    }

    func testUserConfigFileSettingsApplyToTheGroupChosenOnTheCommandLine() throws {
        let file = try temporaryYAML("loss:\n  beta: 0.7\n")
        let c = try load(required + ["loss=ipo"], userConfigFile: file).config
        XCTAssertEqual(c.loss.name, "ipo")
        XCTAssertEqual(c.loss.options["beta"], .double(0.7))
    }

    func testUserConfigFileUnknownKeyIsAnError() throws {
        let file = try temporaryYAML("wandb:\n  projct: x\n")
        XCTAssertEqual(loadError(required, userConfigFile: file), .unknownKey(key: "wandb.projct", suggestion: "wandb.project"))
    }

    func testSyntaxErrorInUserConfigFileIsOneLineNamingLineAndColumn() throws {
        let file = try temporaryYAML("batch_size: 8\nlr: [1, 2\n")
        guard case let .invalidYAML(path, reason)? = loadError(required, userConfigFile: file) else {
            return XCTFail("expected invalidYAML")
        }
        XCTAssertEqual(path, file)
        XCTAssertFalse(reason.contains("\n"), reason)
        XCTAssertTrue(reason.hasPrefix("line 3, column 1: "), reason)
    }

    func testNestingBeyondTheParserLimitIsAnErrorWithoutAnExcerptOfTheLine() throws {
        let depth = 100_000
        let file = try temporaryYAML("a: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n")
        guard case let .invalidYAML(_, reason)? = loadError(required, userConfigFile: file) else {
            return XCTFail("expected invalidYAML")
        }
        XCTAssertTrue(reason.contains("nesting level"), reason)
        XCTAssertLessThan(reason.count, 300, reason)
    }

    func testRunDirectoryUsesFirstExistingLocalDirUserAndPinnedClock() throws {
        let c = try load(["exp_name=my_exp", "model.name_or_path=/m"],
                         environment: pinnedEnvironment(existing: ["/scr", ".cache"])).config
        XCTAssertEqual(c.localRunDir, "/scr/tester/my_exp_2024-03-05_07-08-09_123456")
    }

    func testRunDirectoryFallsBackToTheLastLocalDir() throws {
        let c = try load(required, environment: pinnedEnvironment(existing: [])).config
        XCTAssertEqual(c.localRunDir, ".cache/tester/run_2024-03-05_07-08-09_123456")
    }

    func testRelativeLocalDirsAreCheckedAgainstTheCurrentDirectory() throws {
        let env = pinnedEnvironment(existing: ["/work/here/runs"], currentDirectory: "/work/here")
        let c = try load(required + ["local_dirs=[/nope,runs]"], environment: env).config
        XCTAssertEqual(c.localRunDir, "runs/tester/run_2024-03-05_07-08-09_123456")
    }

    func testExplicitLocalRunDirIsKept() throws {
        XCTAssertEqual(try load(required + ["local_run_dir=/tmp/mine"]).config.localRunDir, "/tmp/mine")
    }

    func testTimestampKeepsMicrosecondsExact() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.000001)
        XCTAssertEqual(RunDirectory.timestamp(date, timeZone: TimeZone(identifier: "UTC")!), "2023-11-14_22-13-20_000001")
    }

    func testEffectiveYAMLReadsBackToTheSameTreeInConfigOrder() throws {
        let loaded = try load(required + ["loss=dpo", "loss.beta=0.1", "datasets=[hh,shp]", "+note=a: b"])
        let yaml = loaded.effectiveYAML()
        XCTAssertTrue(yaml.hasPrefix("seed: 0\ndata_seed: 0\nexp_name: run\nbatch_size: 4\n"))
        XCTAssertFalse(yaml.contains("defaults"))
        XCTAssertTrue(yaml.contains("datasets:\n- hh\n- shp\n"))
        XCTAssertTrue(yaml.contains("lr: 5e-07\n"))
        XCTAssertTrue(yaml.contains("loss:\n  name: dpo\n  beta: 0.1\n"))
        XCTAssertEqual(try YAMLReader.read(text: yaml, source: "effective"), loaded.tree)
        XCTAssertEqual(loaded.effectiveYAML(), yaml) // stable
    }

    func testConfigDirectorySearchOrder() throws {
        let env = pinnedEnvironment(variables: ["DPOHOST_CONFIG_DIR": "/etc/dpohost"], currentDirectory: "/cwd")
        let locator = ConfigDirectoryLocator(environment: env, executablePath: "/repo/.build/x86_64-unknown-linux-gnu/debug/dpohost",
                                             fileExists: { _ in false })
        XCTAssertEqual(locator.candidates(explicit: nil), [
            "/etc/dpohost", "/cwd/config", "/repo/.build/config", "/repo/config",
            "/repo/.build/x86_64-unknown-linux-gnu/share/dpohost/config",
        ])
        XCTAssertEqual(locator.candidates(explicit: "conf"), ["/cwd/conf"])
    }

    func testConfigDirectoryFoundFromTheExecutable() throws {
        let locator = ConfigDirectoryLocator(environment: pinnedEnvironment(currentDirectory: "/cwd"),
                                             executablePath: "/repo/.build/debug/dpohost",
                                             fileExists: { $0 == "/repo/config/config.yaml" })
        XCTAssertEqual(try locator.locate().path, "/repo/config")
    }

    func testMissingConfigDirectoryErrorListsWhereItLooked() {
        let locator = ConfigDirectoryLocator(environment: pinnedEnvironment(currentDirectory: "/cwd"),
                                             executablePath: nil, fileExists: { _ in false })
        XCTAssertThrowsError(try locator.locate()) { error in
            XCTAssertEqual(error as? ConfigError, .configDirectoryNotFound(searched: ["/cwd/config"]))
            XCTAssertTrue("\(error)".contains("/cwd/config"))
        }
    }

    func testCommandLineSplitsConfigOptionsFromOverrides() throws {
        let cl = try ConfigCommandLine(["--config-dir", "/c", "loss=dpo", "--config=run.yaml", "lr=1e-6"])
        XCTAssertEqual(cl.configDirectory, "/c")
        XCTAssertEqual(cl.userConfigFile, "run.yaml")
        XCTAssertEqual(cl.overrides, ["loss=dpo", "lr=1e-6"])
    }
}
