#!/usr/bin/env bash
# A checkpoint saved from the bare model (GPT2Model: "h.0.ln_1.weight", no "transformer." prefix) loads like the
# LMHead one: the fixture with its tensors renamed verifies against the same reference.
# usage: bare_names.sh AUTODIST MODEL_DIR PREFIX
set -euo pipefail
bin=$1; model=$2; prefix=$3
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
cp "$model"/config.json "$model"/reference.safetensors "$dir"/
python3 - "$model/model.safetensors" "$dir/model.safetensors" "$prefix" <<'PY'
import json, struct, sys
src, dst, prefix = sys.argv[1:]
b = open(src, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
h = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in h.items()}
s = json.dumps(h).encode(); s += b' ' * ((8 - (len(s) + 8) % 8) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(s)) + s + data)
PY
if python3 -c "import json,struct,sys; f=open('$dir/model.safetensors','rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); sys.exit(any(k.startswith('$prefix') for k in h))"; then
  echo "renamed: no tensor starts with $prefix"
else
  echo "the rename left $prefix names"; exit 1
fi
"$bin" verify --model "$dir" --log-level warn
