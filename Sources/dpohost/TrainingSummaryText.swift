import Foundation
import Training

/// What `train` prints when it ends: the last train and eval loss and reward accuracy, the
/// speed, the run directory and how to look at the run (the report, TensorBoard, MLflow).
enum TrainingSummaryText {
    static func lines(_ summary: TrainingSummary) -> [String] {
        func number(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
        func metrics(_ values: [String: Double], split: String) -> String {
            var text = "loss \(number(values["loss/\(split)"]))"
            if let accuracy = values["rewards_\(split)/accuracies"] { text += ", reward accuracy \(number(accuracy))" }
            return text
        }
        let speed = summary.seconds > 0 ? Double(summary.examplesTrained) / summary.seconds : 0
        var out = [String(format: "done: %d examples, %d updates; %d trained in %.1f s (%.2f examples/s)",
                          summary.examples, summary.updates, summary.examplesTrained, summary.seconds, speed)]
        if !summary.lastTrain.isEmpty { out.append("  last train step: " + metrics(summary.lastTrain, split: "train")) }
        if !summary.lastEval.isEmpty { out.append("  last eval:       " + metrics(summary.lastEval, split: "eval")) }
        let dir = summary.runDirectory.path
        out.append("run directory: \(dir)")
        out.append("  report:      dpohost report \(dir)")
        if summary.reportTo.contains(.tensorboard) { out.append("  tensorboard: tensorboard --logdir \(dir)") }
        if let store = summary.mlflowStore {
            out.append("  mlflow:      MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri \(store.path)")
        }
        return out
    }
}
