#!/usr/bin/env bash
# usage: weights_check.sh AUTODIST FIXTURES_DIR MODE [MPIRUN]
#   bigconfig: a config.json edited far above its checkpoint (hidden_size 64 -> 2^26) is refused naming the tensor
#              and both shapes, before anything is allocated (not std::bad_alloc)
#   unread:    Qwen3 weights under a Llama architecture: one warning naming the count and the first q/k norms;
#              the same checkpoint as Qwen3 at tp 2 x pp 2 (each rank reads only its layers) warns on no rank
set -u
bin=$1; data=$2; mode=$3; mpi=${4:-mpirun --oversubscribe}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
gen=(generate --prompt-ids 1,2,3 --max-output-length 2)
cp -r "$data/models/qwen3-tiny" "$tmp/m"
case $mode in
  bigconfig)
    sed -i 's/"hidden_size": 64/"hidden_size": 67108864/' "$tmp/m/config.json"
    grep -q '"hidden_size": 67108864' "$tmp/m/config.json" || fail "config not edited"
    out=$(timeout 120 "$bin" "${gen[@]}" --model "$tmp/m" 2>&1); rc=$?
    echo "$out" | tail -5
    [ $rc -ne 0 ] && [ $rc -lt 124 ] || fail "exit $rc, expected a clean failure"
    grep -q "bad_alloc" <<<"$out" && fail "allocation failure instead of a shape error"
    grep -Eq "weight 'model.embed_tokens.weight' in '[^']*': the config implies shape \[1024, 67108864\], the checkpoint holds \[1024, 64\]" <<<"$out" ||
      fail "no message naming the tensor and both shapes"
    ;;
  unread)
    sed -i 's/Qwen3ForCausalLM/LlamaForCausalLM/' "$tmp/m/config.json"
    out=$(timeout 120 "$bin" "${gen[@]}" --model "$tmp/m" 2>&1); rc=$?
    [ $rc -eq 0 ] || { echo "$out"; fail "exit $rc"; }
    w=$(grep -c "read by no weight" <<<"$out")
    [ "$w" = 1 ] || { echo "$out"; fail "$w warnings, expected 1"; }
    grep -E "read by no weight" <<<"$out"
    grep -Eq "8 tensors of the checkpoint in '[^']*' are read by no weight of LlamaForCausalLM .*: model\.layers\.0\.self_attn\.k_norm\.weight, model\.layers\.0\.self_attn\.q_norm\.weight, " <<<"$out" ||
      fail "the warning does not give the count and the first names"
    out=$(timeout 200 $mpi -np 4 "$bin" "${gen[@]}" --model "$data/models/qwen3-tiny" --tp 2 --pp 2 2>&1); rc=$?
    [ $rc -eq 0 ] || { echo "$out"; fail "tp 2 pp 2: exit $rc"; }
    grep -q "read by no weight" <<<"$out" && { echo "$out"; fail "tp 2 pp 2 of a matching checkpoint warns"; }
    echo "tp 2 pp 2 of the matching checkpoint: no warning"
    ;;
  *) fail "unknown mode $mode" ;;
esac
echo ok
