#!/usr/bin/env bash
# One shard cache on a filesystem both hosts share (run under with_cluster.sh, 2 hosts x 2 slots):
#   shard_cache_on_cluster.sh AUTODIST MODEL SINGLE_DUMP CACHE_DIR
# tp 2 x pp 2 with the ranks placed by slot writes the cache (4 rank files, one writer each); the same layout with
# mpirun --map-by node (world ranks 0, 2 on h0) reads every rank's slice from it (entries are keyed by the logical
# rank, not the world rank or the host) and still equals the single-rank logits.
set -euo pipefail
bin=$1 model=$2 single=$3 cache=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$cache"
"$here/verify_on_cluster.sh" "$bin" "$model" "$single" 2 2 --cache-dir "$cache"
n=$(find "$cache" -name 'rank*.safetensors' | wc -l)
[ "$n" = 4 ] || { echo "FAILED: the cache holds $n rank files, expected 4"; find "$cache"; exit 1; }
log=$(timeout 120 mpirun -np 4 --oversubscribe $MPIRUN_ARGS --map-by node "$bin" generate --model "$model" --tp 2 \
      --pp 2 --prompt-ids 1,2,3 --max-output-length 4 --cache-dir "$cache" 2>&1) || { echo "$log"; exit 1; }
hits=$(grep -cE "read 0 bytes from the checkpoint, [1-9][0-9]* bytes from the shard cache" <<<"$log" || true)
[ "$hits" = 4 ] || { echo "$log"; echo "FAILED: $hits of 4 ranks read their weights from the shard cache"; exit 1; }
MPIRUN_ARGS="$MPIRUN_ARGS --map-by node" "$here/verify_on_cluster.sh" "$bin" "$model" "$single" 2 2 --cache-dir "$cache"
echo "shard cache shared by 2 hosts: written once (4 rank files), read by all 4 ranks placed round-robin"
