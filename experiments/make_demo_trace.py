#!/usr/bin/env python3
"""Writes a synthetic but realistic trace.h5 (docs/trace-format.md, version 1) for developing the report.

    python3 experiments/make_demo_trace.py --out /tmp/demo            # -> /tmp/demo/trace.h5
    python3 experiments/make_demo_trace.py --out /tmp/x.h5 --only-skipped

Runs written (in this order):
  * a sweep of generate-like runs over tp x pp = {1,2} x {1,2} at prompt_len 128 and 512
    (events load, prefill, step, decode, total per rank; stage s of a pipeline runs after stage s-1),
  * a skipped sweep point (0-row datasets),
  * SP+PP runs (tp 1, pp 2 and 4, sp_chunk_size 32/64, kv_sync pairwise/ring): per rank load, chunk,
    chunk_wait (stages > 0), prefill, sync_send + sync_recv (pairwise) or sync_round (ring), sync,
    decode, total, timed by a small pipeline model (chunk c on stage s starts when stage s-1 has sent it
    and stage s has finished chunk c-1; the KV sync thread starts with the prefill and sends when the
    rank's own KV is ready; decode starts after both),
  * a failed run (0-row datasets),
  * two comm-bench runs with `comm` rows (world 4: all_reduce, all_gather, broadcast, 8 B .. 64 MiB;
    world 2: all_reduce, sendrecv, 1 KiB .. 64 MiB).
Numbers come from a seeded RNG: the same seed gives the same file.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pydeps  # noqa: E402

if __name__ == "__main__":
    _pydeps.ensure()

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

# The exact dtypes of docs/trace-format.md.
EVENT_DTYPE = np.dtype([
    ("rank", "<i4"), ("phase", "S16"), ("layer", "<i4"), ("chunk", "<i4"), ("step", "<i4"),
    ("micro_batch", "<i4"), ("t_start_ns", "<i8"), ("t_end_ns", "<i8"), ("bytes", "<i8"),
])
METRICS_DTYPE = np.dtype([
    ("rank", "<i4"), ("load_ms", "<f8"), ("ttft_ms", "<f8"), ("tpot_ms", "<f8"), ("tokens_per_s", "<f8"),
    ("prefill_ms", "<f8"), ("sync_ms", "<f8"), ("decode_ms", "<f8"), ("total_ms", "<f8"),
    ("output_tokens", "<i8"), ("bytes_read", "<i8"),
])
COMM_DTYPE = np.dtype([
    ("op", "S24"), ("bytes", "<i8"), ("count", "<i8"), ("dtype", "S8"), ("time_us", "<f8"), ("algbw", "<f8"),
    ("busbw", "<f8"), ("wrong", "<i8"),
])

MODEL = "models/llama-1b-f32"
N_LAYERS = 16
HIDDEN = 2048
KV_DIM = 512  # 4 KV heads x 128
MODEL_BYTES = 4_400_000_000
GIT_REVISION = "v0.3.0-41-g3298000"
HOST = "node01"
T0_NS = 3_600_000_000_000  # steady clock of node01 at the first run
STARTED = _dt.datetime(2024, 11, 23, 9, 40, 0, tzinfo=_dt.timezone.utc)

INT_ATTRS = ("seed", "tp", "pp", "world", "sp_chunk_size", "batch_size", "prompt_len", "output_len", "micro_batches")


class _Events:
    def __init__(self):
        self.rows = []

    def add(self, rank, phase, t0_ms, t1_ms, nbytes=0, chunk=-1, layer=-1, step=-1, mb=-1):
        assert t1_ms >= t0_ms, (phase, t0_ms, t1_ms)
        self.rows.append((rank, phase.encode(), layer, chunk, step, mb, int(round(t0_ms * 1e6)),
                          int(round(t1_ms * 1e6)), nbytes))

    def array(self, base_ns):
        a = np.array(self.rows, dtype=EVENT_DTYPE) if self.rows else np.zeros(0, EVENT_DTYPE)
        a["t_start_ns"] += base_ns
        a["t_end_ns"] += base_ns
        return a


def _stages(pp):
    per = N_LAYERS // pp
    return [(s * per, (s + 1) * per) for s in range(pp)]


def _base_attrs(idx, command, name, status="ok", reason="", tp=1, pp=1, world=None, sp=0, kv_sync="none",
                batch=1, prompt_len=128, output_len=16, argv=None):
    world = tp * pp if world is None else world
    stages = _stages(pp) if N_LAYERS % pp == 0 else [(0, N_LAYERS)]
    cfg = {
        "command": command, "model": MODEL, "tp": tp, "pp": pp, "sp_chunk": sp, "kv_sync": kv_sync,
        "batch_size": batch, "prompt_len": prompt_len, "output_len": output_len, "micro_batches": 1,
        "seed": 1234, "device": "cpu", "comm": "mpi", "dtype": "f32", "partition": "even",
        "output_dir": "runs/demo",
    }
    return {
        "command": command,
        "name": name,
        "status": status,
        "reason": reason,
        "argv": argv or (f"autodist {command} --model {MODEL} --tp {tp} --pp {pp} --sp-chunk {sp} --kv-sync {kv_sync}"
                         f" --batch {batch} --prompt-len {prompt_len} --output-len {output_len} --output-dir runs/demo"),
        "config_json": json.dumps(cfg, sort_keys=True),
        "git_revision": GIT_REVISION,
        "hosts": ",".join([HOST] * world),
        "devices": ",".join(["cpu"] * world),
        "started_at": (STARTED + _dt.timedelta(seconds=7 * idx)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": 1234,
        "model": MODEL,
        "tp": tp, "pp": pp, "world": world,
        "partition": "even",
        "stages": ",".join(f"{a}-{b}" for a, b in stages),
        "sp_chunk_size": sp,
        "kv_sync": kv_sync,
        "batch_size": batch, "prompt_len": prompt_len, "output_len": output_len, "micro_batches": 1,
        "device": "cpu", "comm": "mpi", "dtype": "f32",
    }


def _metrics_row(rank, load, ttft, prefill, sync, decode, total, steps, out_tokens, bytes_read):
    tpot = decode / steps if steps else 0.0
    tps = out_tokens / ((ttft + decode) / 1e3) if ttft + decode > 0 else 0.0
    return (rank, load, ttft, tpot, tps, prefill, sync, decode, total, out_tokens, bytes_read)


def _generate_run(idx, rng, tp, pp, batch, prompt_len, output_len):
    """A tp x pp generate: every rank loads its shard, prefill runs stage after stage, decode steps likewise."""
    ev = _Events()
    world = tp * pp
    nl = N_LAYERS // pp
    jit = lambda: 1.0 + rng.normal(0.0, 0.02)  # noqa: E731
    load = {r: (MODEL_BYTES / world / 12e9 * 1e3 + 30.0) * jit() for r in range(world)}
    for r in range(world):
        ev.add(r, "load", 0.0, load[r], nbytes=MODEL_BYTES // world)
    t_ready = max(load.values()) + 1.0  # barrier
    # Prefill: compute-bound, split over tp, a ring all-reduce of the activations twice per layer when tp > 1.
    act_bytes = batch * prompt_len * HIDDEN * 4
    p_stage = batch * (6.0 + 0.9 * prompt_len) / pp / tp
    if tp > 1:
        p_stage += nl * 2 * (0.08 + act_bytes / 8e9 * 1e3)
    hop = act_bytes / 2e9 * 1e3 + 0.05
    pre_end = {}
    for r in range(world):
        s = r // tp
        t0 = t_ready + s * (p_stage + hop)
        pre_end[r] = t0 + p_stage * jit()
        ev.add(r, "prefill", t_ready + 0.01 * rng.random(), pre_end[r])
    ttft = max(pre_end.values()) + 0.1 - t_ready  # the last stage broadcasts the first token
    # Decode: memory-bound steps; with pp > 1 (one micro-batch) the stages take turns.
    steps = output_len - 1
    d_stage = (22.0 + 1.5 * batch) / pp / tp + (nl * 2 * 0.04 if tp > 1 else 0.0)
    t_dec0 = t_ready + ttft + 0.2
    period = pp * (d_stage + 0.05)
    dec_end = {}
    for r in range(world):
        s = r // tp
        end = t_dec0
        for i in range(steps):
            a = t_dec0 + i * period + s * (d_stage + 0.05)
            end = a + d_stage * (1.0 - abs(rng.normal(0.0, 0.02)))
            ev.add(r, "step", a, end, step=i)
        dec_end[r] = t_dec0 + steps * period
        ev.add(r, "decode", t_dec0, dec_end[r], step=steps)
    metrics = []
    for r in range(world):
        total = max(dec_end.values()) + 0.5
        ev.add(r, "total", 0.0, total)
        metrics.append(_metrics_row(r, load[r], ttft * jit(), pre_end[r] - t_ready, 0.0, dec_end[r] - t_dec0, total,
                                    steps, batch * output_len, MODEL_BYTES // world))
    name = f"tp{tp}_pp{pp}_chunk0_none_b{batch}_L{prompt_len}_N{output_len}"
    attrs = _base_attrs(idx, "sweep", name, tp=tp, pp=pp, batch=batch, prompt_len=prompt_len,
                        output_len=output_len, argv="autodist sweep --config configs/sweep_demo.yaml --output-dir runs/demo")
    return attrs, ev, np.array(metrics, dtype=METRICS_DTYPE)


def _sp_run(idx, rng, pp, chunk, kv_sync, prompt_len=256, output_len=16):
    """SP+PP: the prompt goes through the stages in chunks; the KV of each stage is then synced to every rank."""
    ev = _Events()
    N, C, L = pp, chunk, prompt_len
    stages = _stages(N)
    nl = N_LAYERS // N
    nc = (L + C - 1) // C
    jit = lambda: 1.0 + rng.normal(0.0, 0.02)  # noqa: E731
    # With a KV sync every rank decodes the whole model alone, so every rank loads every layer.
    load = {r: (MODEL_BYTES / 12e9 * 1e3 + 30.0) * jit() for r in range(N)}
    for r in range(N):
        ev.add(r, "load", 0.0, load[r], nbytes=MODEL_BYTES)
    t_ready = max(load.values()) + 1.0
    t_p0 = {r: t_ready + 0.02 * rng.random() for r in range(N)}
    act = lambda n: n * HIDDEN * 4  # noqa: E731
    xfer = lambda nbytes: nbytes / 2e9 * 1e3 + 0.05  # noqa: E731
    finish = [[0.0] * nc for _ in range(N)]
    for s in range(N):
        prev_done = t_p0[s]
        for c in range(nc):
            n = min(C, L - c * C)
            if s > 0:
                arrive = finish[s - 1][c] + xfer(act(n))
                ev.add(s, "chunk_wait", prev_done, max(prev_done, arrive), nbytes=act(n), chunk=c)
                start = max(prev_done, arrive)
            else:
                start = prev_done + 0.05  # embedding
            cost = nl / N_LAYERS * (3.0 + 0.9 * n + 0.004 * n * c * C) * jit()
            finish[s][c] = start + cost
            ev.add(s, "chunk", start, finish[s][c], chunk=c, layer=stages[s][0])
            prev_done = finish[s][c]
    ready = {s: finish[s][nc - 1] for s in range(N)}
    pre_end = {s: ready[s] + (xfer(act(L - (nc - 1) * C)) if s < N - 1 else 0.02) for s in range(N)}
    for s in range(N):
        ev.add(s, "prefill", t_p0[s], pre_end[s], chunk=nc)
    # KV sync (its own thread, started just before the prefill clock).
    blk = nl * 2 * L * KV_DIM * 4
    bw = 1.2e9
    t_sync0 = {s: t_p0[s] + 0.01 for s in range(N)}
    sync_end = {}
    if kv_sync == "pairwise":
        # Every rank sends to every other at once: the links (shared memory here) are contended.
        contention = 1.0 + 0.35 * (N - 2)
        send_end = {s: ready[s] + 0.02 + (N - 1) * blk / bw * 1e3 * contention * jit() for s in range(N)}
        for me in range(N):
            ev.add(me, "sync_send", ready[me] + 0.02, send_end[me], nbytes=blk * (N - 1))
            t = send_end[me]
            for q in range(N):
                if q == me:
                    continue
                t = max(t, send_end[q] + 0.05)
                ev.add(me, "sync_recv", t_sync0[me], t, nbytes=blk, layer=stages[q][0])
            sync_end[me] = t + 0.02
    else:  # ring
        start = {s: ready[s] + 0.02 for s in range(N)}
        for r in range(N - 1):
            end = {}
            for me in range(N):
                prev = (me + N - 1) % N
                recv_q = (me - r - 1 + 2 * N) % N
                end[me] = max(start[me], start[prev]) + blk / bw * 1e3 * jit() + 0.05
                ev.add(me, "sync_round", start[me], end[me], nbytes=blk, layer=stages[recv_q][0], step=r)
            start = end
        sync_end = {s: start[s] + 0.02 for s in range(N)}
    for s in range(N):
        ev.add(s, "sync", t_sync0[s], sync_end[s])
    t_tok = pre_end[N - 1] + 0.1  # first token broadcast from the last stage
    steps = output_len - 1
    d_full = 23.5
    metrics = []
    dec = {}
    for s in range(N):
        d0 = max(pre_end[s], t_tok, sync_end[s]) + 0.2
        d1 = d0 + steps * d_full * jit()
        dec[s] = (d0, d1)
        ev.add(s, "decode", d0, d1, step=steps)
    for s in range(N):
        d0, d1 = dec[s]
        total = d1 + 0.3
        ev.add(s, "total", 0.0, total)
        metrics.append(_metrics_row(s, load[s], d0 - t_p0[s], pre_end[s] - t_p0[s], sync_end[s] - t_sync0[s],
                                    d1 - d0, total, steps, output_len, MODEL_BYTES))
    name = f"tp1_pp{pp}_chunk{chunk}_{kv_sync}_b1_L{prompt_len}_N{output_len}"
    attrs = _base_attrs(idx, "sweep", name, tp=1, pp=pp, sp=chunk, kv_sync=kv_sync, batch=1, prompt_len=prompt_len,
                        output_len=output_len, argv="autodist sweep --config configs/sweep_demo.yaml --output-dir runs/demo")
    return attrs, ev, np.array(metrics, dtype=METRICS_DTYPE)


BUSBW_FACTOR = {
    "all_reduce": lambda n: 2 * (n - 1) / n, "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n, "broadcast": lambda n: 1.0, "sendrecv": lambda n: 1.0,
}


def _comm_rows(rng, world, ops, sizes, checked):
    lat_us = {"all_reduce": 18.0, "all_gather": 12.0, "broadcast": 8.0, "sendrecv": 4.0, "reduce_scatter": 14.0}
    peak = {"all_reduce": 9.0, "all_gather": 10.0, "broadcast": 7.5, "sendrecv": 11.0, "reduce_scatter": 9.0}  # GB/s
    rows = []
    for op in ops:
        f = BUSBW_FACTOR[op](world)
        for size in sizes:
            p = peak[op] * (0.78 if size > (8 << 20) else 1.0)  # past the last-level cache
            t_us = (lat_us[op] + size * max(f, 0.5) / (p * 1e3)) * (1.0 + abs(rng.normal(0.0, 0.03)))
            algbw = size / (t_us * 1e3)
            count = size // 4 // (world if op == "all_gather" else 1)
            rows.append((op.encode(), size, count, b"f32", t_us, algbw, algbw * f, 0 if checked else -1))
    return np.array(rows, dtype=COMM_DTYPE)


def _comm_run(idx, rng, world, ops, lo, hi, factor, checked):
    sizes = []
    s = lo
    while s <= hi:
        sizes.append(s)
        s *= factor
    name = f"comm_bench_w{world}_{'_'.join(ops)}"
    argv = (f"mpirun -np {world} autodist comm-bench --backend mpi --op {','.join(ops)} -b {lo} -e {hi} -f {factor}"
            + (" --check" if checked else "") + " --output-dir runs/demo")
    attrs = _base_attrs(idx, "comm-bench", name, tp=world, pp=1, world=world, prompt_len=0, output_len=0, batch=0,
                        argv=argv)
    return attrs, _comm_rows(rng, world, ops, sizes, checked)


def demo_runs(seed=0):
    """The demo's runs: a list of dicts with attrs, events, metrics and (comm-bench) comm arrays."""
    rng = np.random.default_rng(seed)
    runs = []

    def add(attrs, events=None, metrics=None, comm=None):
        base = T0_NS + len(runs) * 5_000_000_000
        runs.append({
            "attrs": attrs,
            "events": events.array(base) if events is not None else np.zeros(0, EVENT_DTYPE),
            "metrics": metrics if metrics is not None else np.zeros(0, METRICS_DTYPE),
            "comm": comm,
        })

    for prompt_len in (128, 512):
        for tp in (1, 2):
            for pp in (1, 2):
                a, e, m = _generate_run(len(runs), rng, tp, pp, 1, prompt_len, 16)
                add(a, e, m)
    add(_base_attrs(len(runs), "sweep", "tp4_pp2_chunk0_none_b1_L128_N16", status="skipped",
                    reason="tp*pp = 8 ranks, the job has 4", tp=4, pp=2, world=8,
                    argv="autodist sweep --config configs/sweep_demo.yaml --output-dir runs/demo"))
    for pp in (2, 4):
        for chunk in (32, 64):
            for kv in ("pairwise", "ring"):
                a, e, m = _sp_run(len(runs), rng, pp, chunk, kv)
                add(a, e, m)
    add(_base_attrs(len(runs), "generate", "tp2_pp2_chunk32_ring_b1_L4096_N16", status="failed",
                    reason="rank 3: cannot allocate the KV cache for 4096 positions (out of memory)", tp=2, pp=2,
                    sp=32, kv_sync="ring", prompt_len=4096))
    a, c = _comm_run(len(runs), rng, 4, ["all_reduce", "all_gather", "broadcast"], 8, 64 << 20, 2, True)
    add(a, comm=c)
    a, c = _comm_run(len(runs), rng, 2, ["all_reduce", "sendrecv"], 1 << 10, 64 << 20, 4, False)
    add(a, comm=c)
    return runs


