import ArgumentParser
import Foundation
import Training

/// Every command reports a failure as one `error: ...` line on stderr and exits with status 1;
/// errors carry the file, line or key they are about in their description.
enum CLIErrors {
    static func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as ExitCode {
            throw e
        } catch let e as CleanExit {
            throw e
        } catch {
            FileHandle.standardError.write(Data("error: \(message(error))\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Foundation's file errors print as `Error Domain=NSCocoaErrorDomain Code=640 ...`; they say
    /// the file and the system's reason instead (a full disk, a folder that cannot be written).
    /// Foundation's file error codes and the system errors they stand for.
    static let posixCodes: [Int: Int32] = [
        NSFileNoSuchFileError: ENOENT, NSFileReadNoSuchFileError: ENOENT, NSFileWriteOutOfSpaceError: ENOSPC,
        NSFileWriteNoPermissionError: EACCES, NSFileReadNoPermissionError: EACCES, NSFileWriteFileExistsError: EEXIST,
        NSFileWriteVolumeReadOnlyError: EROFS,
    ]

    static func message(_ error: Error) -> String {
        if let failure = error as? RankFailure { return "\(failure.rank): " + message(failure.underlying) }
        let e = error as NSError
        guard e.domain == NSCocoaErrorDomain else { return "\(error)" }
        let path = (e.userInfo[NSFilePathErrorKey] as? String) ?? (e.userInfo[NSURLErrorKey] as? URL)?.path
        let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError
        let reason: String
        if let underlying, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else if let code = posixCodes[e.code] {
            reason = String(cString: strerror(code))
        } else {
            reason = e.localizedDescription
        }
        return path.map { "\($0): \(reason)" } ?? reason
    }
}
