import Foundation

/// Finds the `config/` directory: an explicit `--config-dir`, then `DPOHOST_CONFIG_DIR`, then
/// `./config`, then the places a SwiftPM build or an install puts it relative to the executable.
public struct ConfigDirectoryLocator: Sendable {
    public let environment: ConfigEnvironment
    /// Path of the running executable (e.g. `CommandLine.arguments[0]`, resolved), if known.
    public let executablePath: String?
    public let fileExists: @Sendable (String) -> Bool

    public init(environment: ConfigEnvironment, executablePath: String?,
                fileExists: @escaping @Sendable (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) {
        self.environment = environment
        self.executablePath = executablePath
        self.fileExists = fileExists
    }

    /// Candidate directories in search order.
    public func candidates(explicit: String?) -> [String] {
        if let explicit { return [environment.absolute(explicit)] }
        var out: [String] = []
        if let fromEnv = environment.variables["DPOHOST_CONFIG_DIR"], !fromEnv.isEmpty {
            out.append(environment.absolute(fromEnv))
        }
        out.append(environment.absolute("config"))
        if let executablePath {
            let exeDir = URL(fileURLWithPath: environment.absolute(executablePath)).deletingLastPathComponent()
            // .build/<configuration>/dpohost, .build/<triple>/<configuration>/dpohost, <prefix>/bin/dpohost
            for relative in ["../../config", "../../../config", "../share/dpohost/config"] {
                out.append(exeDir.appendingPathComponent(relative).standardizedFileURL.path)
            }
        }
        return out
    }

    /// The first candidate holding a `config.yaml`. An explicit directory is the only candidate:
    /// asking for one and silently getting another would be worse than an error.
    public func locate(explicit: String? = nil) throws -> URL {
        let searched = candidates(explicit: explicit)
        for dir in searched where fileExists(dir + "/config.yaml") {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        throw ConfigError.configDirectoryNotFound(searched: searched)
    }
}
