import Configuration
import Foundation
import Reporting
import Training
import XCTest

/// A TRL user's command, typed as for TRL 1.16, gives TRL's first logged step: for every loss
/// type of TRL's table, the sigmoid+sft list and the loss options, the loss, gradient norm,
/// learning rate, rewards and log-probs equal those of TRL's own DPOTrainer on the same models
/// (pythia-tiny against the separate reference pythia-tiny-ref) and rows (one of which TRL drops
/// and two of which it truncates). The numbers come from TRLGolden/make_trl_golden.py.
final class TRLParityTests: XCTestCase, CLIRunning {
    static let golden = CLIHarness.repo.appendingPathComponent("Tests/TrainerTests/TRLGolden")

    struct Setting: Decodable {
        let name: String
        let settings: [String: Value]
        let log: [String: Double]?
        let error: String?
    }

    /// A setting's value as the golden file writes it.
    enum Value: Decodable {
        case number(Double), text(String), texts([String]), numbers([Double]), flag(Bool), none

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .none }
            else if let b = try? c.decode(Bool.self) { self = .flag(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let s = try? c.decode(String.self) { self = .text(s) }
            else if let l = try? c.decode([String].self) { self = .texts(l) }
            else { self = .numbers(try c.decode([Double].self)) }
        }

        var text: String {
            switch self {
            case let .number(d): return String(d)
            case let .text(s): return s
            case let .texts(l): return l.joined(separator: ",")
            case let .numbers(l): return l.map { String($0) }.joined(separator: ",")
            case let .flag(b): return String(b)
            case .none: return "null"
            }
        }
    }

    struct Golden: Decodable { let losses: [Setting] }

    static let settings: [Setting] = {
        let data = try! Data(contentsOf: golden.appendingPathComponent("trl_golden.json"))
        return try! JSONDecoder().decode(Golden.self, from: data).losses
    }()

    /// TRL's metric names and dpohost's.
    static let metricNames = [
        "loss": "loss/train", "grad_norm": "grad_norm", "learning_rate": "learning_rate",
        "rewards/chosen": "rewards_train/chosen", "rewards/rejected": "rewards_train/rejected",
        "rewards/accuracies": "rewards_train/accuracies", "rewards/margins": "rewards_train/margins",
        "logps/chosen": "logps_train/chosen", "logps/rejected": "logps_train/rejected",
    ]

    /// The command a TRL user types for `setting`.
    func command(_ setting: Setting, _ out: URL) -> [String] {
        let models = CLIHarness.repo.appendingPathComponent("Tests/Fixtures/models")
        var args = ["train", "--beta", "0.1", "--dataset-path", Self.golden.appendingPathComponent("rows.jsonl").path,
                    "--model-name-or-path", models.appendingPathComponent("pythia-tiny").path,
                    "--ref-model", models.appendingPathComponent("pythia-tiny-ref").path,
                    "--per-device-train-batch-size", "5", "--max-length", "48", "--learning-rate", "1e-3",
                    "--lr-scheduler-type", "constant", "--max-steps", "1", "--logging-steps", "1",
                    "--output-dir", out.path, "progress=off", "threads=1"]
        let s = setting.settings
        args += ["--loss-type", s["loss_type"]!.text]
        if let w = s["loss_weights"], case .numbers = w { args += ["--loss-weights", w.text] }
        if case let .number(eps)? = s["label_smoothing"], eps != 0 { args += ["--label-smoothing", String(eps)] }
        if let f = s["f_divergence_type"]?.text, f != "reverse_kl" {
            args += ["--f-divergence-type", f, "--f-alpha-divergence-coef", s["f_alpha_divergence_coef"]!.text]
        }
        if case let .number(tau)? = s["discopop_tau"], tau != 0.05 { args += ["--discopop-tau", String(tau)] }
        if case let .number(alpha)? = s["ld_alpha"] { args += ["--ld-alpha", String(alpha)] }
        if case .flag(true)? = s["use_weighting"] { args.append("--use-weighting") }
        return args
    }

    func testEveryTRLLossTypeAndOptionGivesTRLsFirstLoggedStep() throws {
        let settings = Self.settings.filter { $0.log != nil }
        XCTAssertEqual(settings.count, 23)
        for setting in settings {
            let out = tempRun("trl-" + setting.name)
            let r = try dpohost(command(setting, out))
            XCTAssertEqual(r.status, 0, "\(setting.name): \(r.output)")
            guard r.status == 0 else { continue }
            let first = try XCTUnwrap(try MetricsLog.read(out.appendingPathComponent("metrics.jsonl")).first { $0.split == "train" })
            let sftOnly = setting.settings["loss_type"]?.text == "sft"
            var compared = 0
            // forward_kl and alpha_divergence take exp of log-ratios near 26 nats here (a separate
            // reference), which multiplies the products' float32 rounding by e^26: the matrix
            // library and attention method then move the loss in its fifth digit.
            let tolerance = ["forward_kl", "alpha_divergence"].contains { setting.name.contains($0) } ? 5e-4 : 2e-5
            for (trlName, want) in setting.log! {
                guard let ours = Self.metricNames[trlName] else { continue }
                // An SFT-only run loads no reference, so it reports no rewards.
                if sftOnly && (trlName.hasPrefix("rewards/") || trlName == "logps/rejected") { continue }
                let got = try XCTUnwrap(first.values[ours], "\(setting.name): \(ours) missing from \(first.values.keys.sorted())")
                XCTAssertEqual(got, want, accuracy: tolerance * max(1, abs(want)), "\(setting.name): \(trlName)")
                compared += 1
            }
            XCTAssertGreaterThanOrEqual(compared, sftOnly ? 4 : 9, setting.name)
        }
    }

