#!/usr/bin/env bash
# The GPU check of what has landed, as one prepared run for the device tool (about 5 minutes on the H200):
#   run(command="scripts/gpu_check.sh", carry=["build/gpu_bundle.tgz"], timeout_s=600)
# after `scripts/gpu_bundle.sh` here. It unpacks the bundle (binaries, libraries, Open MPI relocated through
# OPAL_PREFIX), finds libnccl (the machine has it only inside PyTorch's wheels), then runs, each step bounded:
#   env            nvidia-smi, the binaries' libraries resolved, autodist --version
#   cuda_tests     every CUDA kernel against the cpu backend (tests/cuda)
#   verify_<m>     every fixture on one GPU against HF's logits; the single-GPU logits dumped for the next steps
#   nccl_world1    comm-bench --backend nccl --check at world 1 (every primitive through NCCL)
#   staged_np2     comm-bench --device cuda --check on 2 ranks of the one GPU (the mpi channel staging)
#   nccl_shared    --backend nccl with 2 ranks on one GPU must fail naming them (NCCL refuses it)
#   tp2, pp2, tp2pp2, sp_ring, sp_pairwise   verify under mpirun on the one GPU (mpi channel), against HF and
#                  against the single-GPU logits (atol 1e-4)
#   bench_decode   ms per decode step, one GPU, a synthetic Qwen2.5-0.5B in bf16
# Writes $OUT/summary.txt (one line per step: PASS/FAIL/SKIP, seconds) and $OUT/logs.tgz, and prints the summary.
# Self-test without a GPU: scripts/gpu_check.sh --device cpu (the same steps on the cpu; GPU-only steps skipped),
# from the bundle when build/gpu_bundle.tgz exists, else (or with GPU_CHECK_LOCAL=1) from GPU_CHECK_BUILD (build).
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
if [ -f "$build/gpu_bundle.tgz" ] && [ "${GPU_CHECK_LOCAL:-0}" != 1 ]; then
  tar -C "$work" -xzf "$build/gpu_bundle.tgz"
  B=$work/gpu_bundle
  export PATH=$B/bin:$PATH OPAL_PREFIX=$B LD_LIBRARY_PATH=$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  bin=$B/bin
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
  timeout "$limit" "$@" >>"$log" 2>&1
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
  echo "$o" | grep -qE "$re" || { echo "expected /$re/"; return 1; }
}

on_gpu() { [ "$device" = cuda ]; }
step env 60 bash -c "{ nvidia-smi -L || true; } && ldd '$AD' | grep -E 'not found|mpi|hdf5|openblas|cudart' && '$AD' --version"
if on_gpu; then
  step cuda_tests 300 "$cuda_tests"
else
  skip cuda_tests "no GPU"
fi
for m in qwen3-tiny llama-tiny qwen2-tiny mistral-tiny gpt2-tiny opt-tiny; do
  step "verify_$m" 120 "$AD" verify --model $models/$m --device $device --dump-logits "$work/$m.single.safetensors"
done
if on_gpu; then
  step nccl_world1 180 $MPIRUN -np 1 "$AD" comm-bench --backend nccl --op all --check -b 8 -e 16M -f 4 --iters 5 \
    --warmup 2 --output-dir "$work/nccl1"
  step staged_np2 180 $MPIRUN -np 2 "$AD" comm-bench --device cuda --op all --check -b 8 -e 4M -f 8 --iters 3 --warmup 1
  step nccl_shared 60 expect_fail "NCCL refuses two ranks on one GPU" $MPIRUN -np 2 "$AD" comm-bench --backend nccl \
    --op all_reduce -b 8 -e 8
else
  skip nccl_world1 "no GPU"
  step staged_np2 180 $MPIRUN -np 2 "$AD" comm-bench --device cpu --op all --check -b 8 -e 4M -f 8 --iters 3 --warmup 1
  skip nccl_shared "no GPU"
fi
vp=tests/scripts/verify_parallel.sh
q=$models/qwen3-tiny
single=$work/qwen3-tiny.single.safetensors
export MPIRUN_ARGS="--bind-to none"
step tp2 180 $vp "$AD" $q "$single" 2 1 --device $device
step pp2 180 $vp "$AD" $q "$single" 1 2 --device $device
step tp2pp2 240 $vp "$AD" $q "$single" 2 2 --device $device
step sp_ring 180 $vp "$AD" $q "$single" 1 2 --device $device --sp-chunk-size 8 --kv-sync ring
step sp_pairwise 180 $vp "$AD" $q "$single" 1 2 --device $device --sp-chunk-size 8 --kv-sync pairwise
if on_gpu; then
  step bench_decode 240 bash -c "'$AD' synth --preset qwen2.5-0.5b --out '$work/q05' --dtype bf16 >/dev/null &&
    '$AD' bench --model '$work/q05' --device cuda --dtype bf16 --prompt-len 128 --output-len 64 --batch-size 1"
else
  skip bench_decode "no GPU"
fi
tar -C "$work" -czf "$out/logs.tgz" logs
echo "gpu_check: $(grep -c PASS "$summary") passed, $(grep -c FAIL "$summary") failed, $(grep -c SKIP "$summary") skipped;" \
  "logs in $out/logs.tgz" | tee -a "$summary"
rm -rf "$work"
! grep -q FAIL "$summary"
