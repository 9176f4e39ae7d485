import Foundation

/// The reference's `get_local_run_dir`: `<first existing local_dirs entry>/<user>/<exp_name>_<timestamp>`,
/// falling back to the last entry (created with the run directory) when none exists.
public enum RunDirectory {
    public static func path(expName: String, localDirs: [String], environment: ConfigEnvironment) throws -> String {
        guard let last = localDirs.last else {
            throw ConfigError.invalidValue(key: "local_dirs", value: "[]", reason: "needs at least one directory")
        }
        let root = localDirs.first { environment.directoryExists(environment.absolute($0)) } ?? last
        return "\(root)/\(environment.userName)/\(expName)_\(timestamp(environment.now, timeZone: environment.timeZone))"
    }

    /// `%Y-%m-%d_%H-%M-%S_%f` (microseconds, six digits), as Python's `datetime.now().strftime`.
    public static func timestamp(_ date: Date, timeZone: TimeZone) -> String {
        // Whole microseconds first, so a Double just below a boundary does not print 999999.
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = (micros / 1_000_000).rounded(.down)
        let fraction = Int(micros - seconds * 1_000_000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second],
                                        from: Date(timeIntervalSince1970: seconds))
        return String(format: "%04d-%02d-%02d_%02d-%02d-%02d_%06d",
                      c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, fraction)
    }

    /// Creates the run directory (and the `local_dirs` root and user folder if needed).
    @discardableResult
    public static func create(_ path: String, environment: ConfigEnvironment) throws -> URL {
        let url = URL(fileURLWithPath: environment.absolute(path), isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