def skipped_only_runs():
    return [{
        "attrs": _base_attrs(0, "sweep", "tp4_pp2_chunk0_none_b1_L128_N16", status="skipped",
                             reason="tp*pp = 8 ranks, the job has 4", tp=4, pp=2, world=8),
        "events": np.zeros(0, EVENT_DTYPE), "metrics": np.zeros(0, METRICS_DTYPE), "comm": None,
    }]


def write_trace(path, runs):
    """Writes `runs` to path as the spec says: a copy next to it, then an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "autodist-trace"
        f.attrs["format_version"] = np.int64(1)
        g_runs = f.create_group("runs")
        for i, run in enumerate(runs):
            g = g_runs.create_group(f"{i:04d}")
            for k, v in run["attrs"].items():
                g.attrs[k] = np.int64(v) if k in INT_ATTRS else str(v)
            g.create_dataset("events", data=run["events"].astype(EVENT_DTYPE), maxshape=(None,))
            g.create_dataset("metrics", data=run["metrics"].astype(METRICS_DTYPE), maxshape=(None,))
            if run.get("comm") is not None:
                g.create_dataset("comm", data=run["comm"].astype(COMM_DTYPE), maxshape=(None,))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory (writes DIR/trace.h5) or a .h5 file path")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only-skipped", action="store_true", help="a trace with a single skipped run")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if out.suffix not in (".h5", ".hdf5"):
        out = out / "trace.h5"
    runs = skipped_only_runs() if a.only_skipped else demo_runs(a.seed)
    write_trace(out, runs)
    print(f"wrote {out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
