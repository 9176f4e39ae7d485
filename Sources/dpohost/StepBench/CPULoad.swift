import Foundation

/// The share of the machine's CPU time that other processes used over an interval, as the
/// PyTorch script's `other_cpu_load`: busy jiffies from /proc/stat minus this process's own CPU
/// time. The machine is shared, so a timing taken with a high value is marked as disturbed.
struct CPULoad {
    private let busy, total: Double
    private let own: Double

    init?() {
        guard let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first else { return nil }
        let fields = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard fields.count >= 5 else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        total = fields.reduce(0, +) / hz
        busy = total - (fields[3] + fields[4]) / hz
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        own = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Others' share of the CPU time between `start` and `self`, in 0...1.
    func otherLoad(since start: CPULoad) -> Double? {
        let elapsed = total - start.total
        guard elapsed > 0 else { return nil }
        return min(1, max(0, ((busy - start.busy) - (own - start.own)) / elapsed))
    }
}
