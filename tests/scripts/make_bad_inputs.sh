#!/usr/bin/env bash
# Builds broken copies of a good model directory, one defect each.  usage: make_bad_inputs.sh GOOD_DIR OUT_DIR
set -euo pipefail
good=$1; out=$2
rm -rf "$out"; mkdir -p "$out"
mk() { mkdir -p "$out/$1"; cp "$good"/config.json "$good"/model.safetensors "$out/$1/"; chmod -R u+w "$out/$1"; }
mk no_config; rm "$out/no_config/config.json"
mk unknown_arch; sed -i 's/LlamaForCausalLM/BertModel/' "$out/unknown_arch/config.json"
mk bad_offsets; mk missing_weight; mk misshaped_weight
mk nan_logits
mk no_weights; rm "$out/no_weights/model.safetensors"
# Llama's mlp_bias is honoured (the loader asks for the bias tensors), not silently dropped
mk mlp_bias; sed -i 's/"mlp_bias": false/"mlp_bias": true/' "$out/mlp_bias/config.json"
mk gelu_act; sed -i 's/"hidden_act": "silu"/"hidden_act": "gelu"/' "$out/gelu_act/config.json"
mk truncated; size=$(stat -c %s "$good/model.safetensors"); truncate -s $((size - 1000)) "$out/truncated/model.safetensors"
mk header_past_eof; printf '\xff\xff\xff\x00\x00\x00\x00\x00' | dd of="$out/header_past_eof/model.safetensors" bs=1 count=8 conv=notrunc status=none
python3 - "$good" "$out" <<'PY'
import json, struct, sys, os
good, out = sys.argv[1], sys.argv[2]
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8+n]), b[8+n:]
def save(p, h, data):
    s = json.dumps(h).encode(); s += b' ' * ((8 - (len(s) + 8) % 8) % 8)
    open(p, 'wb').write(struct.pack('<Q', len(s)) + s + data)
def packed(h, data):  # the tensors laid end to end again (a well-formed file, as the loader demands)
    h = json.loads(json.dumps(h)); out = b''
    for k in sorted((k for k in h if k != '__metadata__'), key=lambda k: h[k]['data_offsets'][0]):
        a, b = h[k]['data_offsets']; h[k]['data_offsets'] = [len(out), len(out) + b - a]; out += data[a:b]
    return h, out
h, data = load(os.path.join(good, 'model.safetensors'))
# offsets past the data section
h2 = json.loads(json.dumps(h)); k = 'model.norm.weight'; a, b = h2[k]['data_offsets']
h2[k]['data_offsets'] = [len(data) + 64, len(data) + 64 + (b - a)]
save(os.path.join(out, 'bad_offsets', 'model.safetensors'), h2, data)
# a missing tensor
h3 = json.loads(json.dumps(h)); del h3['model.layers.1.mlp.up_proj.weight']
save(os.path.join(out, 'missing_weight', 'model.safetensors'), *packed(h3, data))
# a mis-shaped tensor: q_proj declared [32, 64] over half its bytes
h4 = json.loads(json.dumps(h)); k = 'model.layers.0.self_attn.q_proj.weight'; a, b = h4[k]['data_offsets']
h4[k]['shape'] = [32, 64]; h4[k]['data_offsets'] = [a, a + (b - a) // 2]
save(os.path.join(out, 'misshaped_weight', 'model.safetensors'), *packed(h4, data))
# a NaN in the final norm: every logit is NaN (the head must stop, not emit token 0)
k = 'model.norm.weight'; a, b = h[k]['data_offsets']; assert h[k]['dtype'] == 'F32'
nan = bytearray(data); nan[a:a + 4] = struct.pack('<f', float('nan'))
save(os.path.join(out, 'nan_logits', 'model.safetensors'), h, bytes(nan))
open(os.path.join(out, 'long_prompt.txt'), 'w').write(','.join(['1'] * 1100) + '\n')
PY
