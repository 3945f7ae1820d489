#!/usr/bin/env bash
# A CUDA build runs on the cpu where no CUDA library exists: it links none (cudart statically, cuBLAS and NCCL
# opened with dlopen on first use), and with the toolkit hidden (a private mount namespace, an empty directory
# mounted over it) --version, a cpu verify and a cpu comm-bench work while --device cuda fails with a message.
# usage: hidden_cuda_libs.sh AUTODIST MODEL
set -euo pipefail
bin=$1; model=$2
fail() { echo "FAIL: $*"; exit 1; }
if ! "$bin" --version | grep -q "backends: cpu, cuda"; then
  echo "not a CUDA build: nothing to hide"
  exit 0
fi
linked=$(ldd "$bin" | grep -E "libcudart|libcublas|libnccl|libcuda\.so" || true)
[ -z "$linked" ] || fail "the binary links CUDA libraries: $linked"
echo "ldd: no CUDA library linked"
cuda=$(readlink -f /usr/local/cuda 2>/dev/null || true)
if [ -z "$cuda" ] || [ ! -d "$cuda" ] || ! unshare -m true 2>/dev/null; then
  echo "the toolkit was not hidden (no /usr/local/cuda, or no unshare -m here): ldd checked only"
  exit 0
fi
empty=$(mktemp -d); trap 'rmdir "$empty"' EXIT
# shellcheck disable=SC2016
unshare -m bash -c '
  set -euo pipefail
  cuda=$1 empty=$2 bin=$3 model=$4
  mount --bind "$empty" "$cuda"
  [ -z "$(ls -A "$cuda")" ] || { echo "FAIL: $cuda still visible"; exit 1; }
  "$bin" --version
  "$bin" verify --model "$model" --device cpu | tail -1
  "$bin" comm-bench --op all_reduce -b 8 -e 1K --check | grep "Out of bounds values : 0 OK"
  if out=$("$bin" generate --model "$model" --prompt-ids 1 --device cuda 2>&1); then
    echo "FAIL: --device cuda ran with the toolkit hidden"; exit 1
  fi
  echo "$out" | tail -1
  echo "$out" | grep -qE "no CUDA device is visible|cuBLAS|CUDA" || { echo "FAIL: no clear message"; exit 1; }
' _ "$cuda" "$empty" "$bin" "$model"
echo "hidden toolkit ($cuda): cpu runs work, --device cuda refused with a message"
