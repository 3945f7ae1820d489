#!/usr/bin/env bash
# usage: nonregular_check.sh AUTODIST SHARDED_MODEL_DIR TOKENIZER_DIR
# A FIFO or a directory in place of config.json, generation_config.json, the index, a shard, tokenizer.json or
# tokenizer_config.json is refused by name at once: none may block open() (each command gets 20 s).
set -u
bin=$1; src=$2; tok=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check NAME REGEX CMD...
  local name=$1 re=$2; shift 2
  local out rc
  out=$(timeout 20 "$@" 2>&1); rc=$?
  if [ $rc -eq 124 ]; then echo "FAIL $name: hung (killed after 20 s)"; fail=1; return; fi
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "FAIL $name: exit $rc"; echo "$out"; fail=1; return; fi
  if ! grep -Eq -- "$re" <<<"$out"; then echo "FAIL $name: message does not match /$re/"; echo "$out"; fail=1; return; fi
  echo "ok $name: $(grep -E -- "$re" <<<"$out" | head -1)"
}
fresh() { rm -rf "$tmp/m"; cp -r "$src" "$tmp/m"; }
shard=$(ls "$src" | grep -m1 -- '-of-.*\.safetensors$')
for f in config.json generation_config.json model.safetensors.index.json "$shard"; do
  fresh; rm "$tmp/m/$f"; mkfifo "$tmp/m/$f"
  check "fifo_$f" "error: [^ ]*/$f is a FIFO: expected a regular file" "$bin" inspect --model "$tmp/m"
done
fresh; rm "$tmp/m/$shard"; mkdir "$tmp/m/$shard"
check "dir_$shard" "$shard is a directory: expected a regular file" "$bin" inspect --model "$tmp/m"
for f in tokenizer.json tokenizer_config.json; do
  rm -rf "$tmp/t"; cp -r "$tok" "$tmp/t"; rm -f "$tmp/t/$f"; mkfifo "$tmp/t/$f"
  check "fifo_$f" "$f is a FIFO: expected a regular file" "$bin" tokenize --tokenizer "$tmp/t" --text hi
done
exit $fail
