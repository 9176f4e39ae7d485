import Foundation
@testable import Reporting
import XCTest

/// The MLflow file store dpohost writes, read by MLflow's own client where Python's `mlflow` is
/// installed: the experiment by name, params, every metric's history, the run's status, and a
/// resumed run continuing the same MLflow run without duplicated points.
final class MLflowTests: XCTestCase {
    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-mlflow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func testTheStoreIsMLFLOWTrackingURIWhenAFileURIOrAPathElseMlrunsHere() throws {
        let here = URL(fileURLWithPath: "/work/here")
        XCTAssertEqual(try MLflowLog.store(environment: [:], currentDirectory: here).path, "/work/here/mlruns")
        XCTAssertEqual(try MLflowLog.store(environment: ["MLFLOW_TRACKING_URI": "file:///tmp/ml"], currentDirectory: here).path, "/tmp/ml")
        XCTAssertEqual(try MLflowLog.store(environment: ["MLFLOW_TRACKING_URI": "store"], currentDirectory: here).path, "/work/here/store")
        XCTAssertThrowsError(try MLflowLog.store(environment: ["MLFLOW_TRACKING_URI": "http://localhost:5000"], currentDirectory: here)) {
            XCTAssertTrue("\($0)".contains("MLFLOW_TRACKING_URI is 'http://localhost:5000'"), "\($0)")
        }
    }

    func testNonFiniteValuesAreWrittenAsMLflowWritesThem() {
        XCTAssertEqual([Double.nan, .infinity, -.infinity, 0.5].map(MLflowLog.text), ["nan", "inf", "-inf", "0.5"])
    }

    func testMLflowsClientReadsParamsMetricHistoriesAndStatusAndAResumeAddsNoDuplicates() throws {
        let dir = try tempDir(), store = try tempDir().appendingPathComponent("mlruns")
        let runDir = dir.appendingPathComponent("exp_2026")
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        try "loss:\n  beta: 0.1\n  name: dpo\nexp_name: exp\ndatasets:\n- hh\n".write(
            to: runDir.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let environment = ["MLFLOW_TRACKING_URI": store.absoluteString]
        let samples = runDir.appendingPathComponent("samples.jsonl")
        let first = try RunLogs(directory: runDir, destinations: [.jsonl, .mlflow], samplesFile: samples, experiment: "exp",
                                environment: environment)
        try first.append(MetricsRecord(examples: 0, split: "eval", values: ["loss/eval": 0.69]))
        try first.append(MetricsRecord(examples: 4, split: "train", values: ["loss/train": 0.6, "grad_norm": .nan]))
        try first.append(MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.5]))
        try MetricsLog.rewind(runDir.appendingPathComponent("metrics.jsonl"), toExamples: 4)
        let resumed = try RunLogs(directory: runDir, destinations: [.jsonl, .mlflow], samplesFile: samples, experiment: "exp",
                                  environment: environment)
        try resumed.append(MetricsRecord(examples: 8, split: "train", values: ["loss/train": 0.45]))
        try resumed.finish(failed: false)

        let script = """
        import json, math, sys
        from mlflow.tracking import MlflowClient
        client = MlflowClient(tracking_uri=sys.argv[1])
        exp = client.get_experiment_by_name("exp")
        runs = client.search_runs([exp.experiment_id])
        run = runs[0]
        history = {k: [[m.step, m.value if math.isfinite(m.value) else None] for m in client.get_metric_history(run.info.run_id, k)]
                   for k in ["loss/train", "loss/eval", "grad_norm"]}
        print(json.dumps({"runs": len(runs), "status": run.info.status, "params": run.data.params,
                          "history": history, "name": run.info.run_name}))
        """
        // MLflow 3 keeps its file store behind MLFLOW_ALLOW_FILE_STORE.
        let data = try PythonReader.output(of: script, arguments: [store.absoluteString], package: "mlflow-skinny",
                                           environment: ["MLFLOW_ALLOW_FILE_STORE": "true"])
        struct Read: Decodable {
            let runs: Int, status: String, name: String
            let params: [String: String]
            let history: [String: [[Double?]]]
        }
        let read = try JSONDecoder().decode(Read.self, from: data)
        XCTAssertEqual(read.runs, 1)
        XCTAssertEqual(read.status, "FINISHED")
        XCTAssertEqual(read.name, "exp_2026")
        XCTAssertEqual(read.params["loss.beta"], "0.1")
        XCTAssertEqual(read.params["datasets"], "[hh]")
        XCTAssertEqual(read.history["loss/train"]?.map { $0[0] }, [4, 8])
        XCTAssertEqual(try XCTUnwrap(read.history["loss/train"]?.last?[1] ?? nil), 0.45, accuracy: 1e-12)
        XCTAssertEqual(read.history["loss/eval"]?.map { $0[0] }, [0])
        XCTAssertNil(try XCTUnwrap(read.history["grad_norm"]?.first)[1])
    }
}
