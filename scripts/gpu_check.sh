#!/usr/bin/env bash
# The GPU check of what has landed, as one prepared run for the device tool (about 5 minutes on the H200):
#   run(command="scripts/gpu_check.sh", carry=["build/bundle.tgz"], timeout_s=600)
# after `scripts/bundle.sh --lean` here (make bundle-lean). It unpacks the bundle (binaries, libraries, Open MPI
# relocated through OPAL_PREFIX), finds libnccl (the machine has it only inside PyTorch's wheels), then runs, each
# step bounded:
#   env            nvidia-smi, the binaries' libraries resolved, autodist --version
#   cuda_tests     every CUDA kernel against the cpu backend (tests/cuda)
#   sanitizer      compute-sanitizer memcheck and racecheck on the attention, norm, gemm and head kernels' tests
#                  (SKIP where the runtime refuses the device, as gVisor does)
#   verify_<m>     every fixture on one GPU against HF's logits in f32 (atol 1e-3) and bf16 weights (rtol 3e-2);
#                  the single-GPU f32 logits dumped for the steps below; qwen3-tiny again with AUTODIST_CUDA_SYNC=1
#   nccl_world1    comm-bench --backend nccl --check at world 1 (every primitive through NCCL)
#   staged_np2     comm-bench --device cuda --check on 2 ranks of the one GPU (the mpi channel staging)
#   nccl_shared    --backend nccl with 2 ranks on one GPU must fail naming them (NCCL refuses it)
#   tp2, pp2, tp2pp2, sp_ring, sp_pairwise   verify under mpirun on the one GPU (mpi channel), against HF and
#                  against the single-GPU logits (atol 1e-4)
#   bench_<model>  autodist bench on one GPU, bf16 weights: decode ms/step at batch 1 and 8, prefill of 512 and
#                  2048 tokens, synthetic qwen3-0.6b, then qwen2.5-7b while the time left allows (each prints its table)
# Writes $OUT/summary.txt (one line per step: PASS/FAIL/SKIP, seconds) and $OUT/logs.tgz, and prints the summary.
# Self-test without a GPU: scripts/gpu_check.sh --device cpu (the same steps on the cpu; GPU-only steps skipped),
# from the bundle when build/bundle.tgz exists, else (or with GPU_CHECK_LOCAL=1) from GPU_CHECK_BUILD (build).
set -uo pipefail
device=cuda
[ "${1:-}" = "--device" ] && device=${2:?--device cpu|cuda}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=${OUT:-$repo/build/gpu_check_out}
mkdir -p "$out"
work=$(mktemp -d)
logs=$work/logs
mkdir -p "$logs"
summary=$out/summary.txt
: >"$summary"

build=${GPU_CHECK_BUILD:-$repo/build}
if [ -f "$build/bundle.tgz" ] && [ "${GPU_CHECK_LOCAL:-0}" != 1 ]; then
  tar -C "$work" -xzf "$build/bundle.tgz"
  # shellcheck disable=SC1091
  source "$work/autodist_bundle/bin/env.sh"
  bin=$work/autodist_bundle/bin
  cuda_tests=$bin/autodist_cuda_tests
else  # the build tree, with this machine's own libraries (the self-test here)
  bin=$build
  cuda_tests=$build/tests/cuda/autodist_cuda_tests
fi
# libnccl: the toolkit's, else PyTorch's wheel (nvidia-nccl-cu13).
if ! ldconfig -p | grep -q libnccl.so.2; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib \
           $(python3 -c 'import nvidia.nccl as m; print(*[p + "/lib" for p in m.__path__])' 2>/dev/null); do
    if [ -e "$d/libnccl.so.2" ]; then export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$d; break; fi
  done
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_mca_base_component_show_load_errors=0
AD=$bin/autodist
MPIRUN="mpirun --oversubscribe --bind-to none"
models=tests/data/models

n=0
# step NAME TIMEOUT CMD...: runs CMD with a time bound, logs it, records PASS/FAIL.
step() {
  local name=$1 limit=$2; shift 2
  n=$((n + 1))
  local log=$logs/$(printf '%02d' $n)_$name.log t0=$SECONDS rc
  echo "\$ $*" >"$log"
  timeout "$limit" bash -c '"$@"' _ "$@" >>"$log" 2>&1  # bash -c: the exported helper functions run too
  rc=$?
  local verdict=PASS
  [ $rc = 0 ] || verdict="FAIL (rc $rc$([ $rc = 124 ] && echo ", timed out after ${limit} s"))"
  printf '%-14s %-34s %4d s  %s\n' "$name" "$verdict" $((SECONDS - t0)) "$(tail -1 "$log" | cut -c1-110)" | tee -a "$summary"
}
skip() { n=$((n + 1)); printf '%-14s %-34s %4s    %s\n' "$1" SKIP - "$2" | tee -a "$summary"; }
expect_fail() {  # expect_fail REGEX CMD...: passes when CMD fails and prints REGEX
  local re=$1; shift
  local o
  if o=$("$@" 2>&1); then echo "$o"; echo "expected a failure"; return 1; fi
  echo "$o" | tail -3
  echo "$o" | grep -qE -e "$re" || { echo "expected /$re/"; return 1; }
}

