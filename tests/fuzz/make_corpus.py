#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ from the project's own fixtures (run from the repo root:
python3 tests/fuzz/make_corpus.py [--trace TRACE.h5 ...]). The seeds are committed; rerun this when the fixtures change.
The tokenizer seeds are the real Qwen3 and Llama 3 tokenizers (data/tokenizers, 'make deps') cut to their first
vocab entries, so they keep the real normalizer, pre-tokenizer, added tokens and chat templates in a few KB."""
import argparse, glob, json, os, random, shutil, struct

SEP = b"\n#~#\n"  # fuzz_util.h: kSep
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] -> file bytes, header padded to 8 as the writers do."""
    h, off, blob = {}, 0, b""
    if metadata:
        h["__metadata__"] = metadata
    for name, dt, shape, raw in tensors:
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blob += raw
    hs = json.dumps(h, separators=(",", ":")).encode()
    hs += b" " * ((-len(hs)) % 8)
    return struct.pack("<Q", len(hs)) + hs + blob


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def half(n, word=0x3C00):
    return struct.pack(f"<{n}H", *([word] * n))


def safetensors_seeds():
    put("fuzz_safetensors", "llama_like.safetensors", safetensors([
        ("model.embed_tokens.weight", "BF16", [4, 3], half(12, 0x3F80)),
        ("model.layers.0.self_attn.q_proj.weight", "F16", [3, 3], half(9)),
        ("model.layers.0.input_layernorm.weight", "F32", [3], f32(1, 1, 1)),
        ("model.norm.weight", "F32", [3], f32(0.5, -2, 3e38)),
    ], {"format": "pt"}))
    put("fuzz_safetensors", "ints_and_scalars.safetensors", safetensors([  # each aligned for its dtype
        ("ids64", "I64", [3], struct.pack("<3q", 0, -1, 2**63 - 1)),
        ("scalar", "F32", [], f32(7)),
        ("empty", "F32", [0, 4], b""),
        ("ids32", "I32", [2, 2], struct.pack("<4i", 1, -1, 2**31 - 1, -2**31)),
    ]))
    put("fuzz_safetensors", "empty_header.safetensors", safetensors([]))
    # The header of a real fixture (data cut: the reader must say "truncated", not read past the end).
    real = read("tests/data/models/qwen3-tiny/model.safetensors")
    hlen = struct.unpack("<Q", real[:8])[0]
    put("fuzz_safetensors", "qwen3_tiny_header_only.safetensors", real[:8 + hlen])


def index_seeds():
    a = safetensors([("model.embed_tokens.weight", "F32", [2, 2], f32(1, 2, 3, 4)),
                     ("model.norm.weight", "BF16", [2], half(2, 0x3F80))])
    b = safetensors([("lm_head.weight", "F16", [2, 2], half(4)),
                     ("model.layers.0.mlp.down_proj.weight", "F32", [1, 2], f32(5, 6))])
    wm = {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
          "model.norm.weight": "model-00001-of-00002.safetensors",
          "lm_head.weight": "model-00002-of-00002.safetensors",
          "model.layers.0.mlp.down_proj.weight": "model-00002-of-00002.safetensors"}
    idx = json.dumps({"metadata": {"total_size": 40}, "weight_map": wm}, indent=2).encode()
    put("fuzz_safetensors_index", "two_shards",
        idx + SEP + b"model-00001-of-00002.safetensors\n" + a + SEP + b"model-00002-of-00002.safetensors\n" + b)
    one = {"weight_map": {"model.embed_tokens.weight": "s.safetensors"}}
    put("fuzz_safetensors_index", "one_shard", json.dumps(one).encode() + SEP + b"s.safetensors\n" + a)
    # The real index of the sharded fixture (its shards left out: the reader must name the missing one).
    put("fuzz_safetensors_index", "qwen2_tiny_index_only", read("tests/data/models/qwen2-tiny/model.safetensors.index.json"))


