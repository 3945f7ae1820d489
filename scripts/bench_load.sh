#!/usr/bin/env bash
# Weight loading against the disk: load time of synthetic checkpoints (and of their shard cache) next to
# `cat FILES > /dev/null` on the same files, page cache dropped (cold) and warm, in one run. A benchmark, not a test.
#
# usage: scripts/bench_load.sh [--presets "qwen3-4b qwen2.5-7b"] [--dir DIR] [--repeat N] [--csv FILE] [--label L]
#   needs root (echo 3 > /proc/sys/vm/drop_caches); models are synthesized once into DIR (default /work/bench_models)
#   load time: the "MB of weights in N ms" line that every rank logs after loading (runtime/layout.cpp), from
#   `autodist generate --dtype bf16` of one token.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${AUTODIST:-$here/build/autodist}
presets="qwen3-4b qwen2.5-7b"; dir=/work/bench_models; repeat=2; csv=""; label=$(git -C "$here" rev-parse --short HEAD)
while [ $# -gt 0 ]; do
  case $1 in
    --presets) presets=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --csv) csv=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
[ -n "$csv" ] || csv=$dir/bench_load-$label.csv
[ "$(id -u)" = 0 ] || { echo "needs root to drop the page cache"; exit 2; }
mkdir -p "$dir"
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
# seconds of `cat FILES`
cat_s() { local t0; t0=$(now); cat "$@" > /dev/null; echo "$(now) - $t0" | bc -l; }
# seconds of one load: the logged load time of rank 0
load_s() {
  local m=$1 out ms extra=()
  [ -n "$2" ] && extra=(--cache-dir "$2")
  out=$("$bin" generate --model "$m" --dtype bf16 --prompt-ids 1 --max-output-length 1 "${extra[@]}" 2>&1) ||
    { echo "$out" >&2; return 1; }
  ms=$(grep -oE 'MB of weights in [0-9]+ ms' <<<"$out" | grep -oE '[0-9]+ ms' | grep -oE '[0-9]+')
  echo "$ms / 1000" | bc -l
}
echo "label,preset,source,state,run,bytes,load_s,cat_s,ratio" > "$csv"
printf '%-11s %-10s %-5s %3s %8s %8s %8s %6s\n' preset source state run GB load_s cat_s ratio
for p in $presets; do
  m=$dir/$p
  [ -f "$m/model.safetensors" ] || "$bin" synth --preset "$p" --dtype bf16 --out "$m"
  cache=$dir/cache-$p
  rm -rf "$cache"; mkdir -p "$cache"
  load_s "$m" "$cache" > /dev/null  # writes the shard cache
  cfile=$(find "$cache" -name 'rank0.safetensors')
  for source in checkpoint cache; do
    if [ $source = checkpoint ]; then files=("$m"/*.safetensors); c=""; else files=("$cfile"); c=$cache; fi
    bytes=$(cat "${files[@]}" | wc -c)
    for r in $(seq "$repeat"); do
      for state in cold warm; do
        [ $state = cold ] && drop || cat "${files[@]}" > /dev/null
        cs=$(cat_s "${files[@]}")
        [ $state = cold ] && drop || cat "${files[@]}" > /dev/null
        ls=$(load_s "$m" "$c")
        ratio=$(echo "$ls / $cs" | bc -l)
        printf '%-11s %-10s %-5s %3s %8.2f %8.2f %8.2f %6.2f\n' "$p" $source $state "$r" "$(echo "$bytes/1000000000" | bc -l)" "$ls" "$cs" "$ratio"
        echo "$label,$p,$source,$state,$r,$bytes,$ls,$cs,$ratio" >> "$csv"
      done
    done
  done
done
echo "csv: $csv"
