#!/usr/bin/env python3
"""Renders an autodist trace.h5 (docs/trace-format.md, version 1) as a self-contained HTML report.

    python3 experiments/report.py --trace DIR_OR_FILE [--out notebooks_out/NAME] [--name NAME] [--run GROUP]

DIR means DIR/trace.h5. The report is OUT/index.html plus the PNG figures it shows (same folder, relative
links, inline CSS, no scripts, nothing fetched from elsewhere):
  fig_timeline.png     per-rank timeline of one run (--run GROUP, or the ok SP+PP run with a KV sync and
                       the most events, or else the ok run with the most events)
  fig_decode.png       tokens/s, TTFT and TPOT vs (tp, pp), runs with sp_chunk_size == 0
  fig_sp_prefill.png   SP+PP TTFT and prefill time vs sp_chunk_size, one line per kv_sync (and pp)
  fig_comm_NNNN.png    comm-bench busbw and time vs message size, one line per op, one figure per run
A figure without data is left out with a one-line note. Exit status: 0 done, 2 bad input (missing file,
not HDF5, not an autodist trace, unknown --run).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pydeps  # noqa: E402

if __name__ == "__main__":
    _pydeps.ensure()

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import html  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import traceback  # noqa: E402
from collections import OrderedDict, defaultdict  # noqa: E402

import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

PROG = "report.py"
REPO = Path(__file__).resolve().parent.parent
DPI = 110


class TraceError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


# ---------------------------------------------------------------------------------------------------- reading


def to_str(v):
    """bytes (NUL padded or not), numpy bytes/str, 1-element arrays -> str."""
    if isinstance(v, np.ndarray):
        if v.size == 1:
            v = v.reshape(-1)[0]
        else:
            return ",".join(to_str(x) for x in v.reshape(-1))
    if isinstance(v, (bytes, bytearray, np.bytes_)):
        return bytes(v).split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(v, h5py.Empty) or v is None:
        return ""
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, bytes):
            return v.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(v).split("\0", 1)[0]


def to_num(v, default=None, kind=float):
    if isinstance(v, np.ndarray):
        if v.size != 1:
            return default
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, bytearray, np.bytes_, str, np.str_)):
        v = to_str(v).strip()
        if not v:
            return default
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    if kind is int:
        return int(x) if math.isfinite(x) else default
    return x


STR_FIELDS = ("phase", "op", "dtype")


def read_table(group, name):
    """A compound dataset as {field: numpy array} (string fields as lists of str); None when absent."""
    if name not in group:
        return None
    ds = group[name]
    if not isinstance(ds, h5py.Dataset) or ds.dtype.names is None:
        return None
    a = ds[()]
    a = np.atleast_1d(a)
    out = {"_n": int(a.shape[0])}
    for f in ds.dtype.names:
        col = a[f]
        if col.dtype.kind in ("S", "O", "U", "V"):
            out[f] = [to_str(x) for x in col]
        else:
            out[f] = np.asarray(col)
    return out


def col(table, field, default):
    """A numeric column, or `default` repeated when the field is missing."""
    if table is None:
        return np.zeros(0)
    if field in table:
        c = table[field]
        return np.asarray(c, dtype=float) if not isinstance(c, list) else np.array([to_num(x, default) for x in c])
    return np.full(table["_n"], default, dtype=float)


def scol(table, field):
    if table is None:
        return []
    c = table.get(field)
    if c is None:
        return [""] * table["_n"]
    return [to_str(x) for x in c]


INT_ATTRS = ("tp", "pp", "world", "sp_chunk_size", "batch_size", "prompt_len", "output_len", "micro_batches", "seed")


class Run:
    def __init__(self, group, g):
        self.group = group
        self.attrs = {}
        for k, v in g.attrs.items():
            self.attrs[k] = to_num(v, None, int) if k in INT_ATTRS else to_str(v)
        self.events = read_table(g, "events")
        self.metrics = read_table(g, "metrics")
        self.comm = read_table(g, "comm")

    def a(self, key, default=""):
        v = self.attrs.get(key)
        return default if v is None or v == "" else v

    def i(self, key, default=0):
        v = self.attrs.get(key)
        return default if v is None else v

    @property
    def name(self):
        return self.a("name", self.group)

    @property
    def status(self):
        return self.a("status", "?")

    @property
    def n_events(self):
        return self.events["_n"] if self.events else 0

    @property
    def n_metrics(self):
        return self.metrics["_n"] if self.metrics else 0

    def metric(self, field, how):
        """Aggregate of one metrics field over ranks (how: max, min, rank0); None when absent."""
        if not self.n_metrics or field not in self.metrics:
            return None
        v = col(self.metrics, field, np.nan)
        ok = np.isfinite(v)
        if not ok.any():
            return None
        if how == "rank0":
            ranks = col(self.metrics, "rank", 0)
            i = int(np.argmin(np.where(ok, ranks, np.inf)))
            return float(v[i])
        return float(np.max(v[ok]) if how == "max" else np.min(v[ok]))

    def is_comm_bench(self):
        return self.a("command") == "comm-bench"


def _group_key(name):
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def resolve_trace_path(arg):
    p = Path(arg)
    if p.is_dir():
        f = p / "trace.h5"
        if not f.exists():
            raise TraceError(f"{p}: no trace.h5 in this directory")
        return f
    if not p.exists():
        raise TraceError(f"{p}: no such file or directory")
    return p


def load_trace(path):
    path = Path(path)
    try:
        is_h5 = h5py.is_hdf5(str(path))
    except OSError as e:
        raise TraceError(f"{path}: cannot read ({e.strerror or e})")
    if not is_h5:
        raise TraceError(f"{path}: not an HDF5 file")
    try:
        with h5py.File(path, "r") as f:
            fmt = to_str(f.attrs["format"]) if "format" in f.attrs else ""
            if fmt != "autodist-trace":
                raise TraceError(f"{path}: not an autodist trace (root attribute format is "
                                 f"{repr(fmt) if fmt else 'missing'})")
            version = to_num(f.attrs.get("format_version"), None, int)
            runs = []
            if "runs" in f and isinstance(f["runs"], h5py.Group):
                for name in sorted(f["runs"].keys(), key=_group_key):
                    g = f["runs"][name]
                    if isinstance(g, h5py.Group):
                        runs.append(Run(name, g))
    except TraceError:
        raise
    except (OSError, KeyError, ValueError) as e:
        raise TraceError(f"{path}: cannot read the trace ({e})")
    return version, runs


# ---------------------------------------------------------------------------------------------------- helpers


def fmt_num(v, digits=1):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def fmt_fixed(v):
    return "" if v is None or not math.isfinite(v) else f"{v:.2f}"


def human_bytes(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:g} {unit}" if n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def pick_timeline_run(runs, wanted):
    if wanted:
        w = wanted.strip().strip("/")
        if w.startswith("runs/"):
            w = w[5:]
        for r in runs:
            if r.group == w:
                return r
        if w.isdigit():
            for r in runs:
                if r.group.isdigit() and int(r.group) == int(w):
                    return r
        named = [r for r in runs if r.name == wanted]
        if named:
            return named[-1]
        raise TraceError(f"--run {wanted}: no such run (groups {runs[0].group}..{runs[-1].group})" if runs
                         else f"--run {wanted}: the trace has no runs")
    ok = [r for r in runs if r.status == "ok" and r.n_events > 0]
    if not ok:
        return None
    sp = [r for r in ok if r.i("sp_chunk_size", 0) > 0 and r.a("kv_sync", "none") != "none"]
    pool = sp or ok
    return max(pool, key=lambda r: (r.n_events, -_group_key(r.group)[1]))


# ---------------------------------------------------------------------------------------------------- timeline

PHASE_COLOR = {
    "load": "#bdbdbd", "prefill": "#a6cee3", "decode": "#b2df8a", "total": "#d9d9d9",
    "chunk": "#1f78b4", "chunk_wait": "#fdbf6f", "step": "#33a02c",
    "sync": "#cab2d6", "sync_send": "#e31a1c", "sync_recv": "#fb9a99", "sync_round": "#ff7f00",
}
EXTRA_COLORS = ["#6a3d9a", "#b15928", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2", "#8c564b", "#9467bd"]
# Lanes per rank, top to bottom. Bands are coarse regions drawn as a translucent background of the lane.
LANES = [
    ("phases", ("load", "prefill", "decode"), ("total",)),
    ("compute", ("chunk", "chunk_wait", "step"), ()),
    ("kv sync", ("sync_send", "sync_recv", "sync_round"), ("sync",)),
]
PHASE_ORDER = ["total", "load", "prefill", "decode", "chunk", "chunk_wait", "step", "sync", "sync_send", "sync_recv",
               "sync_round"]


def _lane_of(phase):
    for name, bars, bands in LANES:
        if phase in bars:
            return name, False
        if phase in bands:
            return name, True
    return "other", False


def _pack(intervals):
    """Greedy interval packing: a sub-row index per interval so that intervals of one sub-row do not overlap."""
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][0], intervals[i][1]))
    ends, slot = [], [0] * len(intervals)
    for i in order:
        s, e = intervals[i]
        for k, last in enumerate(ends):
            if s >= last - 1e-9:
                ends[k] = e
                slot[i] = k
                break
        else:
            slot[i] = len(ends)
            ends.append(e)
    return slot, max(1, len(ends))


def _run_title(r):
    bits = [f"tp={r.i('tp')}", f"pp={r.i('pp')}"]
    if r.i("sp_chunk_size", 0) > 0:
        bits += [f"sp_chunk_size={r.i('sp_chunk_size')}", f"kv_sync={r.a('kv_sync', 'none')}"]
    bits += [f"batch={r.i('batch_size')}", f"prompt_len={r.i('prompt_len')}", f"output_len={r.i('output_len')}"]
    return f"run {r.group} {r.name}: " + " ".join(bits)


def plot_timeline(run, out_png):
    ev = run.events
    ranks = col(ev, "rank", 0).astype(int)
    phases = scol(ev, "phase")
    if "t_start_ns" not in ev or "t_end_ns" not in ev:
        raise ValueError("events have no t_start_ns/t_end_ns fields")
    t0 = np.asarray(ev["t_start_ns"], dtype=np.int64)  # int64 ns: no float rounding before the origin is removed
    t1 = np.asarray(ev["t_end_ns"], dtype=np.int64)
    origin = int(t0.min())
    x0 = (t0 - origin) / 1e6
    x1 = np.maximum((t1 - origin) / 1e6, x0)
    span = float(x1.max()) if len(x1) else 1.0
    colors = dict(PHASE_COLOR)
    extra = iter(EXTRA_COLORS * 10)
    for p in sorted(set(phases)):
        if p not in colors:
            colors[p] = next(extra)

    lane_names = [n for n, _, _ in LANES]
    used_lanes = []
    for p in phases:
        ln = _lane_of(p)[0]
        if ln not in used_lanes:
            used_lanes.append(ln)
    used_lanes = [n for n in lane_names + ["other"] if n in used_lanes]
    rank_list = sorted(set(ranks.tolist()))

    # Layout: per rank a block of lanes, each lane 1 unit high; 0.5 gap between ranks.
    rows = []  # (rank, lane, y_top)
    y = 0.0
    for rk in rank_list:
        for ln in used_lanes:
            rows.append((rk, ln, y))
            y += 1.0
        y += 0.5
    y_of = {(rk, ln): yt for rk, ln, yt in rows}
    height_units = y

    # Zoom panel on the prefill (and KV sync) window when it is a small part of the run and has fine events.
    pre_mask = np.array([p in ("prefill", "sync") for p in phases])
    zoom = None
    if pre_mask.any():
        z0, z1 = float(x0[pre_mask].min()), float(x1[pre_mask].max())
        fine = np.array([p in ("chunk", "chunk_wait", "sync_send", "sync_recv", "sync_round") for p in phases])
        if fine.any() and (z1 - z0) < 0.5 * span:
            m = 0.03 * (z1 - z0) + 1e-3
            zoom = (max(0.0, z0 - m), z1 + m)

    n_axes = 2 if zoom else 1
    row_h = 0.32 if len(rows) > 10 else 0.4
    fig_h = max(2.8, height_units * row_h + 1.6) * (1 if n_axes == 1 else 1.0)
    fig, axes = plt.subplots(n_axes, 1, figsize=(13, fig_h * n_axes * 0.92 + 0.8), dpi=DPI, squeeze=False)
    axes = axes[:, 0]

    # Pre-compute bar geometry per (rank, lane).
    geom = defaultdict(list)  # (rank, lane) -> list of (x0, w, phase, band, index)
    for i, (rk, p) in enumerate(zip(ranks.tolist(), phases)):
        ln, band = _lane_of(p)
        geom[(rk, ln)].append((float(x0[i]), float(x1[i] - x0[i]), p, band))
    drawn = OrderedDict()
    for ax_i, ax in enumerate(axes):
        for (rk, ln), items in geom.items():
            yt = y_of[(rk, ln)]
            bands = [it for it in items if it[3]]
            bars = [it for it in items if not it[3]]
            for bx, bw, p, _ in bands:
                ax.broken_barh([(bx, max(bw, span * 2e-4))], (yt + 0.04, 0.92), facecolors=colors[p], alpha=0.45,
                               edgecolor=colors[p], linewidth=0.8, zorder=1)
                drawn[p] = True
            if bars:
                slot, k = _pack([(bx, bx + bw) for bx, bw, _, _ in bars])
                h = 0.8 / k
                by_phase = defaultdict(list)
                for (bx, bw, p, _), s in zip(bars, slot):
                    by_phase[(p, s)].append((bx, max(bw, span * 3e-4)))
                for (p, s), xr in by_phase.items():
                    ax.broken_barh(xr, (yt + 0.1 + s * h + 0.02 * h, h * 0.96), facecolors=colors[p],
                                   edgecolor="white", linewidth=0.4, zorder=2)
                    drawn[p] = True
        # Rank separators and labels.
        ticks, labels = [], []
        for rk, ln, yt in rows:
            ticks.append(yt + 0.5)
            labels.append(f"rank {rk} · {ln}")
        for rk in rank_list[1:]:
            first = min(yt for r2, _, yt in rows if r2 == rk)
            ax.axhline(first - 0.25, color="#888888", linewidth=0.6, zorder=0)
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_ylim(height_units - 0.25, -0.25)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5, zorder=0)
        ax.set_axisbelow(True)
        ax.set_xlabel("time since the earliest event of the run (ms)")
        if ax_i == 0:
            ax.set_xlim(0, span * 1.01)
            ax.set_title(_run_title(run), fontsize=10, loc="left")
        else:
            ax.set_xlim(*zoom)
            ax.set_title("zoom: prefill and KV sync window", fontsize=10, loc="left")
    if zoom:
        axes[0].axvspan(zoom[0], zoom[1], color="#ffeb3b", alpha=0.15, zorder=0)
    handles = []
    for p in sorted(drawn, key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else 99, p)):
        band = _lane_of(p)[1]
        handles.append(Patch(facecolor=colors[p], alpha=0.45 if band else 1.0, edgecolor=colors[p] if band else "none",
                             label=f"{p} (band)" if band else p))
    ncol = len(handles) if len(handles) <= 11 else math.ceil(len(handles) / 2)
    leg_rows = math.ceil(len(handles) / ncol) if handles else 0
    fig_h_in = fig.get_size_inches()[1]
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, min(0.3, (0.1 + 0.25 * leg_rows) / fig_h_in), 1, 1))
    fig.savefig(out_png)
    plt.close(fig)
    hosts = [h for h in run.a("hosts").split(",") if h]
    return {"multi_host": len(set(hosts)) > 1, "zoom": zoom is not None, "ranks": len(rank_list),
            "lanes": used_lanes, "phases": list(drawn)}


# ---------------------------------------------------------------------------------------------------- decode


def _model_name(r):
    return os.path.basename(str(r.a("model", "")).rstrip("/"))


def _series_key(r, vary_out):
    # The model leads the key so that runs of different models never share a bar.
    k = (_model_name(r), r.i("prompt_len"), r.i("batch_size"))
    return k + ((r.i("output_len"),) if vary_out else ())


def _series_label(k):
    s = (f"{k[0]}: " if k[0] else "") + f"prompt_len={k[1]}, batch={k[2]}"
    return s + (f", output_len={k[3]}" if len(k) > 3 else "")


def plot_decode(runs, out_png):
    """runs: ok, sp_chunk_size == 0, with metrics. Returns info for the caption."""
    vary_out = len({r.i("output_len") for r in runs}) > 1
    configs = sorted({(r.i("tp"), r.i("pp")) for r in runs})
    series = sorted({_series_key(r, vary_out) for r in runs})
    panels = [("tokens_per_s", "min", "throughput: output tokens / (prefill + decode)", "tokens/s"),
              ("ttft_ms", "max", "time to first token (ms)", "TTFT (ms)"),
              ("tpot_ms", "max", "time per output token (ms)", "TPOT (ms)")]
    vals = defaultdict(list)  # (panel, config, series) -> values
    for r in runs:
        for field, how, _, _ in panels:
            v = r.metric(field, how)
            if v is not None:
                vals[(field, (r.i("tp"), r.i("pp")), _series_key(r, vary_out))].append(v)
    repeated = any(len(v) > 1 for v in vals.values())
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 3, figsize=(max(13, 1.3 * len(configs) * max(1, len(series)) + 4), 4.6), dpi=DPI)
    x = np.arange(len(configs))
    w = 0.8 / max(1, len(series))
    for ax, (field, how, title, ylabel) in zip(axes, panels):
        top = 0.0
        for j, sk in enumerate(series):
            ys = [np.mean(vals[(field, c, sk)]) if vals.get((field, c, sk)) else np.nan for c in configs]
            xs = x - 0.4 + w * (j + 0.5)
            bars = ax.bar(xs, ys, w * 0.92, color=cmap(j % 10), label=_series_label(sk), zorder=2)
            for b, yv in zip(bars, ys):
                if np.isfinite(yv):
                    top = max(top, yv)
                    ax.annotate(fmt_num(float(yv)), (b.get_x() + b.get_width() / 2, yv), ha="center", va="bottom",
                                fontsize=7, xytext=(0, 1), textcoords="offset points")
        ax.set_xticks(x)
        ax.set_xticklabels([f"tp={t} pp={p}" for t, p in configs], fontsize=8,
                           rotation=0 if len(configs) <= 6 else 30)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, top * 1.15 if top > 0 else 1)
        ax.grid(axis="y", color="#dddddd", linewidth=0.5, zorder=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out_png)
    plt.close(fig)
    return {"configs": configs, "series": [_series_label(s) for s in series], "repeated": repeated}


# ---------------------------------------------------------------------------------------------------- SP+PP


def plot_sp(runs, out_png):
    vary_pp = len({r.i("pp") for r in runs}) > 1
    vary_L = len({r.i("prompt_len") for r in runs}) > 1
    vary_b = len({r.i("batch_size") for r in runs}) > 1
    vary_m = len({_model_name(r) for r in runs}) > 1

    def key(r):
        return (r.a("kv_sync", "none"), r.i("pp") if vary_pp else None, r.i("prompt_len") if vary_L else None,
                r.i("batch_size") if vary_b else None, _model_name(r) if vary_m else None)

    def label(k):
        s = (f"{k[4]}: " if k[4] is not None else "") + f"kv_sync={k[0]}"
        if k[1] is not None:
            s += f", pp={k[1]}"
        if k[2] is not None:
            s += f", prompt_len={k[2]}"
        if k[3] is not None:
            s += f", batch={k[3]}"
        return s

    lines = sorted({key(r) for r in runs}, key=lambda k: tuple("" if v is None else str(v).zfill(8) for v in k[1:] + k[:1]))
    chunks = sorted({r.i("sp_chunk_size") for r in runs})
    panels = [("ttft_ms", "TTFT: prefill + KV sync (ms), max over ranks"), ("prefill_ms", "prefill_ms, max over ranks")]
    kv_styles = {"pairwise": "-", "ring": "--", "none": ":"}
    kv_markers = {"pairwise": "o", "ring": "s", "none": "^"}
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), dpi=DPI)
    for ax, (field, title) in zip(axes, panels):
        for j, k in enumerate(lines):
            pts = defaultdict(list)
            for r in runs:
                if key(r) == k:
                    v = r.metric(field, "max")
                    if v is not None:
                        pts[r.i("sp_chunk_size")].append(v)
            xs = sorted(pts)
            ys = [float(np.mean(pts[c])) for c in xs]
            if not xs:
                continue
            # Colour per (pp, prompt_len, batch) group, line style and marker per kv_sync.
            grp = sorted({kk[1:] for kk in lines}, key=str)
            ci = grp.index(k[1:])
            ax.plot(xs, ys, linestyle=kv_styles.get(k[0], "-."), marker=kv_markers.get(k[0], markers[j % len(markers)]),
                    color=cmap(ci % 10), label=label(k), linewidth=1.6, markersize=6)
        ax.set_xscale("log", base=2)
        ax.set_xticks(chunks)
        ax.set_xticklabels([str(c) for c in chunks])
        ax.minorticks_off()
        if len(chunks) == 1:
            ax.set_xlim(chunks[0] / 1.5, chunks[0] * 1.5)
        else:
            ax.set_xlim(chunks[0] / 1.25, chunks[-1] * 1.25)
        ax.set_xlabel("sp_chunk_size (tokens per chunk)")
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.set_title(title, fontsize=10)
        ax.grid(color="#dddddd", linewidth=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out_png)
    plt.close(fig)
    keys = ["kv_sync"] + [n for n, v in (("pp", vary_pp), ("prompt_len", vary_L), ("batch", vary_b)) if v]
    return {"lines": [label(k) for k in lines], "chunks": chunks, "keys": keys}


# ---------------------------------------------------------------------------------------------------- comm


def plot_comm(run, out_png):
    c = run.comm
    ops = scol(c, "op")
    nbytes = col(c, "bytes", np.nan)
    busbw = col(c, "busbw", np.nan)
    t_us = col(c, "time_us", np.nan)
    wrong = col(c, "wrong", -1)
    order = list(OrderedDict.fromkeys(ops))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), dpi=DPI)
    cmap = plt.get_cmap("tab10")
    plotted, any_wrong = [], False
    for j, op in enumerate(order):
        m = np.array([o == op for o in ops]) & np.isfinite(nbytes) & (nbytes > 0)
        if not m.any():
            continue
        idx = np.argsort(nbytes[m])
        xb, yb, yt, wr = nbytes[m][idx], busbw[m][idx], t_us[m][idx], wrong[m][idx]
        axes[0].plot(xb, yb, marker="o", markersize=3.5, color=cmap(j % 10), label=op, linewidth=1.5)
        axes[1].plot(xb, yt, marker="o", markersize=3.5, color=cmap(j % 10), label=op, linewidth=1.5)
        bad = wr > 0
        if bad.any():
            any_wrong = True
            axes[0].plot(xb[bad], yb[bad], "x", color="red", markersize=9, markeredgewidth=2)
        plotted.append(op)
    pos = nbytes[np.isfinite(nbytes) & (nbytes > 0)]
    lo, hi = (int(math.log2(pos.min())), int(math.ceil(math.log2(pos.max())))) if len(pos) else (0, 1)
    step = max(1, math.ceil((hi - lo + 1) / 12))
    ks = list(range(lo, hi + 1, step))
    if ks[-1] != hi:  # label the largest size too
        if len(ks) > 1 and hi - ks[-1] < step:
            ks.pop()
        ks.append(hi)
    ticks = [2.0 ** k for k in ks]
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks)
        ax.set_xticklabels([human_bytes(t) for t in ticks], rotation=45, ha="right", fontsize=8)
        ax.minorticks_off()
        ax.set_xlabel("message size (bytes, log2 scale)")
        ax.grid(color="#dddddd", linewidth=0.5)
    axes[0].set_ylabel("busbw (GB/s, 1 GB = 1e9 B)")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("bus bandwidth", fontsize=10)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("time per call (µs, log scale)")
    axes[1].set_title("time per call", fontsize=10)
    if plotted:
        axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"comm-bench run {run.group} {run.name}: world={run.i('world')}, backend={run.a('comm', '?')}, "
                 f"dtype={(scol(c, 'dtype') or ['?'])[0]}", fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return {"ops": plotted, "wrong": any_wrong}


# ---------------------------------------------------------------------------------------------------- HTML

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1500px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px} th,td{border:1px solid #ddd;padding:3px 6px;text-align:left}
th{background:#f3f3f3;position:sticky;top:0} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.status-skipped td{color:#8a6d00;background:#fffbe6} tr.status-failed td{color:#a00;background:#fff0f0}
figure{margin:12px 0 24px 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:13px;color:#444;max-width:1200px;margin-top:4px}
p.note{color:#8a6d00;background:#fffbe6;border-left:3px solid #e0b000;padding:4px 8px;font-size:13px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px} dt{font-weight:600}
.small{font-size:12px;color:#666}
"""

