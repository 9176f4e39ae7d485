import XCTest
@testable import PluginHost

/// Options are validated against the descriptor; the registry resolves names without guessing.
final class OptionAndRegistryTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Build.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    let specs = [OptionSpec(name: "beta", type: .float, defaultValue: "0.1", help: ""),
                 OptionSpec(name: "label_smoothing", type: .float, defaultValue: "0", help: ""),
                 OptionSpec(name: "path", type: .string, defaultValue: nil, help: ""),
                 OptionSpec(name: "splits", type: .list, defaultValue: "[train, test]", help: ""),
                 OptionSpec(name: "reference_free", type: .bool, defaultValue: "false", help: "")]

    func testDefaultsApplyAndGivenValuesAreTyped() throws {
        let o = try ResolvedOptions(plugin: "x", specs: specs, given: ["path": "/d", "beta": "0.5", "reference_free": "true"])
        XCTAssertEqual(o.values["beta"], .float(0.5))
        XCTAssertEqual(o.values["label_smoothing"], .float(0))
        XCTAssertEqual(o.values["splits"], .list(["train", "test"]))
        XCTAssertEqual(o.values["reference_free"], .bool(true))
    }

    func testAnUnknownOptionIsRefusedWithTheNearestName() {
        XCTAssertThrowsPluginError(try ResolvedOptions(plugin: "dpo", specs: specs, given: ["path": "/d", "label_smothing": "0.1"]),
                                   contains: ["plugin 'dpo' has no option 'label_smothing'", "did you mean 'label_smoothing'?"])
    }

    func testAMistypedOptionNamesOptionTypeAndValue() {
        XCTAssertThrowsPluginError(try ResolvedOptions(plugin: "dpo", specs: specs, given: ["path": "/d", "beta": "high"]),
                                   contains: ["option 'beta'", "expects a float", "got 'high'"])
        XCTAssertThrowsPluginError(try ResolvedOptions(plugin: "dpo", specs: specs, given: ["path": "/d", "reference_free": "maybe"]),
                                   contains: ["option 'reference_free'", "bool", "'maybe'"])
    }

    func testARequiredOptionMustBeGiven() {
        XCTAssertThrowsPluginError(try ResolvedOptions(plugin: "mydata", specs: specs, given: [:]),
                                   contains: ["plugin 'mydata' requires option 'path'"])
    }

    func testOptionsReachThePluginThroughTheHostTable() throws {
        // mydata reads its `path` option through host->option_string.
        let plugin = try PluginLoader.load(path: try Build.example("examples/mydata/mydata.c", into: dir))
        XCTAssertThrowsPluginError(try DatasetPlugin(plugin, options: ["pth": "/x"]), contains: ["did you mean 'path'?"])
    }

    func testTwoPluginsWithTheSameKindAndNameAreAnErrorUnlessOneIsChosen() throws {
        let a = try Build.plugin(code: brokenPluginSource, into: dir, name: "a")
        let b = try Build.plugin(code: brokenPluginSource, into: dir, name: "b")
        let registry = PluginRegistry()
        try registry.load(path: a, origin: .environment)
        try registry.load(path: b, origin: .builtin)
        XCTAssertThrowsPluginError(try registry.resolve(kind: .loss, name: "broken"),
                                   contains: ["2 loss plugins are named 'broken'", a, b, "--plugin"])

        let chosen = PluginRegistry()
        try chosen.load(path: a, origin: .builtin)
        try chosen.load(path: b, origin: .explicit)
        XCTAssertEqual(try chosen.resolve(kind: .loss, name: "broken").path, b)
        XCTAssertThrowsPluginError(try chosen.resolve(kind: .dataset, name: "broken"), contains: ["no dataset plugin named 'broken'"])
    }

    func testDiscoveryReadsThePluginPathAndExplicitFiles() throws {
        let scanned = dir.appendingPathComponent("scan")
        try FileManager.default.createDirectory(at: scanned, withIntermediateDirectories: true)
        _ = try Build.example("examples/hinge-loss/hinge.c", into: scanned)
        try "junk".write(to: scanned.appendingPathComponent("junk.so"), atomically: true, encoding: .utf8)
        let mydata = try Build.example("examples/mydata/mydata.c", into: dir)
        let env = PluginDiscovery.environmentSearchPath(environment: ["DPOHOST_PLUGIN_PATH": scanned.path + ":"])
        let discovery = PluginDiscovery(builtinDirectory: nil, installDirectory: nil, searchPath: env, explicit: [mydata])
        let registry = PluginRegistry()
        let warnings = try discovery.discover(into: registry)
        XCTAssertEqual(Set(registry.plugins().map(\.name)), ["hinge", "mydata"])
        XCTAssertEqual(warnings.count, 1, "the junk file in a scanned directory is skipped with a warning")
        XCTAssertTrue(warnings[0].contains("junk.so"))

        let bad = PluginDiscovery(builtinDirectory: nil, installDirectory: nil, searchPath: [],
                                  explicit: [scanned.appendingPathComponent("junk.so").path])
        XCTAssertThrowsPluginError(try bad.discover(into: PluginRegistry()), contains: ["junk.so", "not a loadable shared object"])
    }
}
