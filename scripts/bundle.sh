#!/usr/bin/env bash
# `make bundle`: a relocatable tarball of autodist for a machine that lacks its libraries (the device tool's GPU
# machine: CUDA 13 and PyTorch, but no Open MPI, HDF5, OpenBLAS or Boost, and no package registry).
#   BUILD/bundle.tgz: autodist_bundle/
#     bin/     autodist, autodist_cuda_tests, autodist_mpi_tests (stripped), orterun (= mpirun), orted
#     lib/     every shared library those and Open MPI's components load, except the C library's, libstdc++,
#              libgcc_s and the GPU driver (the target's are newer and compatible); found through $ORIGIN rpaths
#     lib/x86_64-linux-gnu/openmpi/lib/openmpi3/, share/openmpi/   Open MPI's components and help files, found
#              through OPAL_PREFIX (bin/env.sh sets it, and PATH)
#     models/  the HF fixtures and a tiny synthetic model (synth --preset tiny), unless --lean
# usage: scripts/bundle.sh [--lean] [BUILD]   after a CUDA build (cmake -S . -B BUILD && cmake --build BUILD).
# --lean leaves the models out (scripts/gpu_check.sh reads the fixtures from the repo, which travels anyway): the
# device tool carries at most 64 MiB, repo included.
set -euo pipefail
lean=0
[ "${1:-}" = "--lean" ] && { lean=1; shift; }
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$build/autodist" ] || { echo "bundle: no $build/autodist: build first"; exit 1; }
"$build/autodist" --version | grep -q "cuda" || echo "bundle: note: $build/autodist is not a CUDA build"
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
b=$stage/autodist_bundle
mkdir -p "$b/bin" "$b/lib" "$b/share"
for x in autodist tests/cuda/autodist_cuda_tests tests/autodist_mpi_tests; do
  [ -x "$build/$x" ] || { echo "bundle: $build/$x is missing (cmake --build $build builds it)"; exit 1; }
  strip -o "$b/bin/$(basename "$x")" "$build/$x"
done
# Open MPI 4 in Debian's layout, relocated by OPAL_PREFIX.
comps=lib/x86_64-linux-gnu/openmpi/lib/openmpi3
cp /usr/bin/orterun /usr/bin/orted "$b/bin/"
ln -s orterun "$b/bin/mpirun"
mkdir -p "$b/$comps"
cp -a "/usr/$comps/." "$b/$comps/"
# Components for networks and launchers the target has no libraries for.
rm -f "$b/$comps"/mca_*_{ucx,ofi,openib,psm,psm2,slurm}.so
cp -a /usr/share/openmpi "$b/share/"
ldd "$b"/bin/autodist "$b"/bin/autodist_* "$b"/bin/orte* "$b/$comps"/*.so 2>/dev/null |
  awk '/=> \// {print $3}' | sort -u | while read -r lib; do
    case $(basename "$lib") in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda.so*)
        continue ;;
    esac
    cp -L "$lib" "$b/lib/"
  done
# $ORIGIN rpaths (DT_RPATH: it also serves the libraries' own dependencies), where patchelf is installed.
if command -v patchelf >/dev/null; then
  for f in "$b"/bin/autodist "$b"/bin/autodist_* "$b"/bin/orte*; do patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$f"; done
  for f in "$b"/lib/*.so*; do patchelf --force-rpath --set-rpath '$ORIGIN' "$f"; done
  for f in "$b/$comps"/*.so; do patchelf --force-rpath --set-rpath '$ORIGIN/../../../..' "$f"; done
  missing=$(env -u LD_LIBRARY_PATH ldd "$b"/bin/autodist "$b"/bin/autodist_* 2>&1 | grep "not found" || true)
else
  echo "bundle: patchelf not found: libraries are found through LD_LIBRARY_PATH (bin/env.sh sets it)"
  missing=$(LD_LIBRARY_PATH="$b/lib" ldd "$b"/bin/autodist "$b"/bin/autodist_* 2>&1 | grep "not found" || true)
fi
[ -z "$missing" ] || { echo "bundle: unresolved: $missing"; exit 1; }
cat >"$b/bin/env.sh" <<'ENV'
# source autodist_bundle/bin/env.sh: the bundle's programs on PATH, Open MPI relocated to it.
_b=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$_b/bin:$PATH OPAL_PREFIX=$_b LD_LIBRARY_PATH=$_b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_mca_base_component_show_load_errors=0
# Without ssh or rsh, Open MPI's rsh launcher refuses to start even on one machine: launch locally only.
command -v ssh >/dev/null || command -v rsh >/dev/null || export OMPI_MCA_plm=isolated
unset _b
ENV
if [ $lean = 0 ]; then
  mkdir -p "$b/models"
  cp -a "$repo/tests/data/models/." "$b/models/"
  "$build/autodist" synth --preset tiny --out "$b/models/tiny" >/dev/null
fi
tar -C "$stage" -czf "$build/bundle.tgz" autodist_bundle
size=$(du -m "$build/bundle.tgz" | cut -f1)
echo "bundle: $build/bundle.tgz (${size} MB, $(ls "$b/lib" | wc -l) libraries$([ $lean = 1 ] && echo ", lean"))"
[ "$size" -le 60 ] || { echo "bundle: over 60 MB"; exit 1; }
