#!/bin/sh
# FSDPTrainer and TensorParallelTrainer at 1, 2 and 3 ranks, one rank (one thread) per host, the
# hosts made as network namespaces on this machine (scripts/netns/hosts.sh; TCP only, mpirun on
# host 1 as on a cluster's first machine), FSDP with its collectives overlapped with compute and
# without: examples and tokens per second and, per update, the bytes of the collectives' buffers, the seconds
# rank 0 waited on them and those that ran hidden behind compute (docs/performance.md, "Across hosts").
#
#   scripts/bench/multihost.sh            (root; iproute2; a Python with torch and transformers,
#                                          $PYTHON, to write the random-weight model)
# $DPOHOST picks the binary (default .build/release/dpohost); $EXAMPLES the examples per run.
set -eu
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
BIN=${DPOHOST:-.build/release/dpohost}
EXAMPLES=${EXAMPLES:-48}
work=$(mktemp -d)
trap 'scripts/netns/hosts.sh down >/dev/null 2>&1; rm -rf "$work"' EXIT

# A GPT-NeoX of 8 layers, hidden 384, 12 heads (so 1, 2 and 3 ranks all split it), with the
# fixture Pythia's tokenizer (vocabulary 1000), random weights.
"$PY" - "$work/model" <<'PY'
import json, shutil, sys, torch, transformers
src = "Tests/Fixtures/models/pythia-tiny"
config = json.load(open(f"{src}/config.json"))
config.update(hidden_size=384, num_hidden_layers=8, num_attention_heads=12, intermediate_size=1536)
torch.manual_seed(0)
model = transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(**config))
model.save_pretrained(sys.argv[1], safe_serialization=True)
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(f"{src}/{f}", sys.argv[1])
print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters", file=sys.stderr)
PY

scripts/netns/hosts.sh up 3
printf 'trainer               overlap  ranks  examples/s  tokens/s  MiB/update  waited s/update  share of update  hidden s/update\n'
for setting in FSDPTrainer:true FSDPTrainer:false TensorParallelTrainer:-; do
    trainer=${setting%%:*} overlap=${setting#*:}
    extra=""; [ "$overlap" = - ] || extra="fsdp_overlap=$overlap"
    for n in 1 2 3; do
        printf '' > "$work/hosts"
        i=1
        while [ "$i" -le "$n" ]; do printf '10.231.0.%s slots=1\n' "$i" >> "$work/hosts"; i=$((i + 1)); done
        run="$work/run-$trainer-$overlap-$n" log="$work/log-$trainer-$overlap-$n"
        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 \
        ip netns exec dph-h1 unshare --uts /bin/sh -c 'hostname dph-h1 && exec "$@"' sh \
            mpirun -np "$n" --hostfile "$work/hosts" --mca plm_rsh_agent scripts/netns/rsh \
            --mca oob_tcp_if_include 10.231.0.0/24 --mca btl_tcp_if_include 10.231.0.0/24 --mca btl self,tcp \
            "$BIN" train model=pythia-tiny model.name_or_path="$work/model" 'datasets=[hh]' \
            dataset_options.hh.data_dir=Tests/Fixtures/data/hh loss=dpo loss.beta=0.1 exp_name=multihost \
            local_run_dir="$run" batch_size=6 eval_batch_size=6 n_examples="$EXAMPLES" n_eval_examples=0 max_length=128 \
            max_prompt_length=64 minimum_log_interval_secs=0 progress=off threads=1 trainer="$trainer" $extra \
            > "$log" 2>&1 || { echo "$trainer at $n ranks failed:"; tail -5 "$log"; continue; }
        # Rank 0's line of the run's communication report (docs/multi-host.md).
        "$PY" - "$run/metrics.jsonl" "$log" "$trainer" "$overlap" "$n" <<'PY'
import json, re, statistics, sys
train = [r["values"] for r in map(json.loads, open(sys.argv[1])) if r.get("split") == "train"][2:]
rates, tokens = [v["examples_per_second"] for v in train], [v["tokens_per_second"] for v in train]
report = re.compile(r"communication rank 0 .*?: ([\d.]+) MiB per update in \d+ collectives, ([\d.]+) s per update waiting"
                    r" on them \((\d+)% of its [\d.]+ s\)(?:; ([\d.]+) s per update of collectives hidden)?")
found = [m for m in map(report.match, open(sys.argv[2])) if m]
mib, waited, share, hidden = found[0].groups() if found else ("-", "-", "-", None)
print(f"{sys.argv[3]:<22}{sys.argv[4]:>7}  {sys.argv[5]:>5}  {statistics.median(rates):>10.2f}  {statistics.median(tokens):>8.0f}  {mib:>10}  {waited:>15}"
      f"  {(share + '%') if found else '-':>15}  {hidden or '-':>15}")
PY
    done
done