    func testEXOWithoutLabelSmoothingIsRefusedAsTRLRefusesIt() throws {
        let setting = try XCTUnwrap(Self.settings.first { $0.name == "exo_pair_zero_label_smoothing" })
        XCTAssertTrue(setting.error?.contains("Label smoothing must be greater than 0.0") == true)
        let r = try dpohost(command(setting, tempRun("trl-exo-zero")))
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error:") && r.output.contains("label_smoothing") && r.output.contains("got 0.0"), r.output)
    }

    func testTrainHelpNamesTheTRLVersionAndEveryFlagItAccepts() throws {
        let r = try dpohost(["train", "--help"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("TRL \(EasyDeLArguments.trlVersion)"), r.output)
        for flag in EasyDeLArguments.acceptedFlags {
            XCTAssertTrue(r.output.contains(flag), "train --help does not name \(flag)")
        }
    }

    func testWeightingRefusesALossThatCannotWeighItsExamples() throws {
        let r = try dpohost(["train"] + common(tempRun("wpo-tdpo")) + ["loss=tdpo", "use_weighting=true", "n_examples=4"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: use_weighting=true: loss 'tdpo' does not weigh its examples (DPH_LOSS_PAIR_WEIGHTS)"), r.output)
    }
}

/// Runs that need no reference model during the steps hold none: EasyDeL's reference_free loads
/// none, and precompute_ref_log_probs frees it after its one pass, as TRL does.
final class OneModelInMemoryTests: XCTestCase, CLIRunning {
    func trlCommand(_ out: URL, _ extra: [String]) -> [String] {
        ["train", "--dataset-path", "Tests/Fixtures/data/preference.jsonl", "--model-name-or-path", "Tests/Fixtures/models/pythia-tiny",
         "--per-device-train-batch-size", "4", "--max-length", "64", "--max-steps", "2", "--logging-steps", "1",
         "--output-dir", out.path, "progress=off", "threads=1"] + extra
    }

    func testReferenceFreeLoadsNoReferenceAndRewardsAreThePolicysOwn() throws {
        let out = tempRun("reference-free")
        let r = try dpohost(trlCommand(out, ["--reference-free"]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("no reference model: every loss (dpo) is reference-free"), r.output)
        XCTAssertTrue(r.output.contains("reference model held: none"), r.output)
        let first = try XCTUnwrap(try MetricsLog.read(out.appendingPathComponent("metrics.jsonl")).first)
        // With the reference's log-probs 0, the chosen reward is beta times the policy's log-prob.
        XCTAssertEqual(first.values["rewards_train/chosen"]!, 0.1 * first.values["logps_train/chosen"]!, accuracy: 1e-4)
    }

    func testPrecomputedReferenceLogProbsFreeTheReferenceBeforeTheFirstStep() throws {
        let out = tempRun("precompute")
        let r = try dpohost(trlCommand(out, ["--precompute-ref-log-probs"]))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("reference model released: precompute_ref_log_probs cached"), r.output)
        XCTAssertTrue(r.output.contains("reference model held: none"), r.output)
        let plain = try dpohost(trlCommand(tempRun("with-reference"), []))
        XCTAssertTrue(plain.output.contains("reference model held: 0."), plain.output)
    }
}

/// A named precompute_ref_log_probs cache serves another run over the same reference and
/// tokenization, and is refused for another reference or tokenization.
final class NamedReferenceCacheTests: XCTestCase, CLIRunning {
    func run(_ cache: URL, _ extra: [String]) throws -> RunResult {
        try dpohost(["train", "--dataset-path", "Tests/Fixtures/data/preference.jsonl", "--model-name-or-path", "Tests/Fixtures/models/pythia-tiny",
                     "--per-device-train-batch-size", "4", "--max-length", "64", "--max-steps", "1", "--precompute-ref-log-probs",
                     "--output-dir", tempRun("cache").path, "reference_logps_cache=\(cache.path)", "progress=off", "threads=1"] + extra)
    }

    func testASecondRunReusesTheCacheAndAnotherReferenceOrTokenizationIsRefused() throws {
        let cache = tempRun("named").deletingLastPathComponent().appendingPathComponent("reference_logps.jsonl")
        try FileManager.default.createDirectory(at: cache.deletingLastPathComponent(), withIntermediateDirectories: true)
        let first = try run(cache, [])
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("computed now)") && !first.output.contains("(0 computed now)"), first.output)
        let second = try run(cache, [])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("(0 computed now)"), second.output)

        let otherReference = try run(cache, ["--ref-model", "Tests/Fixtures/models/pythia-tiny-ref"])
        XCTAssertEqual(otherReference.status, 1, otherReference.output)
        XCTAssertTrue(otherReference.output.contains("error: \(cache.path): cached by a run with other reference weights"), otherReference.output)
        let otherLength = try run(cache, ["--max-length", "48"])
        XCTAssertEqual(otherLength.status, 1, otherLength.output)
        XCTAssertTrue(otherLength.output.contains("error: \(cache.path): cached with other tokenization (tokenization=trl max_length=64"), otherLength.output)
    }
}
