#!/usr/bin/env bash
# Validates the performance model (docs/perf-model.md): a synthetic model, its profile, a comm-bench of the links,
# then every configuration below measured with `autodist bench` and predicted with `autodist predict`; prints
# config / link / measured / predicted / error % for TTFT and time per output token with the median and worst
# errors, and writes them to OUT/validation.csv. A benchmark, not a test: the numbers depend on the machine and its
# load.
#
# usage: scripts/validate_perf_model.sh [--out DIR] [--bin PATH] [--quick] [--repredict] [--cluster [--rates R]]
#                                       [--plan RATES]
#   --cluster    on a 2-host namespace cluster (tests/cluster/cluster.sh, root), once per link rate of --rates
#                (default "off 1gbit 100mbit": unshaped, then tc tbf at 1 Gb/s and 100 Mb/s); the link between the
#                hosts is fitted from a comm-bench run across them at each rate. Without it: this machine, plain
#                mpirun, one host.
#   --plan RATES with --cluster: at each of these rates also run `autodist plan` for 2 ranks (one per host), measure
#                every layout it lists and say whether its first choice (by TTFT and by TPOT) is within 10% of the
#                best measured layout (OUT/plan.csv)
#   --repredict  keep the measurements (and comm-bench) of OUT/validation.csv (and OUT/plan.csv: layouts the plan
#                lists again), profile and predict again
#   KEEP_PROFILE=1  use OUT/profile.json if it is there instead of profiling again
#   MPIRUN       (without --cluster) launcher up to the rank count (default "mpirun --oversubscribe -np")
#   CLUSTER      (without --cluster) predict's cluster flags (default: this machine, one host with the config's
#                ranks), e.g. CLUSTER="--cluster cluster.yaml"
#   ITERS        timed bench runs per launch, the best reported (default 2)
#   LAUNCHES     launches per configuration, the best TTFT and the best TPOT of them kept (default 2): a launch's
#                ranks keep their placement and scheduling for its whole run, and on this VM launches differ by more
#                than runs (tp2 x pp2 on one host: 16.4-23.4 ms/token over 8 launches)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=/tmp/autodist_perf_validation
bin=$here/build/autodist
quick=0 repredict=0 on_cluster=0 rates="off 1gbit 100mbit" plan_rates=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --repredict) repredict=1; shift ;;
    --cluster) on_cluster=1; shift ;;
    --rates) rates=$2; shift 2 ;;
    --plan) plan_rates=$2; shift 2 ;;
    *) echo "unknown argument $1 (expected --out DIR, --bin PATH, --quick, --repredict, --cluster, --rates R, --plan R)" >&2
       exit 2 ;;
  esac
done
[ -z "$plan_rates" ] || [ $on_cluster = 1 ] || { echo "--plan needs --cluster" >&2; exit 2; }
MPIRUN=${MPIRUN:-mpirun --oversubscribe -np}
CLUSTER=${CLUSTER:-}
ITERS=${ITERS:-2}
LAUNCHES=${LAUNCHES:-2}
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
if [ -n "${KEEP_PROFILE:-}" ] && [ -f "$out/profile.json" ]; then
  echo "(kept $out/profile.json)"
else
  wait_quiet
  "$bin" profile --model "$model" --out "$out/profile.json" --batch 1,8 --lengths 32,64,128,256 --max-tp 4 2>&1 | tail -1
fi
echo "== comm-bench (intra-host link)"
mkdir -p "$out/comm" "$out/comm4"
if [ $repredict = 0 ] || [ ! -f "$out/comm4/comm_bench.csv" ]; then
  mpirun --oversubscribe -np 2 "$bin" comm-bench --op sendrecv -b 1K -e 8M -f 2 --output-dir "$out/comm" \
    > "$out/comm/table.txt" 2>&1 || { cat "$out/comm/table.txt"; exit 1; }
  # 4 ranks: the all_reduce of an oversubscribed host (more ranks than cores), if this host is one.
  mpirun --oversubscribe -np 4 "$bin" comm-bench --op all_reduce -b 4K -e 4M -f 4 --output-dir "$out/comm4" \
    > "$out/comm4/table.txt" 2>&1 || { cat "$out/comm4/table.txt"; exit 1; }
fi
comm="--comm-csv $out/comm/comm_bench.csv --comm-csv $out/comm4/comm_bench.csv"

