#!/usr/bin/env bash
# Runs a Python script with an interpreter that has h5py (Debian's /usr/bin/python3 when the python3
# on PATH, e.g. pyenv, lacks it).
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c "import h5py" 2>/dev/null; then exec "$py" "$@"; fi
done
echo "python3 with h5py not found (apt-get install python3-h5py)"; exit 1
