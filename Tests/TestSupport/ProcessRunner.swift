import Foundation

/// The one way the tests run a program: an executable with arguments, an optional environment
/// and working folder, its output captured (stdout and stderr apart, or together in one stream),
/// optionally watched while it runs and killed after a timeout.
public enum ProcessRunner {
    /// Exit status and what the program printed. With `combineOutput`, `stdout` holds both streams
    /// in the order they were written and `stderr` is empty.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        /// Seconds from launch to exit.
        public let seconds: Double
        /// The timeout passed and the program was killed.
        public let timedOut: Bool
    }

    /// Runs `executable args` and waits for it.
    /// - environment: the whole environment (nil: this process's).
    /// - currentDirectory: the working folder (nil: this process's).
    /// - combineOutput: stdout and stderr into one stream (`Result.stdout`).
    /// - poll: called with the program's pid every `pollInterval` seconds while it runs; returns
    ///   true to stop being polled.
    /// - timeout: seconds after which `onTimeout(pid)` is called (default: SIGKILL the pid) and
    ///   the wait ends with `timedOut`.
    public static func run(_ executable: URL, _ args: [String], environment: [String: String]? = nil,
                           currentDirectory: URL? = nil, combineOutput: Bool = false,
                           poll: ((Int32) -> Bool)? = nil, pollInterval: Double = 0.002,
                           timeout: Double? = nil, onTimeout: ((Int32) -> Void)? = nil) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if let environment { p.environment = environment }
        if let currentDirectory { p.currentDirectoryURL = currentDirectory }
        // Output goes to files, not pipes: a chatty program never blocks on a full pipe, whatever
        // stream it writes to.
        let tmp = FileManager.default.temporaryDirectory
        let outURL = tmp.appendingPathComponent("dph-run-out-\(UUID().uuidString).txt")
        let errURL = tmp.appendingPathComponent("dph-run-err-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL) }
        let outHandle = try FileHandle(forWritingTo: outURL)
        var errHandle: FileHandle?
        if !combineOutput {
            _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
            errHandle = try FileHandle(forWritingTo: errURL)
        }
        defer { if !combineOutput { try? FileManager.default.removeItem(at: errURL) } }
        p.standardOutput = outHandle
        p.standardError = errHandle ?? outHandle
        let start = Date()
        do { try p.run() } catch {
            try? outHandle.close(); try? errHandle?.close()
            throw error
        }
        var timedOut = false
        if poll != nil || timeout != nil {
            var polling = poll != nil
            while p.isRunning {
                if polling, poll!(p.processIdentifier) { polling = false }
                if let timeout, Date().timeIntervalSince(start) > timeout {
                    if let onTimeout { onTimeout(p.processIdentifier) } else { kill(p.processIdentifier, SIGKILL) }
                    timedOut = true
                    break
                }
                if !polling && timeout == nil { break }
                usleep(useconds_t(pollInterval * 1_000_000))
            }
        }
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        try outHandle.close()
        try errHandle?.close()
        func read(_ url: URL) -> String { (try? Data(contentsOf: url)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        return Result(status: p.terminationStatus, stdout: read(outURL), stderr: combineOutput ? "" : read(errURL),
                      seconds: seconds, timedOut: timedOut)
    }

    /// `run` with the executable given as a path.
    public static func run(_ executable: String, _ args: [String], environment: [String: String]? = nil,
                           currentDirectory: URL? = nil, combineOutput: Bool = false) throws -> Result {
        try run(URL(fileURLWithPath: executable), args, environment: environment, currentDirectory: currentDirectory,
                combineOutput: combineOutput)
    }
}

/// The repository and the built products, as every test target sees them.
public enum Repository {
    /// The repository root (this file is Tests/TestSupport/ProcessRunner.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The SDK's C headers.
    public static let sdkInclude = root.appendingPathComponent("SDK/include").path
    /// SwiftPM's products folder: `dpohost` and `libdph_*.so` are built next to the test bundle.
    public static var products: URL { Bundle.main.bundleURL }

    /// A new, empty folder `PREFIX<UUID>` in the temporary directory.
    public static func temporaryDirectory(prefix: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(prefix + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs the built `dpohost` with `home` as DPOHOST_HOME and an empty DPOHOST_PLUGIN_PATH (no
    /// stray installed bundles); stdout and stderr apart.
    public static func dpohost(_ args: [String], home: URL) throws -> ProcessRunner.Result {
        var env = ProcessInfo.processInfo.environment
        env["DPOHOST_HOME"] = home.path
        env["DPOHOST_PLUGIN_PATH"] = ""
        return try ProcessRunner.run(products.appendingPathComponent("dpohost"), args, environment: env)
    }
}

/// Builds C plugins with the system compiler exactly as a user would:
/// `cc -shared -fPIC -std=gnu11 -I SDK/include [-DNAME...] SOURCE -o OUT [-lLIB...]`.
public enum CPlugin {
    public struct CompileError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Runs the compiler and returns its result (the caller checks the status).
    public static func compile(_ source: URL, to output: String, defines: [String] = [],
                               libraries: [String] = []) throws -> ProcessRunner.Result {
        try ProcessRunner.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-std=gnu11", "-I", Repository.sdkInclude]
            + defines.map { "-D" + $0 } + [source.path, "-o", output] + libraries.map { "-l" + $0 })
    }

    /// Compiles `source` into `output`, throwing `CompileError` with the compiler's stderr if it fails.
    @discardableResult
    public static func build(_ source: URL, to output: String, defines: [String] = [], libraries: [String] = []) throws -> String {
        let r = try compile(source, to: output, defines: defines, libraries: libraries)
        guard r.status == 0 else { throw CompileError(message: "cc failed for \(source.lastPathComponent): \(r.stderr)") }
        return output
    }
}
