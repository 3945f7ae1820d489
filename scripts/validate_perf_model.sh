#!/usr/bin/env bash
# Validates the performance model (docs/perf-model.md): a synthetic model, its profile, a comm-bench of the links,
# then every configuration below measured with `autodist bench` and predicted with `autodist predict`; prints
# config / measured / predicted / error % for TTFT and time per output token with the median and worst errors,
# and writes them to OUT/validation.csv. A benchmark, not a test: the numbers depend on the machine and its load.
#
# usage: scripts/validate_perf_model.sh [--out DIR] [--bin PATH] [--quick] [--repredict]
#   --repredict  keep the measurements (and comm-bench) of OUT/validation.csv, profile and predict again
#                (KEEP_PROFILE=1: the profile too)
#   MPIRUN       launcher up to the rank count (default "mpirun --oversubscribe -np"); the count is appended, e.g.
#                MPIRUN="$(tests/cluster/mpirun_line) -np" for the namespace cluster
#   CLUSTER      predict's cluster flags (default: this machine, one host with the config's ranks), e.g.
#                CLUSTER="--cluster cluster.yaml" or CLUSTER="--hosts 2 --ranks-per-host 2 --link-gbps 1"
#   ITERS        timed bench runs per configuration, the best reported (default 2)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=/tmp/autodist_perf_validation
bin=$here/build/autodist
quick=0
repredict=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --repredict) repredict=1; shift ;;
    *) echo "unknown argument $1 (expected --out DIR, --bin PATH, --quick, --repredict)" >&2; exit 2 ;;
  esac
done
MPIRUN=${MPIRUN:-mpirun --oversubscribe -np}
CLUSTER=${CLUSTER:-}
ITERS=${ITERS:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1  # one BLAS thread per rank: the profile is timed the same way
mkdir -p "$out"
model=$out/model
# The machine may be shared: before each measurement wait (up to QUIET_WAIT seconds) for a second in which the
# cores are at least 90% idle, so other work disturbs the numbers as little as it can.
QUIET_WAIT=${QUIET_WAIT:-120}
wait_quiet() {
  local t0=$SECONDS a b
  while [ $((SECONDS - t0)) -lt "$QUIET_WAIT" ]; do
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local busy=0 idle=0 i
    for i in 1 2 3 6 7 8; do busy=$((busy + ${b[$i]} - ${a[$i]})); done
    idle=$(( ${b[4]} - ${a[4]} + ${b[5]} - ${a[5]} ))
    [ $((idle * 100)) -ge $((90 * (idle + busy))) ] && return 0
  done
  echo "   (the machine stayed busy for ${QUIET_WAIT} s; measuring anyway)"
}
# Big enough that a layer's GEMMs take milliseconds and its activations hundreds of KB (compute and communication
# both visible), small enough that a configuration runs in seconds on 2 cores.
if [ ! -f "$model/model.safetensors" ]; then
  cat > "$out/synth_config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816,
 "num_hidden_layers": 8, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 8192,
 "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
 "tie_word_embeddings": false}
EOF
  "$bin" synth --config "$out/synth_config.json" --out "$model" --dtype bf16
fi
echo "== profile"
if [ $repredict = 1 ] && [ -n "${KEEP_PROFILE:-}" ] && [ -f "$out/profile.json" ]; then
  echo "(kept $out/profile.json)"
else
wait_quiet
"$bin" profile --model "$model" --out "$out/profile.json" --batch 1,8 --lengths 32,64,128,256 --max-tp 4 2>&1 | tail -1
fi
echo "== comm-bench (intra-host link)"
mkdir -p "$out/comm"
mkdir -p "$out/comm4"
if [ $repredict = 0 ] || [ ! -f "$out/comm4/comm_bench.csv" ]; then
  $MPIRUN 2 "$bin" comm-bench --op sendrecv -b 1K -e 8M -f 4 --output-dir "$out/comm" > "$out/comm/table.txt" 2>&1 ||
    { cat "$out/comm/table.txt"; exit 1; }
  # 4 ranks: the all_reduce of an oversubscribed host (more ranks than cores), if this host is one.
  $MPIRUN 4 "$bin" comm-bench --op all_reduce -b 4K -e 4M -f 4 --output-dir "$out/comm4" > "$out/comm4/table.txt" 2>&1 ||
    { cat "$out/comm4/table.txt"; exit 1; }
fi
comm="--comm-csv $out/comm/comm_bench.csv --comm-csv $out/comm4/comm_bench.csv"

