#!/usr/bin/env python3
"""Renders the performance model's report (docs/perf-model.md): predicted against measured, and plans on paper.

    python3 experiments/perf_report.py --validation DIR [--validation DIR2 ...] [--paper DIR] --out notebooks_out/perf-model

--validation DIR: a folder of scripts/validate_perf_model.sh (validation.csv, plan.csv if it ran with --plan, its
profile.json); several are shown one after another (e.g. the namespace cluster and this machine alone).
--paper DIR: a folder of scripts/perf_report.sh's plans (plans.json: [{model, cluster, device, rank_by, workload,
plan}], the plan being `autodist plan --json`'s object).
Writes OUT/index.html and OUT/fig_validation.png (predicted against measured, TTFT and TPOT). Exit status: 0 done,
2 bad input.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pydeps  # noqa: E402

if __name__ == "__main__":
    _pydeps.ensure()

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime as _dt  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}.bad{color:#b00}.note{color:#555;font-size:90%}"""


def fail(msg):
    sys.stderr.write(f"perf_report.py: error: {msg}\n")
    sys.exit(2)


def read_csv(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(f))
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")


def esc(x):
    return html.escape(str(x))


def table(header, rows, bad=None):
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for i, r in enumerate(rows):
        cls = ' class="bad"' if bad and bad(i) else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
    return "\n".join(out) + "</table>"


def validation_section(d, n):
    rows = read_csv(d / "validation.csv")
    if not rows:
        fail(f"{d}/validation.csv has no rows")
    need = {"config", "link", "measured_ttft_ms", "predicted_ttft_ms", "ttft_err_pct", "measured_tpot_ms",
            "predicted_tpot_ms", "tpot_err_pct"}
    if not need <= set(rows[0]):
        fail(f"{d}/validation.csv lacks columns {sorted(need - set(rows[0]))} (from scripts/validate_perf_model.sh)")
    et = [abs(float(r["ttft_err_pct"])) for r in rows]
    ep = [abs(float(r["tpot_err_pct"])) for r in rows]
    links = list(dict.fromkeys(r["link"] for r in rows))
    s = [f"<h2>{n}. Predicted against measured: {esc(d)}</h2>",
         f"<p>{len(rows)} configurations, links {esc(', '.join(links))}. TTFT: median |error| "
         f"<b>{statistics.median(et):.1f}%</b>, worst <b>{max(et):.1f}%</b>. Time per output token: median |error| "
         f"<b>{statistics.median(ep):.1f}%</b>, worst <b>{max(ep):.1f}%</b>.</p>"]
    hdr = ["config", "link", "ranks", "ranks/host", "batch", "prompt", "TTFT measured ms", "predicted", "error %",
           "TPOT measured ms", "predicted", "error %"]
    s.append(table(hdr, [[r["config"], r["link"], r.get("ranks", ""), r.get("ranks_per_host", ""), r.get("batch", ""),
                          r.get("prompt_len", ""), r["measured_ttft_ms"], r["predicted_ttft_ms"], r["ttft_err_pct"],
                          r["measured_tpot_ms"], r["predicted_tpot_ms"], r["tpot_err_pct"]] for r in rows],
                   bad=lambda i: abs(float(rows[i]["ttft_err_pct"])) > 25 or abs(float(rows[i]["tpot_err_pct"])) > 25))
    plan = d / "plan.csv"
    if plan.exists():
        prow = read_csv(plan)
        out = []
        for link in dict.fromkeys(r["link"] for r in prow):
            for by in ("ttft", "tpot"):
                rs = [r for r in prow if r["link"] == link and r["rank_by"] == by]
                if not rs:
                    continue
                first = min(rs, key=lambda r: float(r["predicted_ms"]))
                best = min(rs, key=lambda r: float(r["measured_ms"]))
                ratio = float(first["measured_ms"]) / float(best["measured_ms"])
                out.append([link, by, len(rs), first["layout"], first["predicted_ms"], first["measured_ms"],
                            best["layout"], best["measured_ms"], f"{ratio:.3f}"])
        s.append("<h3>autodist plan against measurement</h3><p>Every layout the plan lists for 2 ranks (one per "
                 "host) measured; its first choice by each figure against the best measured layout.</p>")
        s.append(table(["link", "ranked by", "layouts", "plan's first", "predicted ms", "measured ms",
                        "best measured", "measured ms", "first / best"], out,
                       bad=lambda i: float(out[i][-1]) > 1.10))
    return "\n".join(s), rows


