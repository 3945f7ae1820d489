#!/usr/bin/env bash
# Packs what the GPU machine (the device tool's H200: CUDA 13, PyTorch, no Open MPI, HDF5, OpenBLAS or Boost, no
# package registry) needs to run scripts/gpu_check.sh into one file, BUILD/gpu_bundle.tgz (~25 MB), for the
# device tool's `carry`: the stripped binaries (autodist, the CUDA and MPI test binaries), every shared library they
# and Open MPI's components load except the C library's, libstdc++ and the GPU driver, and Open MPI's runtime
# (orterun, orted, the components it loads, its help files), laid out so that OPAL_PREFIX relocates it.
# usage: scripts/gpu_bundle.sh [BUILD]      (after a CUDA build: cmake -S . -B BUILD && cmake --build BUILD)
set -euo pipefail
build=${1:-build}
[ -x "$build/autodist" ] || { echo "gpu_bundle: no $build/autodist: build first"; exit 1; }
"$build/autodist" --version | grep -q "cuda" || { echo "gpu_bundle: $build/autodist is not a CUDA build"; exit 1; }
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
b=$stage/gpu_bundle
mkdir -p "$b/bin" "$b/lib" "$b/share"
for x in autodist tests/cuda/autodist_cuda_tests tests/autodist_mpi_tests; do
  [ -x "$build/$x" ] || { echo "gpu_bundle: $build/$x is missing (cmake --build $build builds it)"; exit 1; }
  strip -o "$b/bin/$(basename "$x")" "$build/$x"
done
# Open MPI 4 (Debian's layout under OPAL_PREFIX: lib/x86_64-linux-gnu/openmpi/lib/openmpi3 holds the components).
ompi=/usr/lib/x86_64-linux-gnu/openmpi/lib
cp /usr/bin/orterun /usr/bin/orted "$b/bin/"
ln -s orterun "$b/bin/mpirun"
mkdir -p "$b/lib/x86_64-linux-gnu/openmpi/lib"
cp -a "$ompi/openmpi3" "$b/lib/x86_64-linux-gnu/openmpi/lib/"
# Components for networks and launchers the machine does not have (their libraries are not there either).
rm -f "$b"/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/mca_*_{ucx,ofi,openib,psm,psm2,slurm}.so
cp -a /usr/share/openmpi "$b/share/"
# Shared libraries: everything the binaries and the components resolve to, but the C library's own (the machine's
# is newer and compatible), libstdc++ / libgcc_s (likewise) and the driver.
ldd "$b"/bin/autodist "$b"/bin/autodist_* "$b"/bin/orte* "$b"/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/*.so 2>/dev/null |
  awk '/=> \// {print $3}' | sort -u | while read -r lib; do
    case $(basename "$lib") in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda.so*)
        continue ;;
    esac
    cp -L "$lib" "$b/lib/"
  done
missing=$(LD_LIBRARY_PATH="$b/lib" ldd "$b"/bin/autodist "$b"/bin/autodist_* 2>&1 | grep "not found" || true)
[ -z "$missing" ] || { echo "gpu_bundle: unresolved: $missing"; exit 1; }
tar -C "$stage" -czf "$build/gpu_bundle.tgz" gpu_bundle
echo "gpu_bundle: $build/gpu_bundle.tgz ($(du -h "$build/gpu_bundle.tgz" | cut -f1), $(ls "$b/lib" | wc -l) libraries)"
