import ArgumentParser
import Foundation
import Reporting
import Training

/// `dpohost report RUN [RUN ...]`: one self-contained HTML page of the runs' curves, the settings
/// in which they differ, and their eval samples.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML page of one or several runs: loss, reward accuracy, margins and rewards over training, and eval samples.",
        discussion: """
        One run: RUN_DIR/report.html. Several: overlaid on each chart, with the settings in which
        they differ (./report.html unless --output names the page). The page needs no network:
        axes with ticks and grid, a log scale (on by default where a series spans two decades),
        smoothing of train curves, and values under the pointer.
        """)

    @Argument(help: "Run directories (each holding metrics.jsonl).") var runDirectories: [String]
    @Option(help: "Output file (default: RUN_DIR/report.html for one run, ./report.html for several).") var output: String?

    func run() throws {
        try CLIErrors.run {
            guard !runDirectories.isEmpty else { throw ReportError.missing("name at least one run directory") }
            let dirs = runDirectories.map { URL(fileURLWithPath: $0) }
            let runs = try dirs.map(HTMLReport.run(directory:))
            let out = output ?? (dirs.count == 1 ? dirs[0].appendingPathComponent("report.html").path : "report.html")
            let title = runs.count == 1 ? "dpohost run \(runs[0].name)" : "dpohost runs " + runs.map(\.name).joined(separator: ", ")
            let html = HTMLReport(title: title, runs: runs).render()
            try Data(html.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            print(out)
        }
    }
}
