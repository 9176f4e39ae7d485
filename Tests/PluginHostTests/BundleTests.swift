import XCTest
@testable import PluginHost

/// Bundles install only when every checksum, the manifest and the ABI check out.
final class BundleTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Build.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testSHA256MatchesKnownVectors() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A bundle folder with the two C examples and a manifest (optionally edited).
    func makeBundle(edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let b = dir.appendingPathComponent("bundle-src")
        try FileManager.default.createDirectory(at: b, withIntermediateDirectories: true)
        let hinge = try Build.example("examples/hinge-loss/hinge.c", into: b)
        let mydata = try Build.example("examples/mydata/mydata.c", into: b)
        var manifest: [String: Any] = [
            "name": "extras", "version": "1.2.0", "abi": Int(PluginABI.current),
            "plugins": [
                ["file": "hinge.so", "kind": "loss", "name": "hinge", "sha256": try SHA256.hex(fileAt: hinge)],
                ["file": "mydata.so", "kind": "dataset", "name": "mydata", "sha256": try SHA256.hex(fileAt: mydata)],
            ],
        ]
        edit(&manifest)
        try JSONSerialization.data(withJSONObject: manifest).write(to: b.appendingPathComponent("manifest.json"))
        return b
    }

    func testADirectoryBundleInstallsAndItsPluginsAreDiscovered() throws {
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let installed = try store.install(bundlePath: try makeBundle().path)
        XCTAssertEqual(installed.manifest.name, "extras")
        XCTAssertTrue(store.verifyInstalled().allSatisfy { $0.error == nil })
        let registry = PluginRegistry()
        try PluginDiscovery(builtinDirectory: nil, installDirectory: store.directory, searchPath: []).discover(into: registry)
        XCTAssertEqual(Set(registry.plugins().map(\.name)), ["hinge", "mydata"])
    }

    func testATarGzBundleInstalls() throws {
        let src = try makeBundle()
        let archive = dir.appendingPathComponent("extras.tar.gz").path
        let tar = try Build.run("/usr/bin/env", ["tar", "-czf", archive, "-C", src.deletingLastPathComponent().path, src.lastPathComponent])
        XCTAssertEqual(tar.status, 0, tar.stderr)
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        XCTAssertEqual(try store.install(bundlePath: archive).manifest.plugins.count, 2)
    }

    // Found by the BundleTarFuzzer: a signal interrupting the read of tar's output pipe ended
    // the process (Foundation's pipe reading traps on EINTR); tar's output now goes to files.
    func testATarGzInstallsWhileSignalsInterruptTheProcess() throws {
        let src = try makeBundle()
        let archive = dir.appendingPathComponent("extras.tar.gz").path
        XCTAssertEqual(try Build.run("/usr/bin/env", ["tar", "-czf", archive, "-C", src.deletingLastPathComponent().path,
                                                      src.lastPathComponent]).status, 0)
        // SIGALRM every millisecond, with a handler installed without SA_RESTART.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var previous = sigaction()
        sigaction(SIGALRM, &action, &previous)
        var timer = itimerval(it_interval: timeval(tv_sec: 0, tv_usec: 1000), it_value: timeval(tv_sec: 0, tv_usec: 1000))
        setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer, nil)
        defer {
            var off = itimerval()
            setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &off, nil)
            sigaction(SIGALRM, &previous, nil)
        }
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        for _ in 0..<10 { XCTAssertEqual(try store.install(bundlePath: archive).manifest.plugins.count, 2) }
    }

    func testABundleWithAWrongChecksumIsRefusedAndNothingIsInstalled() throws {
        let b = try makeBundle { m in
            var plugins = m["plugins"] as! [[String: Any]]
            plugins[1]["sha256"] = String(repeating: "0", count: 64)
            m["plugins"] = plugins
        }
        let target = dir.appendingPathComponent("installed")
        XCTAssertThrowsPluginError(try BundleStore(directory: target.path).install(bundlePath: b.path),
                                   contains: ["checksum mismatch for mydata.so", String(repeating: "0", count: 64)])
        XCTAssertFalse(FileManager.default.fileExists(atPath: target.appendingPathComponent("extras").path))
    }

    func testABundleWithAWrongManifestIsRefused() throws {
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let noName = try makeBundle { $0["name"] = nil }
        XCTAssertThrowsPluginError(try store.install(bundlePath: noName.path), contains: ["manifest.json lacks 'name'"])
        let lying = try makeBundle { m in
            var plugins = m["plugins"] as! [[String: Any]]
            plugins[0]["name"] = "sigmoid"
            m["plugins"] = plugins
        }
        XCTAssertThrowsPluginError(try store.install(bundlePath: lying.path),
                                   contains: ["hinge.so is the loss plugin 'hinge', manifest says loss 'sigmoid'"])
        let future = try makeBundle { $0["abi"] = 42 }
        XCTAssertThrowsPluginError(try store.install(bundlePath: future.path), contains: ["built for plugin ABI 42"])
        let escape = try makeBundle { m in
            var plugins = m["plugins"] as! [[String: Any]]
            plugins[0]["file"] = "../hinge.so"
            m["plugins"] = plugins
        }
        XCTAssertThrowsPluginError(try store.install(bundlePath: escape.path), contains: ["relative path inside the bundle"])
        let notArchive = dir.appendingPathComponent("x.tar.gz")
        try "not gzip".write(to: notArchive, atomically: true, encoding: .utf8)
        XCTAssertThrowsPluginError(try store.install(bundlePath: notArchive.path), contains: ["not a readable .tar.gz"])
    }

    func testVerifyDetectsATamperedInstalledPlugin() throws {
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let installed = try store.install(bundlePath: try makeBundle().path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: installed.directory + "/hinge.so"))
        handle.seekToEndOfFile()
        handle.write(Data([0]))
        handle.closeFile()
        let results = store.verifyInstalled()
        XCTAssertEqual(results.count, 1)
        XCTAssertTrue(results[0].error?.description.contains("checksum mismatch for hinge.so") ?? false)
    }

    func testAPluginReplacedAfterInstallIsSkippedWhenLoadedNotRun() throws {
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let installed = try store.install(bundlePath: try makeBundle().path)
        // Another valid library put in place of hinge.so: only its checksum tells.
        try FileManager.default.removeItem(atPath: installed.directory + "/hinge.so")
        try FileManager.default.copyItem(atPath: installed.directory + "/mydata.so", toPath: installed.directory + "/hinge.so")
        let registry = PluginRegistry()
        let warnings = try PluginDiscovery(builtinDirectory: nil, installDirectory: store.directory, searchPath: [])
            .discover(into: registry)
        XCTAssertEqual(registry.plugins().map(\.name), ["mydata"])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("checksum mismatch for hinge.so") ?? false, "\(warnings)")
    }

    func testTheLibraryLoadedIsTheOneCheckedEvenIfReplacedInBetween() throws {
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let installed = try store.install(bundlePath: try makeBundle().path)
        let hinge = installed.directory + "/hinge.so", other = installed.directory + "/mydata.so"
        let loaded = try PluginLoader.load(path: hinge) { _ in
            // A valid library renamed over the file after it was opened and before it is loaded.
            let swap = installed.directory + "/swap.so"
            try FileManager.default.copyItem(atPath: other, toPath: swap)
            XCTAssertEqual(rename(swap, hinge), 0)
        }
        XCTAssertEqual(loaded.name, "hinge")
        XCTAssertEqual(loaded.path, hinge)
    }

    func testAnInstalledLibraryReplacedByASymbolicLinkIsSkipped() throws {
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let installed = try store.install(bundlePath: try makeBundle().path)
        let hinge = installed.directory + "/hinge.so", kept = dir.appendingPathComponent("kept.so").path
        try FileManager.default.moveItem(atPath: hinge, toPath: kept)
        try FileManager.default.createSymbolicLink(atPath: hinge, withDestinationPath: kept)
        let registry = PluginRegistry()
        let warnings = try PluginDiscovery(builtinDirectory: nil, installDirectory: store.directory, searchPath: [])
            .discover(into: registry)
        XCTAssertEqual(registry.plugins().map(\.name), ["mydata"])
        XCTAssertTrue(warnings.first?.contains("it is a symbolic link") ?? false, "\(warnings)")
    }

    func testASymbolicLinkInABundleIsRefused() throws {
        let b = try makeBundle()
        let outside = dir.appendingPathComponent("outside.so")
        try FileManager.default.moveItem(at: b.appendingPathComponent("hinge.so"), to: outside)
        try FileManager.default.createSymbolicLink(at: b.appendingPathComponent("hinge.so"), withDestinationURL: outside)
        let target = dir.appendingPathComponent("installed")
        XCTAssertThrowsPluginError(try BundleStore(directory: target.path).install(bundlePath: b.path),
                                   contains: ["hinge.so is a symbolic link; a bundle holds regular files only"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: target.appendingPathComponent("extras").path))
    }

    func testATarWithALinkOrASetuidFileIsRefusedBeforeExtracting() throws {
        let src = try makeBundle()
        try FileManager.default.createSymbolicLink(atPath: src.appendingPathComponent("link").path, withDestinationPath: "/etc/passwd")
        let linked = dir.appendingPathComponent("linked.tar.gz").path
        XCTAssertEqual(try Build.run("/usr/bin/env", ["tar", "-czf", linked, "-C", src.path, "."]).status, 0)
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        XCTAssertThrowsPluginError(try store.install(bundlePath: linked), contains: ["link is a symbolic link"])
        try FileManager.default.removeItem(atPath: src.appendingPathComponent("link").path)
        try FileManager.default.setAttributes([.posixPermissions: 0o4755], ofItemAtPath: src.appendingPathComponent("mydata.so").path)
        let setuid = dir.appendingPathComponent("setuid.tar.gz").path
        XCTAssertEqual(try Build.run("/usr/bin/env", ["tar", "-czf", setuid, "-C", src.path, "."]).status, 0)
        XCTAssertThrowsPluginError(try store.install(bundlePath: setuid), contains: ["mydata.so has a set-user or set-group id bit"])
    }

    func testATarBombIsRefusedFromItsListing() {
        let listing = "-rw-r--r-- u/g 2147483648 2024-01-01 00:00 ./huge.so\n"
        XCTAssertThrowsPluginError(try BundleLimits.check(listing: listing, bundle: "b.tar.gz"), contains: ["it unpacks to more than 1024 MiB"])
        let sizes = (0..<3).map { "-rw-r--r-- u/g 400000000 2024-01-01 00:00 ./part\($0).so\n" }.joined()
        XCTAssertThrowsPluginError(try BundleLimits.check(listing: sizes, bundle: "b.tar.gz"), contains: ["it unpacks to more than 1024 MiB"])
        let beyondInt = "-rw-r--r-- u/g 99999999999999999999999 2024-01-01 00:00 ./huge.so\n"
        XCTAssertThrowsPluginError(try BundleLimits.check(listing: beyondInt, bundle: "b.tar.gz"), contains: ["it unpacks to more than 1024 MiB"])
        let unreadable = "-rw-r--r-- u/g 12k 2024-01-01 00:00 ./odd.so\n"
        XCTAssertThrowsPluginError(try BundleLimits.check(listing: unreadable, bundle: "b.tar.gz"), contains: ["tar's listing gives no size for ./odd.so"])
        let device = "crw-r--r-- u/g 1,3 2024-01-01 00:00 ./null\n"
        XCTAssertThrowsPluginError(try BundleLimits.check(listing: device, bundle: "b.tar.gz"), contains: ["./null is a character device"])
    }

    func testInstalledFilesAreWrittenAnewWithoutTheBundlesModeBits() throws {
        let b = try makeBundle()
        try FileManager.default.setAttributes([.posixPermissions: 0o4777], ofItemAtPath: b.appendingPathComponent("hinge.so").path)
        let store = BundleStore(directory: dir.appendingPathComponent("installed").path)
        let installed = try store.install(bundlePath: b.path)
        let mode = try FileManager.default.attributesOfItem(atPath: installed.directory + "/hinge.so")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o755)
    }
}