TABLE_COLS = ["group", "name", "command", "status", "reason", "tp", "pp", "sp_chunk_size", "kv_sync", "batch_size",
              "prompt_len", "output_len", "ttft_ms", "tpot_ms", "tokens_per_s", "total_ms"]


def runs_table(runs):
    e = html.escape
    out = ['<table class="runs"><thead><tr>' + "".join(f"<th>{c}</th>" for c in TABLE_COLS) + "</tr></thead><tbody>"]
    for r in runs:
        cells = []
        for c in TABLE_COLS:
            if c == "group":
                cells.append(f"<td>{e(r.group)}</td>")
            elif c == "name":
                cells.append(f'<td title="{e(r.a("argv"))}">{e(r.name)}</td>')
            elif c in ("ttft_ms", "tpot_ms", "total_ms"):
                cells.append(f'<td class="num">{fmt_fixed(r.metric(c, "max"))}</td>')
            elif c == "tokens_per_s":
                cells.append(f'<td class="num">{fmt_fixed(r.metric(c, "min"))}</td>')
            elif c in INT_ATTRS:
                v = r.attrs.get(c)
                cells.append(f'<td class="num">{"" if v is None else v}</td>')
            else:
                cells.append(f"<td>{e(r.a(c))}</td>")
        out.append(f'<tr class="run status-{e(r.status)}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def figure_html(png, caption):
    alt = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", caption))).strip()
    alt = alt.split(". ")[0][:160]
    return (f'<figure><img src="{html.escape(png)}" alt="{html.escape(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def note_html(text):
    return f'<p class="note">{html.escape(text)}</p>'


def render(trace_path, out_dir, title, run_arg):
    version, runs = load_trace(trace_path)
    timeline_run = pick_timeline_run(runs, run_arg)  # may raise TraceError before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("fig_*.png"):
        old.unlink()
    e = html.escape
    sections = []
    warnings = []

    def attempt(what, fn):
        try:
            return fn()
        except Exception as ex:  # a figure must never take the report down
            warnings.append(f"{what}: {type(ex).__name__}: {ex}")
            sys.stderr.write(f"{PROG}: warning: {what} failed: {type(ex).__name__}: {ex}\n")
            if os.environ.get("AUTODIST_REPORT_DEBUG"):
                traceback.print_exc()
            plt.close("all")
            return None

    # (a) timeline
    sections.append("<h2>Per-rank timeline</h2>")
    if timeline_run is None:
        sections.append(note_html("no ok runs with events in this trace: no timeline"))
    elif timeline_run.n_events == 0:
        sections.append(note_html(f"run {timeline_run.group} ({timeline_run.name}) has no events: no timeline"))
    else:
        info = attempt("timeline", lambda: plot_timeline(timeline_run, out_dir / "fig_timeline.png"))
        if info:
            why = ("picked with --run" if run_arg else
                   "the ok SP+PP run with a KV sync and the most events" if timeline_run.i("sp_chunk_size", 0) > 0
                   and timeline_run.a("kv_sync", "none") != "none" else "the ok run with the most events")
            cap = (f"<b>Per-rank timeline</b> of run {e(timeline_run.group)} <code>{e(timeline_run.name)}</code> "
                   f"({why}; <code>--run GROUP</code> picks another). y: one block per rank, split into lanes "
                   f"({e(', '.join(info['lanes']))}); x: ms since the run's earliest event. Bars are events coloured "
                   "by phase; coarse regions (<i>total</i>, <i>sync</i>) are translucent bands behind the lane, so the "
                   "events nested in them stay visible; overlapping events of one lane (e.g. <i>sync_recv</i> from "
                   "several peers) are stacked in thinner sub-rows.")
            if info["zoom"]:
                cap += " The lower panel zooms on the prefill and KV-sync window (shaded in the upper panel)."
            if info["multi_host"]:
                cap += (" <b>Ranks run on several hosts:</b> each host has its own steady clock, so offsets between "
                        "hosts are not meaningful.")
            sections.append(figure_html("fig_timeline.png", cap))
        else:
            sections.append(note_html("the timeline could not be drawn (see the warnings below)"))

    # (b) decode vs (tp, pp)
    sections.append("<h2>Decode throughput and latency vs (tp, pp)</h2>")
    dec_runs = [r for r in runs if r.status == "ok" and r.i("sp_chunk_size", 0) == 0 and r.n_metrics > 0
                and not r.is_comm_bench()]
    if not dec_runs:
        sections.append(note_html("no ok runs with sp_chunk_size == 0 and metrics in this trace: no decode figure"))
    else:
        info = attempt("decode figure", lambda: plot_decode(dec_runs, out_dir / "fig_decode.png"))
        if info:
            cap = (f"<b>Decode throughput and latency</b> of the {len(dec_runs)} ok runs with sp_chunk_size == 0, "
                   "grouped by parallel layout (x: tp, pp); one bar colour per "
                   f"{'/'.join(['prompt_len', 'batch'] + (['output_len'] if any('output_len' in s for s in info['series']) else []))}"
                   " value. From the <code>metrics</code> dataset, worst rank: tokens/s is the minimum over ranks "
                   "(output tokens / (prefill + decode) s), TTFT and TPOT (ms per output token after the first) are the "
                   "maximum over ranks.")
            if info["repeated"]:
                cap += " Several runs with the same settings are averaged."
            sections.append(figure_html("fig_decode.png", cap))
        else:
            sections.append(note_html("the decode figure could not be drawn (see the warnings below)"))

    # (c) SP+PP prefill vs chunk size
    sections.append("<h2>SP+PP prefill vs chunk size</h2>")
    sp_runs = [r for r in runs if r.status == "ok" and r.i("sp_chunk_size", 0) > 0 and r.n_metrics > 0]
    if not sp_runs:
        sections.append(note_html("no SP+PP runs in this trace (ok runs with sp_chunk_size > 0 and metrics)"))
    else:
        info = attempt("SP+PP figure", lambda: plot_sp(sp_runs, out_dir / "fig_sp_prefill.png"))
        if info:
            cap = (f"<b>SP+PP prefill time vs sp_chunk_size</b> ({len(sp_runs)} ok runs with sp_chunk_size &gt; 0). "
                   "Left: TTFT (prefill including the KV sync), right: <code>prefill_ms</code> (the chunked prefill "
                   "alone); both the maximum over ranks of the <code>metrics</code> rows, in ms. One line per "
                   f"{e(' × '.join(info['keys']))}"
                   + (f"; colour: {e('/'.join(info['keys'][1:]))}" if len(info["keys"]) > 1 else "")
                   + "; solid line and circles: pairwise, dashed and squares: ring, dotted and triangles: none. "
                   "x is log2 at the chunk sizes of the runs. Lower is better; exact values are in the runs table.")
            sections.append(figure_html("fig_sp_prefill.png", cap))
        else:
            sections.append(note_html("the SP+PP figure could not be drawn (see the warnings below)"))

    # (d) comm-bench
    sections.append("<h2>comm-bench bandwidth</h2>")
    comm_runs = [r for r in runs if r.is_comm_bench() and r.comm and r.comm["_n"] > 0]
    if not comm_runs:
        sections.append(note_html("no comm-bench runs with comm rows in this trace: no bandwidth figure"))
    for r in comm_runs:
        png = f"fig_comm_{r.group}.png"
        info = attempt(f"comm-bench figure of run {r.group}", lambda r=r, png=png: plot_comm(r, out_dir / png))
        if info:
            cap = (f"<b>comm-bench</b> run {e(r.group)} <code>{e(r.name)}</code>, world={r.i('world')}, status "
                   f"{e(r.status)}: left, bus bandwidth <i>busbw</i> (GB/s = 1e9 B/s; algbw × the op's factor, "
                   "comparable with the link's peak) vs message size (log2 x); right, mean time per call (µs, log y). "
                   f"One line per op ({e(', '.join(info['ops']))}).")
            if info["wrong"]:
                cap += " <b>Red crosses: sizes with wrong elements (#wrong &gt; 0).</b>"
            sections.append(figure_html(png, cap))

    # header
    n_ok = sum(r.status == "ok" for r in runs)
    n_sk = sum(r.status == "skipped" for r in runs)
    n_fail = sum(r.status == "failed" for r in runs)
    n_other = len(runs) - n_ok - n_sk - n_fail
    revs = list(OrderedDict.fromkeys(r.a("git_revision") for r in runs if r.a("git_revision")))
    hosts = list(OrderedDict.fromkeys(h.strip() for r in runs for h in r.a("hosts").split(",") if h.strip()))
    commands = list(OrderedDict.fromkeys(r.a("command") for r in runs if r.a("command")))
    counts = f"{len(runs)} ({n_ok} ok, {n_sk} skipped, {n_fail} failed" + (f", {n_other} other" if n_other else "") + ")"
    meta = [
        ("file", e(str(Path(trace_path).resolve()))),
        ("format_version", e(str(version)) + ("" if version == 1 else " <b>(this report reads version 1)</b>")),
        ("runs", e(counts)),
        ("commands", e(", ".join(commands)) or "–"),
        ("git_revision", e(", ".join(revs)) or "–"),
        ("hosts", e(", ".join(hosts)) or "–"),
        ("generated", e(_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")) + " by experiments/report.py"),
    ]
    doc = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           f"<style>{CSS}</style></head><body>", f"<h1>autodist trace report: {e(title)}</h1>",
           '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>"]
    doc += sections
    if warnings:
        doc.append("<h2>Warnings</h2>")
        doc += [note_html(w) for w in warnings]
    doc.append("<h2>Runs</h2>")
    doc.append('<p class="small">ttft_ms, tpot_ms, total_ms: maximum over ranks; tokens_per_s: minimum over ranks '
               "(the <code>metrics</code> rows); empty where a run has no metrics. Hover a name for the run's "
               "command line.</p>")
    doc.append(runs_table(runs))
    doc.append("</body></html>")
    index = out_dir / "index.html"
    index.write_text("\n".join(doc) + "\n", encoding="utf-8")
    return index, warnings


def default_out(trace_arg):
    p = Path(trace_arg)
    if p.is_dir():
        base = p.resolve().name
    elif p.name == "trace.h5" and p.resolve().parent.name:
        base = p.resolve().parent.name
    else:
        base = p.stem
    return REPO / "notebooks_out" / (base or "trace")


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="Render an autodist trace.h5 as an HTML report.")
    ap.add_argument("--trace", required=True, help="trace directory (DIR/trace.h5) or file")
    ap.add_argument("--out", help="output folder (default: notebooks_out/<basename of DIR>)")
    ap.add_argument("--name", help="report title (default: the output folder's name)")
    ap.add_argument("--run", help="run for the timeline: group (0003 or /runs/0003), index or name")
    a = ap.parse_args(argv)
    try:
        path = resolve_trace_path(a.trace)
        out = Path(a.out) if a.out else default_out(a.trace)
        index, warnings = render(path, out, a.name or out.name, a.run)
    except TraceError as ex:
        sys.stderr.write(f"{PROG}: error: {ex}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    print(f"wrote {index}" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
