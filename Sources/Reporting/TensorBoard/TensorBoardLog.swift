import Foundation

/// The run's metrics as a TensorBoard event file in the run directory
/// (`events.out.tfevents.<seconds>.<host>.dpohost`), written as the run goes so that
/// `tensorboard --logdir RUN` shows it while it trains: every logged value as a scalar under its
/// metrics.jsonl name (`loss/train`, `rewards_eval/accuracies`, ...), the step being the examples
/// seen as in metrics.jsonl; the eval samples as text; the configuration as hyper-parameters
/// (TensorBoard's HPARAMS tab). A non-finite value is written as it is (TensorBoard skips it).
final class TensorBoardLog {
    static let fileMarker = ".dpohost"
    let file: TFRecordFile

    /// A new event file in `directory`, after the ones a resumed run rewrites (`rewrite`).
    init(directory: URL, now: Date = Date()) throws {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let name = "events.out.tfevents.\(Int(now.timeIntervalSince1970)).\(host)\(Self.fileMarker)"
        file = try TFRecordFile(url: directory.appendingPathComponent(name))
        try write(event(time: now, step: 0) { $0.string(3, "brain.Event:2") })
    }

    /// The event files dpohost wrote in `directory`.
    static func files(in directory: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("events.out.tfevents.") && $0.hasSuffix(fileMarker) }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    func scalars(_ values: [String: Double], step: Int, time: Date) throws {
        try write(event(time: time, step: step) { event in
            event.message(5) { summary in
                for (tag, value) in values.sorted(by: { $0.key < $1.key }) {
                    summary.message(1) { v in
                        v.string(1, tag)
                        v.float(2, Float(value))
                    }
                }
            }
        })
    }

    /// `markdown` under `tag` in TensorBoard's TEXT tab.
    func text(_ markdown: String, tag: String, step: Int, time: Date) throws {
        try write(event(time: time, step: step) { event in
            event.message(5) { summary in
                summary.message(1) { v in
                    v.string(1, tag)
                    v.message(8) { tensor in
                        tensor.int32(1, 7)  // DT_STRING, a scalar
                        tensor.message(2) { _ in }
                        tensor.bytes(8, Array(markdown.utf8))  // string_val, never empty here
                    }
                    v.message(9) { metadata in metadata.message(1) { $0.string(1, "text") } }
                }
            }
        })
    }

    /// The run's settings as the hyper-parameters of a session (the HPARAMS tab): numbers,
    /// booleans and strings as such, anything else as its text.
    func hyperparameters(_ values: [(String, HyperparameterValue)], time: Date) throws {
        var plugin = ProtobufWriter()
        // HParamsPluginData: version 0 (the default, so not written), then session_start_info.
        plugin.message(3) { start in  // session_start_info
            for (name, value) in values {
                start.message(1) { entry in  // map<string, google.protobuf.Value> hparams
                    entry.string(1, name)
                    entry.message(2) { v in
                        switch value {
                        case let .number(x): v.double(2, x)
                        case let .text(s): v.string(3, s)
                        case let .flag(b): v.bool(4, b)
                        }
                    }
                }
            }
            start.double(5, time.timeIntervalSince1970)
        }
        try write(event(time: time, step: 0) { event in
            event.message(5) { summary in
                summary.message(1) { v in
                    v.string(1, "_hparams_/session_start_info")
                    v.message(8) { tensor in  // TensorBoard's own: an empty float vector (DT_FLOAT, shape [0])
                        tensor.int32(1, 1)
                        tensor.message(2) { $0.message(2) { _ in } }
                    }
                    v.message(9) { metadata in
                        metadata.message(1) { data in
                            data.string(1, "hparams")
                            data.bytes(2, plugin.bytes)
                        }
                    }
                }
            }
        })
    }

    enum HyperparameterValue: Equatable {
        case number(Double), text(String), flag(Bool)
    }

    private func event(time: Date, step: Int, _ body: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var event = ProtobufWriter()
        event.double(1, time.timeIntervalSince1970)
        event.int64(2, Int64(step))
        body(&event)
        return event.bytes
    }

    private func write(_ bytes: [UInt8]) throws { try file.append(bytes) }
}
