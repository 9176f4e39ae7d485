/// An error about one file or folder, whose message names it first and then says what is wrong:
/// `<path>: <problem>`, as compilers write theirs (checkpoints, chat template files). Both parts
/// come from one `fault`, so the path an error reports (`file`) is the one its message names.
public protocol FileError: Error, CustomStringConvertible {
    /// The file or folder at fault, and what is wrong with it.
    var fault: (file: String, problem: String) { get }
}

extension FileError {
    /// The file or directory the error is about.
    public var file: String { fault.file }

    public var description: String { "\(fault.file): \(fault.problem)" }
}