# name | ranks | layout flags | batch | prompt length | output length
configs=(
  "single|1|--tp 1|1|256|16"
  "tp2|2|--tp 2|1|256|16"
  "tp4|4|--tp 4|1|256|16"
  "pp2|2|--pp 2|1|256|16"
  "pp4|4|--pp 4|1|256|16"
  "tp2xpp2|4|--tp 2 --pp 2|1|256|16"
  "pp2 sp64 pairwise|2|--pp 2 --sp-chunk-size 64 --kv-sync pairwise|1|256|16"
  "pp2 sp64 ring|2|--pp 2 --sp-chunk-size 64 --kv-sync ring|1|256|16"
  "pp2 sp64 none|2|--pp 2 --sp-chunk-size 64 --kv-sync none|1|256|16"
  "pp2 sp128 pairwise|2|--pp 2 --sp-chunk-size 128 --kv-sync pairwise|1|256|16"
  "pp4 sp64 ring|4|--pp 4 --sp-chunk-size 64 --kv-sync ring|1|256|16"
  "pp4 sp32 pairwise|4|--pp 4 --sp-chunk-size 32 --kv-sync pairwise|1|256|16"
  "single b8|1|--tp 1|8|64|16"
  "tp2 b8|2|--tp 2|8|64|16"
  "pp2 mb2 b8|2|--pp 2 --micro-batches 2|8|64|16"
  "pp2 sp32 ring b8|2|--pp 2 --sp-chunk-size 32 --kv-sync ring|8|64|16"
  # The first configuration again: how far the machine itself drifted during the run (noise, other work).
  "single (again)|1|--tp 1|1|256|16"
)
[ $quick = 1 ] && configs=("${configs[@]:0:4}")
csv=$out/validation.csv
if [ $repredict = 1 ]; then
  [ -f "$csv" ] || { echo "--repredict: no $csv to take the measurements from" >&2; exit 2; }
  cp "$csv" "$out/measured.csv"
fi
echo "config,ranks,batch,prompt_len,output_len,measured_ttft_ms,predicted_ttft_ms,ttft_err_pct,measured_tpot_ms,predicted_tpot_ms,tpot_err_pct" > "$csv"
for c in "${configs[@]}"; do
  IFS='|' read -r name ranks flags batch plen olen <<<"$c"
  echo "== $name"
  if [ $repredict = 1 ]; then
    m_ttft=$(awk -F, -v n="\"$name\"" '$1 == n {print $6}' "$out/measured.csv")
    m_tpot=$(awk -F, -v n="\"$name\"" '$1 == n {print $9}' "$out/measured.csv")
    [ -n "$m_ttft" ] || { echo "--repredict: $name is not in $out/measured.csv" >&2; exit 2; }
  else
    wait_quiet
    args=(--model "$model" $flags --batch-size "$batch" --prompt-len "$plen" --output-len "$olen" --log-level warn)
    if [ "$ranks" = 1 ]; then
      line=$("$bin" bench "${args[@]}" --warmup 1 --iters "$ITERS" | tail -1)
    else
      line=$($MPIRUN "$ranks" "$bin" bench "${args[@]}" --warmup 1 --iters "$ITERS" | tail -1)
    fi
    # | device | tp | pp | mb | batch | prompt | output | prefill ms | (..) | tok/s | decode ms/step | ...
    m_ttft=$(awk -F'|' '{gsub(/ /, "", $9); print $9}' <<<"$line")
    m_tpot=$(awk -F'|' '{gsub(/ /, "", $12); print $12}' <<<"$line")
  fi
  pred=$("$bin" predict --model "$model" --profile "$out/profile.json" $flags --batch "$batch" --prompt-len "$plen" \
         --max-output-length "$olen" $comm $CLUSTER --json)
  python3 - "$name" "$ranks" "$batch" "$plen" "$olen" "$m_ttft" "$m_tpot" "$pred" >> "$csv" <<'EOF'
import json, sys
name, ranks, batch, plen, olen, mt, mp, pred = sys.argv[1:]
p = json.loads(pred)
mt, mp = float(mt), float(mp)
et = 100 * (p["ttft_ms"] - mt) / mt
ep = 100 * (p["tpot_ms"] - mp) / mp
print(f'"{name}",{ranks},{batch},{plen},{olen},{mt:.2f},{p["ttft_ms"]:.2f},{et:.1f},{mp:.3f},{p["tpot_ms"]:.3f},{ep:.1f}')
EOF
  tail -1 "$csv"
done
python3 - "$csv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print()
print("| config | batch | measured TTFT ms | predicted | error % | measured TPOT ms | predicted | error % |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f'| {r["config"]} | {r["batch"]} | {r["measured_ttft_ms"]} | {r["predicted_ttft_ms"]} | {r["ttft_err_pct"]} | '
          f'{r["measured_tpot_ms"]} | {r["predicted_tpot_ms"]} | {r["tpot_err_pct"]} |')
for k, n in (("ttft_err_pct", "TTFT"), ("tpot_err_pct", "TPOT")):
    e = [abs(float(r[k])) for r in rows]
    print(f"{n}: median |error| {statistics.median(e):.1f}%, worst {max(e):.1f}%")
EOF
echo "written: $csv"
