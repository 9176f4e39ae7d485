import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The `dpohost` command line. Each subcommand lives in its own file.
@main
struct DPOHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpohost",
        abstract: "Preference training (SFT, DPO, cDPO, IPO, TDPO) of causal language models on the CPU.",
        discussion: """
        Plugin options may also come before the subcommand, for every subcommand that loads plugins:
          dpohost --plugin mydata.so train datasets=[mydata] ...
          dpohost --plugin x.so --plugin-dir DIR plugins list
        """,
        subcommands: [TrainCommand.self, ReportCommand.self, GenerateCommand.self, ExportCommand.self, DataCommand.self,
                      PluginsCommand.self, SelfCheckCommand.self, BenchCommand.self]
    )

    static func main() {
        // A write past the file-size limit (`ulimit -f`) then fails with EFBIG, reported like a
        // full disk with the file named, instead of killing the process mid-write.
        signal(SIGXFSZ, SIG_IGN)
        main(GlobalPluginOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
    }
}

/// `dpohost --plugin x.so SUBCOMMAND ...`: the plugin options a user puts before the subcommand
/// are handed to it, as if written after it (each subcommand that loads plugins declares them).
enum GlobalPluginOptions {
    static let withValue: Set<String> = ["--plugin", "--plugin-dir"]

    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if withValue.contains(a), i + 1 < arguments.count {
                leading += [a, arguments[i + 1]]
                i += 2
            } else if withValue.contains(where: { a.hasPrefix($0 + "=") }) {
                leading.append(a)
                i += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, i < arguments.count else { return arguments }
        return Array(arguments[i...]) + leading
    }
}
