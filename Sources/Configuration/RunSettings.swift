/// Where a run's metrics go besides metrics.jsonl, which is always written (`report_to`).
public enum ReportDestination: String, CaseIterable, Sendable {
    case jsonl, tensorboard, mlflow
}

/// `lr_scheduler_type`: the learning-rate schedules (`LearningRateSchedule` computes them).
public enum LearningRateScheduleKind: String, CaseIterable, Sendable {
    case reference, constant, linear, cosine
    case constantWithWarmup = "constant_with_warmup"
    case cosineWithMinLR = "cosine_with_min_lr"
}

/// `progress`: how `ProgressDisplay` shows a run's progress.
public enum ProgressMode: String, Sendable { case auto, bar, lines, off }
