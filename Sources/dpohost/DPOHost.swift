import ArgumentParser

/// The `dpohost` command line. Each subcommand lives in its own file.
@main
struct DPOHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpohost",
        abstract: "Preference training (SFT, DPO, cDPO, IPO, TDPO) of causal language models on the CPU.",
        subcommands: [TrainCommand.self, ReportCommand.self, GenerateCommand.self, ExportCommand.self, DataCommand.self,
                      PluginsCommand.self, SelfCheckCommand.self, BenchCommand.self]
    )
}