# name | ranks | ranks per host (with --cluster) | layout flags | batch | prompt length | output length
if [ $on_cluster = 0 ]; then
  configs=(
    "single|1|1|--tp 1|1|256|16"
    "tp2|2|2|--tp 2|1|256|16"
    "tp4|4|4|--tp 4|1|256|16"
    "pp2|2|2|--pp 2|1|256|16"
    "pp4|4|4|--pp 4|1|256|16"
    "tp2xpp2|4|4|--tp 2 --pp 2|1|256|16"
    "pp2 sp64 pairwise|2|2|--pp 2 --sp-chunk-size 64 --kv-sync pairwise|1|256|16"
    "pp2 sp64 ring|2|2|--pp 2 --sp-chunk-size 64 --kv-sync ring|1|256|16"
    "pp2 sp64 none|2|2|--pp 2 --sp-chunk-size 64 --kv-sync none|1|256|16"
    "pp2 sp128 pairwise|2|2|--pp 2 --sp-chunk-size 128 --kv-sync pairwise|1|256|16"
    "pp4 sp64 ring|4|4|--pp 4 --sp-chunk-size 64 --kv-sync ring|1|256|16"
    "pp4 sp32 pairwise|4|4|--pp 4 --sp-chunk-size 32 --kv-sync pairwise|1|256|16"
    "single b8|1|1|--tp 1|8|64|16"
    "tp2 b8|2|2|--tp 2|8|64|16"
    "pp2 mb2 b8|2|2|--pp 2 --micro-batches 2|8|64|16"
    "pp2 sp32 ring b8|2|2|--pp 2 --sp-chunk-size 32 --kv-sync ring|8|64|16"
    # The first configuration again: how far the machine itself drifted during the run (noise, other work).
    "single (again)|1|1|--tp 1|1|256|16"
  )
  rates=local
else
  # Two hosts: pipelines and SP+PP with a stage per host, TP inside a host (tp2 x pp2) and across the link.
  configs=(
    "pp2|2|1|--pp 2|1|256|16"
    "tp2 across hosts|2|1|--tp 2|1|256|16"
    "tp2xpp2|4|2|--tp 2 --pp 2|1|256|16"
    "pp2 sp64 pairwise|2|1|--pp 2 --sp-chunk-size 64 --kv-sync pairwise|1|256|16"
    "pp2 sp64 ring|2|1|--pp 2 --sp-chunk-size 64 --kv-sync ring|1|256|16"
    "pp2 sp128 none|2|1|--pp 2 --sp-chunk-size 128 --kv-sync none|1|256|16"
    "pp2 mb2 b8|2|1|--pp 2 --micro-batches 2|8|64|16"
    "pp2 sp32 ring b8|2|1|--pp 2 --sp-chunk-size 32 --kv-sync ring|8|64|16"
  )
fi
[ $quick = 1 ] && configs=("${configs[@]:0:4}")

