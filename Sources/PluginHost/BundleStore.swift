import Foundation

/// `manifest.json` of a plugin bundle.
public struct BundleManifest: Codable, Equatable, Sendable {
    public struct Plugin: Codable, Equatable, Sendable {
        public let file: String
        public let kind: String
        public let name: String
        public let sha256: String
    }

    public let name: String
    public let version: String
    public let abi: UInt32
    public let plugins: [Plugin]

    /// Parses and checks the manifest's own consistency (not the files it lists).
    static func read(directory: String, bundle: String) throws -> BundleManifest {
        let path = directory + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginError.badBundle(path: bundle, detail: "no manifest.json")
        }
        let m: BundleManifest
        do {
            m = try JSONDecoder().decode(BundleManifest.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw PluginError.badBundle(path: bundle, detail: "manifest.json lacks '\(key.stringValue)'\(where_(ctx))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw PluginError.badBundle(path: bundle, detail: "manifest.json has a wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw PluginError.badBundle(path: bundle, detail: "manifest.json is not valid JSON")
        }
        func bad(_ d: String) -> PluginError { .badBundle(path: bundle, detail: "manifest.json: \(d)") }
        guard !m.name.isEmpty, !m.name.contains("/"), !m.name.hasPrefix(".") else { throw bad("invalid bundle name '\(m.name)'") }
        guard !m.plugins.isEmpty else { throw bad("lists no plugins") }
        for p in m.plugins {
            guard !p.file.isEmpty, !p.file.hasPrefix("/"), !p.file.split(separator: "/").contains("..") else {
                throw bad("plugin file '\(p.file)' must be a relative path inside the bundle")
            }
            guard PluginKind(rawValue: p.kind) != nil else { throw bad("plugin '\(p.name)' has unknown kind '\(p.kind)'") }
            guard p.sha256.count == 64, p.sha256.allSatisfy(\.isHexDigit) else {
                throw bad("plugin '\(p.name)' has a malformed sha256 '\(p.sha256)'")
            }
        }
        return m
    }

    private static func where_(_ ctx: DecodingError.Context) -> String {
        ctx.codingPath.isEmpty ? "" : " in '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
    }
}

/// A bundle on disk whose manifest has been read.
public struct PluginBundle: Sendable {
    public let directory: String
    public let manifest: BundleManifest
}

/// Installs and verifies plugin bundles under one plugin directory (`DIR/<bundle name>/`).
public struct BundleStore {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Checks every checksum, the ABI and each plugin's kind and name, then copies the bundle
    /// into place (replacing an older install of the same name). Nothing is installed on error.
    @discardableResult
    public func install(bundlePath: String) throws -> PluginBundle {
        let fm = FileManager.default
        let staging = try unpack(bundlePath)
        defer { if staging.temporary { try? fm.removeItem(atPath: staging.root) } }
        let bundle = try Self.verify(directory: staging.directory, label: bundlePath)

        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dest = directory + "/" + bundle.manifest.name
        let incoming = directory + "/.incoming-" + bundle.manifest.name
        try? fm.removeItem(atPath: incoming)
        try fm.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        for file in ["manifest.json"] + bundle.manifest.plugins.map(\.file) {
            let target = incoming + "/" + file
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.copyItem(atPath: staging.directory + "/" + file, toPath: target)
        }
        try? fm.removeItem(atPath: dest)
        try fm.moveItem(atPath: incoming, toPath: dest)
        return PluginBundle(directory: dest, manifest: bundle.manifest)
    }

    /// Bundles installed here (directories holding a readable manifest).
    public func installedBundles() -> [PluginBundle] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { name in
            let dir = directory + "/" + name
            return (try? BundleManifest.read(directory: dir, bundle: dir)).map { PluginBundle(directory: dir, manifest: $0) }
        }
    }

    /// Re-checks every installed bundle: one result per bundle directory.
    public func verifyInstalled() -> [(bundle: String, error: PluginError?)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.map { name in
            let dir = directory + "/" + name
            do {
                _ = try Self.verify(directory: dir, label: dir)
                return (name, nil)
            } catch let e as PluginError {
                return (name, e)
            } catch {
                return (name, PluginError.badBundle(path: dir, detail: "\(error)"))
            }
        }
    }

    /// Manifest, checksums, then the ABI and identity of each plugin (by loading it).
    public static func verify(directory: String, label: String) throws -> PluginBundle {
        let manifest = try BundleManifest.read(directory: directory, bundle: label)
        guard PluginABI.supported.contains(manifest.abi) else {
            throw PluginError.badBundle(path: label, detail: "built for plugin ABI \(manifest.abi); this dpohost supports \(PluginABI.supported.lowerBound)...\(PluginABI.supported.upperBound)")
        }
        for p in manifest.plugins {
            let path = directory + "/" + p.file
            guard FileManager.default.fileExists(atPath: path) else {
                throw PluginError.badBundle(path: label, detail: "manifest lists \(p.file), which is missing")
            }
            let actual = try SHA256.hex(fileAt: path)
            guard actual == p.sha256.lowercased() else {
                throw PluginError.checksumMismatch(bundle: label, file: p.file, expected: p.sha256.lowercased(), actual: actual)
            }
        }
        for p in manifest.plugins {
            let loaded = try PluginLoader.load(path: directory + "/" + p.file)
            guard loaded.descriptor.abiVersion == manifest.abi else {
                throw PluginError.badBundle(path: label, detail: "\(p.file) is built for ABI \(loaded.descriptor.abiVersion), manifest says \(manifest.abi)")
            }
            guard loaded.kind.rawValue == p.kind, loaded.name == p.name else {
                throw PluginError.badBundle(path: label, detail: "\(p.file) is the \(loaded.kind) plugin '\(loaded.name)', manifest says \(p.kind) '\(p.name)'")
            }
        }
        return PluginBundle(directory: directory, manifest: manifest)
    }

    private struct Staging { let root: String; let directory: String; let temporary: Bool }

    /// A directory as is, or a .tar.gz extracted (with the system tar) into a temporary one.
    private func unpack(_ path: String) throws -> Staging {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PluginError.badBundle(path: path, detail: "no such file or directory")
        }
        if isDir.boolValue { return Staging(root: path, directory: path, temporary: false) }
        guard path.hasSuffix(".tar.gz") || path.hasSuffix(".tgz") else {
            throw PluginError.badBundle(path: path, detail: "expected a directory or a .tar.gz archive")
        }
        let tmp = fm.temporaryDirectory.appendingPathComponent("dpohost-bundle-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-xzf", path, "-C", tmp, "--no-same-owner"]
        let errPipe = Pipe()
        tar.standardError = errPipe
        tar.standardOutput = FileHandle.nullDevice
        try tar.run()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0 else {
            try? fm.removeItem(atPath: tmp)
            let why = String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PluginError.badBundle(path: path, detail: "not a readable .tar.gz (\(why))")
        }
        // Accept the manifest at the archive's root or inside a single top-level folder.
        if fm.fileExists(atPath: tmp + "/manifest.json") { return Staging(root: tmp, directory: tmp, temporary: true) }
        let top = ((try? fm.contentsOfDirectory(atPath: tmp)) ?? []).filter { !$0.hasPrefix(".") }
        if top.count == 1, fm.fileExists(atPath: tmp + "/" + top[0] + "/manifest.json") {
            return Staging(root: tmp, directory: tmp + "/" + top[0], temporary: true)
        }
        return Staging(root: tmp, directory: tmp, temporary: true)
    }
}
