#!/usr/bin/env bash
# A chat prompt through the tokenizer, the engine and back to text; results.jsonl holds both.
# usage: generate_text.sh AUTODIST TOKENIZER_DIR WORK_DIR
set -euo pipefail
bin=$1; tok=$2; work=$3
[ -f "$tok/tokenizer.json" ] || { echo "tokenizer files missing in $tok: run make deps"; exit 1; }
rm -rf "$work"; mkdir -p "$work"
"$bin" synth --preset tiny --out "$work/model" --seed 3 >/dev/null
"$bin" generate --model "$work/model" --tokenizer "$tok" --chat --prompt "Hello, how are you?" \
  --max-output-length 6 --min-output-length 6 --output-dir "$work/out" --log-level warn | tee "$work/stdout"
grep -q '^\[0\] text: ' "$work/stdout"
# ChatML: <|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n
python3 - "$work/out/results.jsonl" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
want = [151644, 872, 198, 9707, 11, 1246, 525, 498, 30, 151645, 198, 151644, 77091, 198]
assert r["prompt_ids"] == want, r["prompt_ids"]
assert r["prompt_text"] == "Hello, how are you?"
assert len(r["output_ids"]) == 6 and isinstance(r["output_text"], str)
print("ok: chat prompt ids match ChatML, output text decoded")
PY
