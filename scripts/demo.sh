#!/usr/bin/env bash
# The embedded default job: SFT, then DPO from the SFT checkpoint, on the tiny Pythia shipped in
# Tests/Fixtures and the demo preference set in examples/demo/data (HH layout), then a report.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DPOHOST:-.build/release/dpohost}
rm -rf runs/demo
"$bin" train --config examples/demo/sft.yaml
"$bin" train --config examples/demo/dpo.yaml loss.beta=0.1 model.archive=runs/demo/sft/LATEST
report=$("$bin" report runs/demo/dpo)
echo "report: $report"