# The cluster of one rate: up (torn down on exit and before the next rate), the inter-host link measured.
cluster_name=pv$$
cluster_down() { [ $on_cluster = 0 ] || "$here/tests/cluster/cluster.sh" down --name "$cluster_name" 2>/dev/null || true; }
trap cluster_down EXIT
launcher() {  # RANKS PER_HOST: the launch line's words before the program
  if [ $on_cluster = 0 ]; then
    echo "$MPIRUN $1"
  else
    echo "mpirun $AD_CLUSTER_MPIRUN_ARGS -np $1 --map-by ppr:$2:node"
  fi
}
cluster_up() {  # RATE
  cluster_down
  local rargs=() env_file
  [ "$1" = off ] || rargs=(--rate "$1")
  env_file=$("$here/tests/cluster/cluster.sh" up 2 --slots 2 "${rargs[@]}" --name "$cluster_name" --owner $$) || exit $?
  # shellcheck source=/dev/null
  source "$env_file"
  local d=$out/comm_inter_$1
  mkdir -p "$d"
  if [ $repredict = 0 ] || [ ! -f "$d/comm_bench.csv" ]; then
    wait_quiet
    $(launcher 2 1) "$bin" comm-bench --op sendrecv -b 1K -e 4M -f 2 --output-dir "$d" > "$d/table.txt" 2>&1 ||
      { cat "$d/table.txt"; exit 1; }
  fi
}
cluster_flags() {  # RATE RANKS PER_HOST: predict's cluster for this configuration
  if [ $on_cluster = 0 ]; then
    echo "$CLUSTER"
    return
  fi
  local gbps
  case $1 in off) gbps=10 ;; *gbit) gbps=${1%gbit} ;; *mbit) gbps=$(python3 -c "print(${1%mbit} / 1000)") ;; esac
  # The namespace hosts are one machine: they share its cores and memory. The link is the one comm-bench fitted,
  # with the depth of its tbf bucket (cluster.sh's), which back-to-back messages do not see.
  local hosts=$(( $2 / $3 ))
  echo "--hosts $hosts --ranks-per-host $3 --hosts-per-machine $hosts --link-gbps $gbps --cores-per-host $(nproc)" \
       "--link-burst-kb $(awk -v b="${AD_CLUSTER_BURST_BYTES:-0}" 'BEGIN {print b / 1024}')" \
       "--comm-csv-inter $out/comm_inter_$1/comm_bench.csv"
}
measure() {  # RANKS PER_HOST FLAGS BATCH PLEN OLEN -> "ttft_ms tpot_ms"
  local args=(--model "$model" $3 --batch-size "$4" --prompt-len "$5" --output-len "$6" --log-level warn) line i
  local all=""
  for ((i = 0; i < LAUNCHES; ++i)); do
    wait_quiet >&2
    # </dev/null: mpirun forwards its stdin to rank 0, which would eat the caller's `while read` input.
    if [ "$1" = 1 ] && [ $on_cluster = 0 ]; then
      line=$("$bin" bench "${args[@]}" --warmup 1 --iters "$ITERS" </dev/null | tail -1)
    else
      line=$($(launcher "$1" "$2") "$bin" bench "${args[@]}" --warmup 1 --iters "$ITERS" </dev/null | tail -1)
    fi
    # | device | tp | pp | mb | batch | prompt | output | prefill ms | (..) | tok/s | decode ms/step | ...
    all+=$(awk -F'|' '{gsub(/ /, "", $9); gsub(/ /, "", $12); print $9, $12}' <<<"$line")$'\n'
  done
  # each figure's best launch; nothing (the caller fails) unless every launch printed its row
  awk -v want="$LAUNCHES" 'NF == 2 {n++; if (n == 1 || $1 < t) t = $1; if (n == 1 || $2 < p) p = $2}
       END {if (n == want) print t, p}' <<<"$all"
}

csv=$out/validation.csv
if [ $repredict = 1 ]; then
  [ -f "$csv" ] || { echo "--repredict: no $csv to take the measurements from" >&2; exit 2; }
  cp "$csv" "$out/measured.csv"
fi
echo "config,link,ranks,ranks_per_host,batch,prompt_len,output_len,measured_ttft_ms,predicted_ttft_ms,ttft_err_pct,measured_tpot_ms,predicted_tpot_ms,tpot_err_pct" > "$csv"
row() {  # NAME RATE RANKS PER_HOST BATCH PLEN OLEN M_TTFT M_TPOT PREDICTION_JSON -> a CSV line
  python3 - "$@" <<'EOF'
import json, sys
name, rate, ranks, per_host, batch, plen, olen, mt, mp, pred = sys.argv[1:]
p = json.loads(pred)
mt, mp = float(mt), float(mp)
et = 100 * (p["ttft_ms"] - mt) / mt
ep = 100 * (p["tpot_ms"] - mp) / mp
print(f'"{name}",{rate},{ranks},{per_host},{batch},{plen},{olen},{mt:.2f},{p["ttft_ms"]:.2f},{et:.1f},{mp:.3f},{p["tpot_ms"]:.3f},{ep:.1f}')
EOF
}
plan_csv=$out/plan.csv
if [ -n "$plan_rates" ]; then
  [ $repredict = 1 ] && [ -f "$plan_csv" ] && cp "$plan_csv" "$out/plan_measured.csv"
  echo "link,rank_by,layout,predicted_ms,measured_ms" > "$plan_csv"
fi
for rate in $rates; do
  [ $on_cluster = 0 ] || { echo "== cluster: 2 hosts, link ${rate}"; cluster_up "$rate"; }
  for c in "${configs[@]}"; do
    IFS='|' read -r name ranks per_host flags batch plen olen <<<"$c"
    echo "== $name ($rate)"
    if [ $repredict = 1 ]; then
      read -r m_ttft m_tpot < <(awk -F, -v n="\"$name\"" -v r="$rate" '$1 == n && $2 == r {print $8, $11}' \
                                  "$out/measured.csv")
      [ -n "${m_ttft:-}" ] || { echo "--repredict: $name ($rate) is not in $out/measured.csv" >&2; exit 2; }
    else
      read -r m_ttft m_tpot < <(measure "$ranks" "$per_host" "$flags" "$batch" "$plen" "$olen")
      [ -n "${m_tpot:-}" ] || { echo "the measurement of $name ($rate) failed" >&2; exit 1; }
    fi
    pred=$("$bin" predict --model "$model" --profile "$out/profile.json" $flags --batch "$batch" --prompt-len "$plen" \
           --max-output-length "$olen" $comm $(cluster_flags "$rate" "$ranks" "$per_host") --json)
    row "$name" "$rate" "$ranks" "$per_host" "$batch" "$plen" "$olen" "$m_ttft" "$m_tpot" "$pred" >> "$csv"
    tail -1 "$csv"
  done
  # The plan's layouts for 2 ranks (one per host), each measured: is the first choice the best?
  if [[ " $plan_rates " == *" $rate "* ]]; then
    "$bin" plan --model "$model" --profile "$out/profile.json" --batch 1 --prompt-len 256 --max-output-length 16 \
      $comm $(cluster_flags "$rate" 2 1) --json > "$out/plan_$rate.json"
    python3 - "$out/plan_$rate.json" > "$out/plan_$rate.txt" <<'EOF'