on_gpu() { [ "$device" = cuda ]; }
# sanitize TOOL: compute-sanitizer on the kernel tests of attention, norms, gemm and the head; passes (saying so)
# where the runtime refuses the device.
sanitize() {
  local o rc
  o=$(compute-sanitizer --tool "$1" --error-exitcode 3 "$cuda_tests" "--test-suite=cuda kernels" \
        "-tc=*gemm*,*rmsnorm*,*layernorm*,*attention*,*head*" 2>&1)
  rc=$?
  echo "$o" | tail -40
  if echo "$o" | grep -q "Device not supported"; then echo "SKIP: the runtime refuses the device"; return 0; fi
  return $rc
}
export -f expect_fail sanitize
export cuda_tests
step env 60 bash -c "{ nvidia-smi -L || true; } && ldd '$AD' && ! ldd '$AD' | grep 'not found' && '$AD' --version"
if on_gpu; then
  step cuda_tests 300 "$cuda_tests"
  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do step "sanitizer_$tool" 240 sanitize $tool; done
  else
    skip sanitizer "compute-sanitizer not on PATH"
  fi
else
  skip cuda_tests "no GPU"
  skip sanitizer "no GPU"
fi
for m in qwen3-tiny llama-tiny qwen2-tiny mistral-tiny gpt2-tiny opt-tiny; do
  step "verify_$m" 120 "$AD" verify --model $models/$m --device $device --dtype f32 \
    --dump-logits "$work/$m.single.safetensors"
  step "verify_${m}_bf16" 120 "$AD" verify --model $models/$m --device $device --dtype bf16
done
step verify_sync 120 env AUTODIST_CUDA_SYNC=1 "$AD" verify --model $models/qwen3-tiny --device $device --dtype f32
if on_gpu; then
  step nccl_world1 180 $MPIRUN -np 1 "$AD" comm-bench --backend nccl --op all --check -b 8 -e 16M -f 4 --iters 5 \
    --warmup 2 --output-dir "$work/nccl1"
  step staged_np2 180 $MPIRUN -np 2 "$AD" comm-bench --device cuda --op all --check -b 8 -e 4M -f 8 --iters 3 --warmup 1
  step nccl_shared 60 expect_fail "NCCL refuses two ranks on one GPU" $MPIRUN -np 2 "$AD" comm-bench --backend nccl \
    --op all_reduce -b 8 -e 8
else
  skip nccl_world1 "no GPU"
  step staged_np2 180 $MPIRUN -np 2 "$AD" comm-bench --device cpu --op all --check -b 8 -e 4M -f 8 --iters 3 --warmup 1
  step nccl_refused 60 expect_fail "--comm nccl moves device buffers|no NCCL" $MPIRUN -np 2 "$AD" generate \
    --model $models/llama-tiny --prompt-ids 1 --tp 2 --comm nccl
fi
vp=tests/scripts/verify_parallel.sh
q=$models/qwen3-tiny
single=$work/qwen3-tiny.single.safetensors
export MPIRUN_ARGS="--bind-to none"
step tp2 180 $vp "$AD" $q "$single" 2 1 --device $device --dtype f32
step pp2 180 $vp "$AD" $q "$single" 1 2 --device $device --dtype f32
step tp2pp2 240 $vp "$AD" $q "$single" 2 2 --device $device --dtype f32
step sp_ring 180 $vp "$AD" $q "$single" 1 2 --device $device --dtype f32 --sp-chunk-size 8 --kv-sync ring
step sp_pairwise 180 $vp "$AD" $q "$single" 1 2 --device $device --dtype f32 --sp-chunk-size 8 --kv-sync pairwise
# bench MODEL: synthesise it (bf16, random weights: speed does not depend on the values), then decode at batch 1
# and 8 and prefill 512 and 2048 tokens; the model is deleted after (disk).
bench() {
  local m=$1 dir=$work/bench_$1
  "$AD" synth --preset "$m" --out "$dir" --dtype bf16 >/dev/null || return 1
  for b in 1 8; do "$AD" bench --model "$dir" --device cuda --dtype bf16 --prompt-len 128 --output-len 64 \
                     --batch-size $b || return 1; done
  for p in 512 2048; do "$AD" bench --model "$dir" --device cuda --dtype bf16 --prompt-len $p --output-len 1 \
                          || return 1; done
  rm -rf "$dir"
}
export -f bench
export AD work
if on_gpu; then
  step bench_qwen3-0.6b 180 bash -c "bench qwen3-0.6b"
  if [ $SECONDS -lt 330 ]; then step bench_qwen2.5-7b 240 bash -c "bench qwen2.5-7b"
  else skip bench_qwen2.5-7b "$SECONDS s spent: left for a later call"; fi
else
  skip bench "no GPU"
fi
tar -C "$work" -czf "$out/logs.tgz" logs
echo "gpu_check: $(grep -c PASS "$summary") passed, $(grep -c FAIL "$summary") failed, $(grep -c SKIP "$summary") skipped;" \
  "logs in $out/logs.tgz" | tee -a "$summary"
rm -rf "$work"
! grep -q FAIL "$summary"
