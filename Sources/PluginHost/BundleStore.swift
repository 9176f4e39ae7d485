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
        // Only the listed files, each written anew from its bytes: no link, device or mode bit
        // of the bundle's own reaches the plugin directory.
        for file in ["manifest.json"] + bundle.manifest.plugins.map(\.file) {
            let target = incoming + "/" + file
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: staging.directory + "/" + file))
            let mode = file == "manifest.json" ? 0o644 : 0o755
            guard fm.createFile(atPath: target, contents: bytes, attributes: [.posixPermissions: mode]) else {
                try? fm.removeItem(atPath: incoming)
                throw PluginError.badBundle(path: bundlePath, detail: "cannot write \(target)")
            }
        }
        try? fm.removeItem(atPath: dest)
        try fm.moveItem(atPath: incoming, toPath: dest)
        return PluginBundle(directory: dest, manifest: bundle.manifest)
    }

    /// A library of an installed bundle as it was installed: a regular file with its recorded checksum.
    /// `descriptor` is `path` opened (without following a link) for loading.
    static func checkInstalled(descriptor: Int32, path: String, expected: String, bundle: String) throws {
        _ = try checkFile(path: path, named: (path as NSString).lastPathComponent, expected: expected, bundle: bundle,
                          descriptor: descriptor)
    }

    /// A bundle's file `named` at `path`: a regular file (not followed through a link) whose
    /// SHA-256 is `expected`; returns its size.
    /// With `descriptor` (the file opened), the kind and digest are those of the opened file.
    private static func checkFile(path: String, named file: String, expected: String, bundle: String,
                                  descriptor: Int32? = nil) throws -> Int {
        let (kind, size) = descriptor.map(FileKind.of(descriptor:)) ?? FileKind.of(path)
        guard kind == .regular else {
            throw PluginError.badBundle(path: bundle, detail: "\(file) is \(kind.description); a bundle holds regular files only")
        }
        let actual = try descriptor.map(SHA256.hex(fileDescriptor:)) ?? SHA256.hex(fileAt: path)
        guard actual == expected.lowercased() else {
            throw PluginError.checksumMismatch(bundle: bundle, file: file, expected: expected.lowercased(), actual: actual)
        }
        return size
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
        var total = 0
        for p in manifest.plugins {
            let path = directory + "/" + p.file
            guard FileManager.default.fileExists(atPath: path) else {
                throw PluginError.badBundle(path: label, detail: "manifest lists \(p.file), which is missing")
            }
            total += try checkFile(path: path, named: p.file, expected: p.sha256, bundle: label)
            guard total <= BundleLimits.maximumBytes else {
                throw PluginError.badBundle(path: label, detail: "its plugins exceed \(BundleLimits.maximumBytes >> 20) MiB")
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

    /// Runs the system tar; its standard output, or an error with its message. Its output and
    /// messages go to files, not pipes: a tar that fills one pipe while the other is being read
    /// would wait forever, and Foundation's pipe reading ends the process when a signal
    /// interrupts a read (found by the BundleTarFuzzer).
    private static func tar(_ arguments: [String], bundle: String) throws -> String {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("dpohost-tar-\(UUID().uuidString)")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        guard fm.createFile(atPath: outURL.path, contents: nil), fm.createFile(atPath: errURL.path, contents: nil) else {
            throw PluginError.badBundle(path: bundle, detail: "cannot write in \(fm.temporaryDirectory.path)")
        }
        let outFile = try FileHandle(forWritingTo: outURL), errFile = try FileHandle(forWritingTo: errURL)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar"] + arguments
        tar.standardError = errFile
        tar.standardOutput = outFile
        try tar.run()
        tar.waitUntilExit()
        try? outFile.close()
        try? errFile.close()
        let out = try Data(contentsOf: outURL), err = try Data(contentsOf: errURL)
        guard tar.terminationStatus == 0 else {
            let why = String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PluginError.badBundle(path: bundle, detail: "not a readable .tar.gz (\(why))")
        }
        return String(decoding: out, as: UTF8.self)
    }

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
        // The listing first: only folders and regular files, within the size limit, are extracted.
        let listing = try Self.tar(["-tvzf", path], bundle: path)
        try BundleLimits.check(listing: listing, bundle: path)
        let tmp = fm.temporaryDirectory.appendingPathComponent("dpohost-bundle-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        do {
            _ = try Self.tar(["-xzf", path, "-C", tmp, "--no-same-owner", "--no-same-permissions"], bundle: path)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
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

/// What a bundle may hold: regular files and folders, at most `maximumBytes` in all and
/// `maximumEntries` entries (a tar bomb is refused from its listing, before anything is written).
enum BundleLimits {
    static let maximumBytes = 1 << 30
    static let maximumEntries = 10_000

    /// `listing`: `tar -tv` lines (`-rw-r--r-- user/group SIZE DATE TIME NAME`).
    static func check(listing: String, bundle: String) throws {
        let lines = listing.split(separator: "\n")
        guard lines.count <= maximumEntries else {
            throw PluginError.badBundle(path: bundle, detail: "it holds \(lines.count) entries, more than \(maximumEntries)")
        }
        var total = 0
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let mode = fields.first, let type = mode.first else { continue }
            var name = fields.count >= 6 ? fields[5...].joined(separator: " ") : String(line)
            for arrow in [" -> ", " link to "] { name = name.components(separatedBy: arrow)[0] }  // a link's target
            switch type {
            case "-":
                if mode.contains("s") || mode.contains("S") {
                    throw PluginError.badBundle(path: bundle, detail: "\(name) has a set-user or set-group id bit; a bundle holds plain files only")
                }
                // A size tar prints but Int cannot hold is over the limit, never zero.
                guard fields.count > 2, fields[2].allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw PluginError.badBundle(path: bundle, detail: "tar's listing gives no size for \(name)")
                }
                guard let size = Int(fields[2]), size <= maximumBytes - total else {
                    throw PluginError.badBundle(path: bundle, detail: "it unpacks to more than \(maximumBytes >> 20) MiB")
                }
                total += size
            case "d": break
            default:
                let kind = ["l": "a symbolic link", "h": "a hard link", "c": "a character device", "b": "a block device",
                            "p": "a pipe", "s": "a socket"][String(type)] ?? "not a regular file"
                throw PluginError.badBundle(path: bundle, detail: "\(name) is \(kind); a bundle holds regular files and folders only")
            }
        }
    }
}

/// What a path is, without following a link (`lstat`), and its size.
enum FileKind: CustomStringConvertible {
    case regular, symbolicLink, directory, other, missing

    static func of(_ path: String) -> (FileKind, Int) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return (.missing, 0) }
        return of(info)
    }

    /// What an open file is.
    static func of(descriptor: Int32) -> (FileKind, Int) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return (.missing, 0) }
        return of(info)
    }

    private static func of(_ info: stat) -> (FileKind, Int) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return (.regular, Int(info.st_size))
        case S_IFLNK: return (.symbolicLink, 0)
        case S_IFDIR: return (.directory, 0)
        default: return (.other, 0)
        }
    }

    var description: String {
        switch self {
        case .regular: return "a regular file"
        case .symbolicLink: return "a symbolic link"
        case .directory: return "a folder"
        case .other: return "a device, pipe or socket"
        case .missing: return "missing"
        }
    }
}