import json, sys
for l in json.load(open(sys.argv[1]))["layouts"]:
    f = f'--tp {l["tp"]} --pp {l["pp"]} --micro-batches {l["micro_batches"]}'
    if l["sp_chunk_size"]:
        f += f' --sp-chunk-size {l["sp_chunk_size"]} --kv-sync {l["kv_sync"]}'
    print(f'{l["layout"]}|{f}|{l["ttft_ms"]:.2f}|{l["tpot_ms"]:.3f}')
EOF
    while IFS='|' read -r name flags p_ttft p_tpot; do
      echo "== plan: $name ($rate)"
      m_ttft="" m_tpot=""
      if [ $repredict = 1 ] && [ -f "$out/plan_measured.csv" ]; then  # the measurements of the last run, if any
        m_ttft=$(awk -F, -v r="$rate" -v n="$name" '$1 == r && $2 == "ttft" && $3 == n {print $5}' "$out/plan_measured.csv")
        m_tpot=$(awk -F, -v r="$rate" -v n="$name" '$1 == r && $2 == "tpot" && $3 == n {print $5}' "$out/plan_measured.csv")
      fi
      [ -n "$m_tpot" ] || read -r m_ttft m_tpot < <(measure 2 1 "$flags" 1 256 16)
      [ -n "${m_tpot:-}" ] || { echo "the measurement of $name failed" >&2; exit 1; }
      echo "$rate,ttft,$name,$p_ttft,$m_ttft" >> "$plan_csv"
      echo "$rate,tpot,$name,$p_tpot,$m_tpot" >> "$plan_csv"
      echo "   predicted $p_ttft / $p_tpot ms, measured $m_ttft / $m_tpot ms"
    done < "$out/plan_$rate.txt"
  fi
done
cluster_down

python3 - "$csv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print()
print("| config | link | ranks/host | batch | measured TTFT ms | predicted | error % | measured TPOT ms | predicted | error % |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f'| {r["config"]} | {r["link"]} | {r["ranks_per_host"]} | {r["batch"]} | {r["measured_ttft_ms"]} | '
          f'{r["predicted_ttft_ms"]} | {r["ttft_err_pct"]} | {r["measured_tpot_ms"]} | {r["predicted_tpot_ms"]} | '
          f'{r["tpot_err_pct"]} |')
for k, n in (("ttft_err_pct", "TTFT"), ("tpot_err_pct", "TPOT")):
    e = [abs(float(r[k])) for r in rows]
    print(f"{n}: median |error| {statistics.median(e):.1f}% over {len(e)} configurations, worst {max(e):.1f}%")
EOF
echo "written: $csv"
if [ -n "$plan_rates" ]; then
  python3 - "$plan_csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print()
print("| link | ranked by | plan's first | its measured ms | best measured | ms | first / best |")
print("|---|---|---|---|---|---|---|")
for link in dict.fromkeys(r["link"] for r in rows):
    for by in ("ttft", "tpot"):
        rs = [r for r in rows if r["link"] == link and r["rank_by"] == by]
        # the plan's order is by its own figure of that kind
        first = min(rs, key=lambda r: float(r["predicted_ms"]))
        best = min(rs, key=lambda r: float(r["measured_ms"]))
        ratio = float(first["measured_ms"]) / float(best["measured_ms"])
        ok = "within 10%" if ratio <= 1.10 else "NOT within 10%"
        print(f'| {link} | {by} | {first["layout"]} | {first["measured_ms"]} | {best["layout"]} | '
              f'{best["measured_ms"]} | {ratio:.3f} ({ok}) |')
EOF
  echo "written: $plan_csv"
fi
