"""Reads the trace.h5 of the ctest sweep (configs/sweeps/test_fixtures.yaml) and checks its runs,
attributes, metrics and event timings. usage: check_trace.py TRACE.h5 EXPECTED_OK EXPECTED_SKIPPED"""
import json
import sys

import h5py


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main(path, want_ok, want_skipped):
    errors = []
    f = h5py.File(path, "r")
    assert s(f.attrs["format"]) == "autodist-trace", "root format attribute"
    assert int(f.attrs["format_version"]) == 1
    runs = [f["runs"][g] for g in sorted(f["runs"])]
    status = [s(r.attrs["status"]) for r in runs]
    n_ok, n_skip, n_fail = status.count("ok"), status.count("skipped"), status.count("failed")
    print(f"{len(runs)} runs: {n_ok} ok, {n_skip} skipped, {n_fail} failed")
    if (n_ok, n_skip, n_fail) != (want_ok, want_skipped, 0):
        errors.append(f"expected {want_ok} ok, {want_skipped} skipped, 0 failed")
    phases_seen = set()
    for r in runs:
        a = {k: (s(v) if isinstance(v, (bytes, str)) else v) for k, v in r.attrs.items()}
        name = a["name"]
        for key in ("command", "name", "status", "reason", "argv", "config_json", "git_revision", "sweep"):
            if key not in a:
                errors.append(f"{name}: attribute {key} missing")
        json.loads(a["config_json"])
        if a["status"] == "skipped":
            if not a["reason"]:
                errors.append(f"{name}: skipped without a reason")
            if len(r["events"]) or len(r["metrics"]):
                errors.append(f"{name}: a skipped run has events or metrics")
            continue
        tp, pp, world = int(a["tp"]), int(a["pp"]), int(a["world"])
        sp, sync = int(a["sp_chunk_size"]), a["kv_sync"]
        if world != tp * pp or len(a["hosts"].split(",")) != world or len(a["devices"].split(",")) != world:
            errors.append(f"{name}: world/hosts/devices do not match tp*pp")
        for key in ("seed", "model", "partition", "stages", "batch_size", "prompt_len", "output_len", "device", "comm",
                    "dtype", "started_at"):
            if key not in a:
                errors.append(f"{name}: attribute {key} missing")
        if len(a["stages"].split(",")) != pp:
            errors.append(f"{name}: stages '{a['stages']}' is not {pp} ranges")
        m = r["metrics"][:]
        if sorted(m["rank"].tolist()) != list(range(world)):
            errors.append(f"{name}: metrics ranks {m['rank'].tolist()}")
        for field in ("load_ms", "ttft_ms", "tpot_ms", "tokens_per_s", "prefill_ms", "decode_ms", "total_ms"):
            if not (m[field] > 0).all():
                errors.append(f"{name}: {field} not positive: {m[field].tolist()}")
        if not (m["output_tokens"] == int(a["output_len"]) * int(a["batch_size"])).all():
            errors.append(f"{name}: output_tokens {m['output_tokens'].tolist()}")
        if not (abs(m["total_ms"] - m["prefill_ms"] - m["decode_ms"]) < 1e-6).all():
            errors.append(f"{name}: total != prefill + decode")
        if sp and sync != "none" and not (m["sync_ms"] > 0).all():
            errors.append(f"{name}: SP+PP with {sync} sync but sync_ms {m['sync_ms'].tolist()}")
        ev = r["events"][:]
        if sorted(set(ev["rank"].tolist())) != list(range(world)):
            errors.append(f"{name}: events from ranks {sorted(set(ev['rank'].tolist()))}")
        if not (ev["t_end_ns"] >= ev["t_start_ns"]).all():
            errors.append(f"{name}: an event ends before it starts")
        for rank in range(world):
            mine = ev[ev["rank"] == rank]
            ph = {}
            for e in mine:
                ph.setdefault(s(e["phase"]).rstrip("\0"), []).append((int(e["t_start_ns"]), int(e["t_end_ns"])))
            phases_seen.update(ph)
            need = ["load", "prefill", "decode", "total"] + (["chunk"] if sp else ["step"])
            if sp and sync != "none":
                need.append("sync")
            missing = [p for p in need if p not in ph]
            if missing:
                errors.append(f"{name} rank {rank}: phases {missing} missing (has {sorted(ph)})")
                continue
            (ld0, ld1), = ph["load"]
            p0, p1 = min(x[0] for x in ph["prefill"]), max(x[1] for x in ph["prefill"])
            (d0, d1), = ph["decode"]
            (t0, t1), = ph["total"]
            if not (ld1 <= t0 <= p0 < p1 <= d0 < d1 <= t1):
                errors.append(f"{name} rank {rank}: order load {ld0}-{ld1} total {t0}-{t1} prefill {p0}-{p1} "
                              f"decode {d0}-{d1}")
            if "sync" in ph and not ph["sync"][0][1] <= d0:
                errors.append(f"{name} rank {rank}: sync ends after decode starts")
            if sp and not all(p0 <= c0 and c1 <= p1 for c0, c1 in ph["chunk"]):
                errors.append(f"{name} rank {rank}: a chunk lies outside the prefill")
    print("phases seen:", ", ".join(sorted(phases_seen)))
    for e in errors[:30]:
        print("FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
