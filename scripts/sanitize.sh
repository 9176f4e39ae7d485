#!/usr/bin/env bash
# `make sanitize`: the tensor core (kernels and worker pool), tape and plugin host test suites
# under AddressSanitizer and then ThreadSanitizer, and, under AddressSanitizer with its leak
# checker, whole dpohost runs (SFT, DPO from it with samples, the report, plugins list). Each
# sanitizer builds in its own folder (.build-address, .build-thread) and only those three test
# targets (DPOHOST_TEST_TARGETS, read by Package.swift); every dpohost the tests start is the
# sanitized build too. Any report fails the run (README, "What dpohost guarantees").
set -euo pipefail
cd "$(dirname "$0")/.."
export DPOHOST_TEST_TARGETS="TensorCoreTests AutogradTests PluginHostTests"
export LSAN_OPTIONS="suppressions=$PWD/Tests/Sanitizers/lsan.supp"
export TSAN_OPTIONS="halt_on_error=1:suppressions=$PWD/Tests/Sanitizers/tsan.supp"
for sanitizer in ${SANITIZERS:-address thread}; do
  echo "sanitize: $sanitizer"
  build=".build-$sanitizer"
  # ThreadSanitizer's runtime is linked into each executable; exporting its symbols lets the
  # sanitized plugins dpohost and the tests load resolve against it.
  links=(); [ "$sanitizer" = thread ] && links=(-Xlinker --export-dynamic)
  swift build --build-tests --sanitize="$sanitizer" --scratch-path "$build" "${links[@]}" 2> >(grep -v "Cannot export local symbol" >&2)
  # Leaks are looked for in whole runs below, not in the suite: XCTest on Linux never frees
  # its test cases, so every suite "leaks".
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=0" \
    swift test --skip-build --disable-swift-testing --sanitize="$sanitizer" --scratch-path "$build" "${links[@]}"
  [ "$sanitizer" = address ] || continue
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
  bin="$build/debug/dpohost"
  runs=$(mktemp -d)
  small=(n_examples=24 n_eval_examples=16 eval_every=16 minimum_log_interval_secs=0)
  "$bin" plugins list > /dev/null
  "$bin" train --config examples/demo/sft.yaml "${small[@]}" local_run_dir="$runs/sft" > "$runs/sft.log"
  "$bin" train --config examples/demo/dpo.yaml "${small[@]}" loss.beta=0.1 n_eval_model_samples=2 local_run_dir="$runs/dpo" \
    model.archive="$runs/sft/LATEST" > "$runs/dpo.log"
  "$bin" report "$runs/dpo" > /dev/null
  rm -rf "$runs"
  echo "sanitize: whole runs under AddressSanitizer and LeakSanitizer: clean"
done
