import XCTest
@testable import PluginHost

/// Every malformed plugin is refused with one clear message, never a crash.
final class LoaderRefusalTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Build.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testAWellFormedPluginLoadsWithItsDescriptor() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "fine")
        let p = try PluginLoader.load(path: path)
        XCTAssertEqual(p.name, "broken")
        XCTAssertEqual(p.kind, .loss)
        XCTAssertEqual(p.descriptor.abiVersion, PluginABI.current)
        XCTAssertEqual(p.descriptor.options.map(\.name), ["beta", "label_smoothing"])
    }

    func testAFileThatIsNotASharedObjectIsRefused() throws {
        let path = dir.appendingPathComponent("notes.so").path
        try "just text".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path), contains: [path, "not a loadable shared object"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: dir.appendingPathComponent("absent.so").path),
                                   contains: ["no such file"])
    }

    func testALibraryWithoutTheEntryPointIsRefused() throws {
        let noInit = try Build.plugin(code: brokenPluginSource, into: dir, name: "noinit", defines: ["NO_INIT"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: noInit), contains: ["does not export 'dph_plugin_init'"])
        let plainLib = try Build.plugin(code: "int add(int a, int b) { return a + b; }\n", into: dir, name: "plain")
        XCTAssertThrowsPluginError(try PluginLoader.load(path: plainLib), contains: ["not a dpohost plugin", "dph_plugin_abi_version"])
    }

    func testANewerABIIsRefusedBeforeInitRuns() throws {
        // INIT_FAILS proves init never ran: its message would otherwise be the error.
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "newer", defines: ["ABI=99", "INIT_FAILS"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path), contains: ["plugin ABI 99", "newer", "rebuild"])
    }

    func testAnOlderABIIsRefused() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "older", defines: ["ABI=0"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path), contains: ["plugin ABI 0", "older"])
    }

    func testADescriptorWithABadSizeIsRefused() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "badsize", defines: ["DESC_SIZE=12"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path),
                                   contains: ["invalid plugin descriptor", "struct_size is 12"])
    }

    func testADescriptorWithAnInvalidNameIsRefused() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "badname", defines: ["NAME=\"Bad Name\""])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path), contains: ["name 'Bad Name'"])
    }

    func testLossNeedsMustHoldAnInputLevelAndOnlyKnownFlags() throws {
        let onlyFree = try Build.plugin(code: brokenPluginSource, into: dir, name: "onlyfree", defines: ["NEEDS=DPH_LOSS_REFERENCE_FREE"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: onlyFree), contains: ["needs flags 0x8", "at least one DPH_LOSS_NEEDS_*"])
        let unknown = try Build.plugin(code: brokenPluginSource, into: dir, name: "unknown", defines: ["NEEDS=0x101"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: unknown), contains: ["needs flags 0x101"])
        let scoredWithoutLogits = try Build.plugin(code: brokenPluginSource, into: dir, name: "scored",
                                                   defines: ["NEEDS=(DPH_LOSS_NEEDS_TOKEN|DPH_LOSS_LOGITS_SCORED_ONLY)"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: scoredWithoutLogits), contains: ["DPH_LOSS_LOGITS_SCORED_ONLY", "DPH_LOSS_NEEDS_LOGITS"])
        let free = try Build.plugin(code: brokenPluginSource, into: dir, name: "free",
                                    defines: ["NEEDS=(DPH_LOSS_NEEDS_SEQUENCE|DPH_LOSS_REFERENCE_FREE)"])
        XCTAssertEqual(try LossPlugin(try PluginLoader.load(path: free)).needs, [.sequence, .referenceFree])
    }

    func testAnInstanceSaysWhatItReadsForItsOptions() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "instance",
                                    defines: ["INSTANCE_NEEDS=(DPH_LOSS_NEEDS_SEQUENCE|DPH_LOSS_NEEDS_TOKEN)"])
        let plugin = try PluginLoader.load(path: path)
        XCTAssertEqual(try LossPlugin(plugin).needs, [.sequence])
        XCTAssertEqual(try LossPlugin(plugin, options: ["label_smoothing": "0.1"]).needs, [.sequence, .token])
    }

    func testInstanceNeedsFollowTheRulesOfTheVTablesNeeds() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "instance-bad", defines: ["INSTANCE_NEEDS=DPH_LOSS_REFERENCE_FREE"])
        let plugin = try PluginLoader.load(path: path)
        XCTAssertThrowsError(try LossPlugin(plugin, options: ["label_smoothing": "0.1"])) {
            XCTAssertTrue("\($0)".contains("instance_needs") && "\($0)".contains("needs flags 0x8"), "\($0)")
        }
    }

    func testALossVTableFromBeforeInstanceNeedsStillLoads() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "older", defines: ["OLDER_VTABLE"])
        XCTAssertEqual(try LossPlugin(try PluginLoader.load(path: path)).needs, [.sequence])
    }

    func testAFailingInitShowsThePluginsMessage() throws {
        let path = try Build.plugin(code: brokenPluginSource, into: dir, name: "initfails", defines: ["INIT_FAILS"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path),
                                   contains: ["dph_plugin_init", "cannot read its license file /nonexistent/LICENSE"])
    }
}
