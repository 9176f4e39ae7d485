import Foundation
import XCTest

/// Two or three hosts made on this machine as Linux network namespaces joined by veth links
/// (scripts/netns/hosts.sh), for `mpirun` across them as across machines: a hostfile of their
/// addresses, Open MPI's TCP transport only (no shared memory), and scripts/netns/rsh as the remote
/// launcher in place of ssh; mpirun itself runs on host 1. Skipped, with the reason, where
/// namespaces cannot be made (no root or no iproute2); `tearDown` removes the namespaces and
/// whatever still runs in them.
final class NamespaceHosts {
    static let script = CLIHarness.repo.appendingPathComponent("scripts/netns/hosts.sh")
    static let launcher = CLIHarness.repo.appendingPathComponent("scripts/netns/rsh").path
    static let network = "10.231.0"
    let count: Int
    let hostfile: URL
    private let runner: CLIRunning

    init(_ count: Int, runner: CLIRunning) throws {
        self.count = count
        self.runner = runner
        let check = try runner.run(Self.script, ["check"])
        if check.status != 0 {
            throw XCTSkip("multi-host tests need network namespaces: \(check.output.trimmingCharacters(in: .whitespacesAndNewlines)) (run as root with iproute2)")
        }
        let up = try runner.run(Self.script, ["up", "\(count)"])
        guard up.status == 0 else {
            _ = try? runner.run(Self.script, ["down"])
            throw XCTSkip("could not make \(count) namespace hosts: \(up.output)")
        }
        hostfile = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-hostfile-\(UUID())")
        try (1...count).map { "\(Self.network).\($0) slots=1\n" }.joined().write(to: hostfile, atomically: true, encoding: .utf8)
    }

    /// Host `i` (1-based) at `10.231.0.i`.
    func address(_ i: Int) -> String { "\(Self.network).\(i)" }

    /// `mpirun` started on host 1 with its own host name, as one starts it on the first machine
    /// of a cluster: the program to run and its arguments before mpirun's own.
    func launching(_ mpirun: String) -> (program: String, arguments: [String]) {
        ("/usr/bin/env", ["ip", "netns", "exec", "dph-h1", "unshare", "--uts", "/bin/sh", "-c",
                          "hostname dph-h1 && exec \"$@\"", "sh", mpirun])
    }

    /// What `mpirun` needs to start one rank per host, over TCP on the hosts' network only.
    var mpirunArguments: [String] {
        ["--hostfile", hostfile.path, "--mca", "plm_rsh_agent", Self.launcher,
         "--mca", "oob_tcp_if_include", "\(Self.network).0/24", "--mca", "btl_tcp_if_include", "\(Self.network).0/24",
         "--mca", "btl", "self,tcp"]
    }

    /// Takes host `i`'s link down: it is gone from the network, its processes still run.
    func cut(_ i: Int) throws { XCTAssertEqual(try runner.run(Self.script, ["cut", "\(i)"]).status, 0) }
    func restore(_ i: Int) throws { XCTAssertEqual(try runner.run(Self.script, ["restore", "\(i)"]).status, 0) }

    func tearDown() {
        _ = try? runner.run(Self.script, ["down"])
        try? FileManager.default.removeItem(at: hostfile)
    }
}