def config_seeds():
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/data/hub_configs/*.config.json"))):
        name = os.path.basename(p)[: -len(".config.json")]
        gen = p.replace(".config.json", ".generation_config.json")
        data = read(p) + (SEP + read(gen) if os.path.exists(gen) else b"")
        put("fuzz_config", name, data)
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/data/configs/*.config.json"))):
        put("fuzz_config", os.path.basename(p)[: -len(".config.json")], read(p))
    for d in sorted(glob.glob(os.path.join(ROOT, "tests/data/models/*"))):
        data = read(os.path.join(d, "config.json"))
        if os.path.exists(os.path.join(d, "generation_config.json")):
            data += SEP + read(os.path.join(d, "generation_config.json"))
        put("fuzz_config", "fixture_" + os.path.basename(d), data)


def cut_tokenizer(path, n_vocab):
    """The tokenizer.json at path with its vocab cut to ids < n_vocab and the merges among them."""
    j = json.loads(read(path))
    vocab = {t: i for t, i in j["model"]["vocab"].items() if i < n_vocab}
    merges = []
    for m in j["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    j["model"]["vocab"] = vocab
    j["model"]["merges"] = merges
    # The first added tokens, renumbered right after the cut vocab (ids past it would make every load size a
    # 150k-entry table).
    j["added_tokens"] = [dict(t, id=n_vocab + k) for k, t in enumerate(j["added_tokens"][:24])]
    return json.dumps(j, ensure_ascii=False, separators=(",", ":")).encode()


def cut_config(path):
    c = json.loads(read(path))
    keep = {k: c[k] for k in ("chat_template", "eos_token", "bos_token") if k in c}
    return json.dumps(keep, ensure_ascii=False).encode()


def tokenizer_seeds():
    text = "Hello world, <|im_end|> it's 2024!\n\tdon't  \u4f60\u597d \U0001F600 caf\u00e9 <|end|><x> x<y> <w>w".encode()
    put("fuzz_tokenizer", "tiny", read("tests/data/tokenizers/tiny/tokenizer.json") + SEP + text)
    for bad in ("unigram.json", "wordpiece.json", "malformed.json"):
        put("fuzz_tokenizer", "bad_" + bad[:-5], read("tests/data/tokenizers/bad/" + bad) + SEP + b"abc")
    for name in ("qwen3", "llama3"):
        d = os.path.join("data", "tokenizers", name)
        if not os.path.exists(os.path.join(ROOT, d, "tokenizer.json")):
            print(f"skipping {name}: {d} is missing (make deps fetches it)")
            continue
        tok = cut_tokenizer(os.path.join(d, "tokenizer.json"), 600)
        put("fuzz_tokenizer", name + "_cut", tok + SEP + text)
        put("fuzz_tokenizer", name + "_cut_chat", tok + SEP + text + SEP + cut_config(os.path.join(d, "tokenizer_config.json")))


def sweep_seeds():
    for p in sorted(glob.glob(os.path.join(ROOT, "configs/sweeps/*.yaml")) + glob.glob(os.path.join(ROOT, "tests/sweep/*.yaml"))
                    + glob.glob(os.path.join(ROOT, "tests/sweep/bad/*.yaml"))):
        put("fuzz_sweep_yaml", os.path.relpath(p, ROOT).replace("/", "_"), read(p))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trace", action="append", default=[],
                    help="a small trace.h5 for the fuzz_trace seeds (a generate run, a comm-bench run)")
    a = ap.parse_args()
    for t in ("fuzz_safetensors", "fuzz_safetensors_index", "fuzz_config", "fuzz_tokenizer", "fuzz_sweep_yaml"):
        shutil.rmtree(os.path.join(OUT, t), ignore_errors=True)
    safetensors_seeds()
    index_seeds()
    config_seeds()
    tokenizer_seeds()
    sweep_seeds()
    # fuzz_trace reads its input with FuzzedDataProvider (fuzz_trace.cpp): any bytes are an input; a real trace's
    # bytes are one more.
    shutil.rmtree(os.path.join(OUT, "fuzz_trace"), ignore_errors=True)
    rng = random.Random(1)
    for n in (64, 512, 4096):
        put("fuzz_trace", f"random{n}", bytes(rng.randrange(256) for _ in range(n)))
    for k, t in enumerate(a.trace):
        put("fuzz_trace", f"trace{k}.h5", open(t, "rb").read())


if __name__ == "__main__":
    main()
