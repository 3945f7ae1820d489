#!/usr/bin/env bash
# The performance model's report: plans on paper for Qwen2.5-7B and Llama-3.1-70B shapes on one node of 8 H100 and
# on two such nodes with 400 Gb/s between them (roofline profiles, configs/clusters/), beside the validation runs
# given (folders of scripts/validate_perf_model.sh), rendered by experiments/perf_report.py.
#   scripts/perf_report.sh [--validation DIR]... [--out DIR] [--bin AUTODIST]
#   (defaults: no validation, notebooks_out/perf-model, build/autodist; BATCH, PROMPT, OUTPUT: the workload,
#   8 x 2048 prompt tokens, 128 output tokens)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/autodist out=$here/notebooks_out/perf-model val=()
while [ $# -gt 0 ]; do
  case $1 in
    --validation) val+=(--validation "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "usage: scripts/perf_report.sh [--validation DIR]... [--out DIR] [--bin AUTODIST]" >&2; exit 2 ;;
  esac
done
batch=${BATCH:-8} prompt=${PROMPT:-2048} output=${OUTPUT:-128}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
entries=()
for m in qwen2.5-7b llama-3.1-70b; do
  "$bin" synth --preset "$m" --config-only --out "$work/$m" >/dev/null
  "$bin" profile --model "$work/$m" --roofline h100-sxm --dtype bf16 --max-tp 16 --batch "1,$batch" \
    --lengths "64,128,256,$prompt" --max-gemm-rows $((batch * prompt)) --out "$work/$m.h100.json" >/dev/null
  for c in h100x8 h100x8x2; do
    for by in ttft tpot; do
      "$bin" plan --model "$work/$m" --profile "$work/$m.h100.json" --dtype bf16 --cluster "$here/configs/clusters/$c.yaml" \
        --batch "$batch" --prompt-len "$prompt" --max-output-length "$output" --rank-by "$by" --json > "$work/$m.$c.$by.json"
      entries+=("$m|$c|$by")
    done
  done
done
mkdir -p "$work/paper"
python3 - "$work" "$batch" "$prompt" "$output" "${entries[@]}" > "$work/paper/plans.json" <<'PY'
import json, sys
work, batch, prompt, output, *entries = sys.argv[1:]
assumptions = [
    "Devices: H100 SXM 80 GB, 989 TFLOP/s dense bf16 at 70% usable, 3350 GB/s at 85% usable, 4 us per kernel "
    "(autodist profile --roofline h100-sxm); weights bf16, KV cache and GEMM activations 16-bit.",
    "Links: NVLink 3600 Gb/s each way and 1 us per hop inside a node; 400 Gb/s and 8 us per hop between nodes, "
    "each node's link shared by all its traffic (configs/clusters/h100x8*.yaml).",
    "Collectives as the mpi data channel runs them (ring all_reduce: 2 (p-1) hops), f32 activations on the wire; "
    "NCCL's tree/NVLS algorithms would be faster at small sizes.",
    "Schedules as autodist runs them (docs/perf-model.md): no continuous batching, every sequence produces all "
    "its tokens, SP+PP decodes redundantly on every rank after the KV sync.",
    "No device was measured: the figures are the roofline's, a lower bound on real kernels' times.",
]
out = []
for e in entries:
    m, c, by = e.split("|")
    out.append({"model": m, "cluster": f"configs/clusters/{c}.yaml", "device": "H100 SXM (roofline)",
                "rank_by": by, "workload": {"batch": int(batch), "prompt": int(prompt), "output": int(output)},
                "assumptions": assumptions, "plan": json.load(open(f"{work}/{m}.{c}.{by}.json"))})
print(json.dumps(out))
PY
"$here/tests/sweep/py.sh" "$here/experiments/perf_report.py" "${val[@]}" --paper "$work/paper" --out "$out"
