import ArgumentParser
import Foundation

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
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
