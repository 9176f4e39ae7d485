import Foundation

/// What the configuration reads from the outside world, passed in rather than read from globals
/// so tests can pin the clock, the user name and the file system.
public struct ConfigEnvironment: Sendable {
    /// The moment the run starts (names the run directory).
    public var now: Date
    /// Time zone of the run-directory timestamp (the reference uses local time).
    public var timeZone: TimeZone
    /// Appended to the chosen `local_dirs` entry, as the reference's `getpass.getuser()`.
    public var userName: String
    /// Relative paths (`--config`, `.cache` in `local_dirs`) are relative to this.
    public var currentDirectory: URL
    /// Process environment (`DPOHOST_CONFIG_DIR`).
    public var variables: [String: String] = [:]
    /// Whether a directory exists at an absolute path.
    public var directoryExists: @Sendable (String) -> Bool

    /// The running process's clock, user, directory and environment.
    public static func current() -> ConfigEnvironment {
        let info = ProcessInfo.processInfo
        return ConfigEnvironment(
            now: Date(), timeZone: .current, userName: currentUserName(info.environment),
            currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true),
            variables: info.environment,
            directoryExists: { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            })
    }

    /// Python's `getpass.getuser()` order: LOGNAME, USER, LNAME, USERNAME, then the password database.
    static func currentUserName(_ env: [String: String]) -> String {
        for name in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
            if let value = env[name], !value.isEmpty { return value }
        }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return "user"
    }

    /// `path` made absolute against the current directory.
    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : currentDirectory.appendingPathComponent(path).standardizedFileURL.path
    }
}
