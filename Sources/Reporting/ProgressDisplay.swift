import Configuration
import Foundation

/// Training progress: a redrawn bar on a terminal, plain log lines otherwise (CI, files, pipes).
public struct ProgressDisplay {
    public typealias Mode = ProgressMode

    public let total: Int?
    public let useBar: Bool
    public let enabled: Bool
    private let start = Date()

    /// `total`: examples the run will see, when known (for the ETA).
    public init(total: Int?, mode: Mode = .auto) {
        self.total = total
        self.enabled = mode != .off
        switch mode {
        case .bar: useBar = true
        case .lines, .off: useBar = false
        case .auto: useBar = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["CI"] == nil
        }
    }

    /// The text of one update (also what `lines` mode prints), without a terminal escape.
    public func line(examples: Int, values: [String: Double], now: Date = Date()) -> String {
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(examples) / elapsed : 0
        var parts: [String] = []
        if let total, total > 0 {
            let frac = min(1, Double(examples) / Double(total))
            let width = 24
            let filled = Int(frac * Double(width))
            parts.append("[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]")
            parts.append("\(examples)/\(total)")
            if rate > 0 { parts.append("ETA " + Self.duration(Double(total - examples) / rate)) }
        } else {
            parts.append("\(examples) examples")
        }
        parts.append(String(format: "%.2f ex/s", rate))
        for key in values.keys.sorted() {
            parts.append("\(Self.shortName(key)) \(String(format: "%.4g", values[key]!))")
        }
        return parts.joined(separator: "  ")
    }

    public func update(examples: Int, values: [String: Double]) {
        guard enabled else { return }
        let text = line(examples: examples, values: values)
        if useBar {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Ends the bar's line so later output starts on a fresh line.
    public func finish() {
        if enabled && useBar { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func shortName(_ key: String) -> String {
        key.replacingOccurrences(of: "rewards_train/", with: "reward ")
            .replacingOccurrences(of: "/train", with: "")
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