def figure(all_rows, out):
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, (m, p, title) in zip(axes, (("measured_ttft_ms", "predicted_ttft_ms", "TTFT (ms)"),
                                        ("measured_tpot_ms", "predicted_tpot_ms", "time per output token (ms)"))):
        lo, hi = float("inf"), 0
        for label, rows in all_rows:
            for link in dict.fromkeys(r["link"] for r in rows):
                xs = [float(r[m]) for r in rows if r["link"] == link]
                ys = [float(r[p]) for r in rows if r["link"] == link]
                lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
                ax.scatter(xs, ys, label=f"{label}: {link}", s=22)
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        for f in (0.75, 1.25):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
        ax.set_xscale("log"), ax.set_yscale("log")
        ax.set_xlabel("measured"), ax.set_ylabel("predicted"), ax.set_title(title)
        ax.legend(fontsize=7)
    fig.suptitle("autodist predict against autodist bench (dotted: +-25%)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def paper_section(d, n):
    try:
        plans = json.load(open(d / "plans.json"))
    except (OSError, ValueError) as e:
        fail(f"cannot read {d}/plans.json: {e}")
    s = [f"<h2>{n}. Plans on paper</h2>",
         "<p>Profiles priced by <code>autodist profile --roofline</code> (no device measured: datasheet peak and "
         "bandwidth times usable fractions, a fixed cost per kernel), predicted with the clusters of "
         "<code>configs/clusters/</code>. The assumptions:</p><ul>"]
    for a in plans[0].get("assumptions", []):
        s.append(f"<li>{esc(a)}</li>")
    s.append("</ul>")
    for e in plans:
        p = e["plan"]
        w = e["workload"]
        s.append(f"<h3>{esc(e['model'])} on {esc(e['cluster'])} ({p['world']} ranks), ranked by "
                 f"{esc(e['rank_by'])}</h3><p>batch {w['batch']}, prompt {w['prompt']}, {w['output']} output "
                 f"tokens, {esc(e['device'])}; {p['rejected_for_memory']} layouts do not fit in memory; the best "
                 f"{min(len(p['layouts']), 8)} of {len(p['layouts'])} shown.</p>")
        rows = [[l["layout"], f"{l['ttft_ms']:.1f}", f"{l['tpot_ms']:.3f}", f"{l['tokens_per_s']:.0f}",
                 f"{l['bytes_per_rank'] / 1e9:.1f}", f"{l['prefill_comm_ms']:.1f}", f"{l['decode_comm_ms'] / max(1, w['output']):.3f}"]
                for l in p["layouts"][:8]]
        s.append(table(["layout", "TTFT ms", "time/token ms", "tokens/s", "GB/rank", "prefill comm ms",
                        "decode comm ms/token"], rows))
        s.append("<p class='note'>comm: rank 0's tensor-parallel collectives (without waits); pipeline sends are not counted here.</p>")
    return "\n".join(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--validation", action="append", default=[], type=Path)
    ap.add_argument("--paper", type=Path)
    ap.add_argument("--out", type=Path, default=Path("notebooks_out/perf-model"))
    a = ap.parse_args()
    if not a.validation and not a.paper:
        fail("give --validation DIR and/or --paper DIR")
    a.out.mkdir(parents=True, exist_ok=True)
    parts, all_rows, n = [], [], 1
    for d in a.validation:
        sec, rows = validation_section(d, n)
        parts.append(sec)
        all_rows.append((d.name, rows))
        n += 1
    if all_rows:
        figure(all_rows, a.out / "fig_validation.png")
        parts.insert(0, '<p><img src="fig_validation.png" alt="predicted against measured" width="100%"></p>')
    if a.paper:
        parts.append(paper_section(a.paper, n))
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>autodist performance model</title>"
           f"<style>{CSS}</style></head><body><h1>autodist performance model</h1>"
           f"<p class='note'>Rendered {stamp} by experiments/perf_report.py. The model: docs/perf-model.md.</p>"
           + "\n".join(parts) + "</body></html>\n")
    (a.out / "index.html").write_text(doc)
    print(a.out / "index.html")


if __name__ == "__main__":
    main()
