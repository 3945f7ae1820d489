#!/usr/bin/env python3
"""Tests of experiments/report.py on synthetic traces (experiments/make_demo_trace.py).

    python3 experiments/test_report.py        # exit status 0 when every test passes
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _pydeps  # noqa: E402

if __name__ == "__main__":
    _pydeps.ensure()

import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import make_demo_trace as demo  # noqa: E402

REPORT = HERE / "report.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_report(*args):
    return subprocess.run([sys.executable, str(REPORT), *map(str, args)], capture_output=True, text=True, timeout=300)


def img_srcs(index_html):
    return re.findall(r'<img[^>]*\bsrc="([^"]+)"', index_html)


class DemoReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="autodist_report_test_")
        cls.dir = Path(cls.tmp.name)
        cls.trace_dir = cls.dir / "demo_run"
        cls.runs = demo.demo_runs(seed=1)
        demo.write_trace(cls.trace_dir / "trace.h5", cls.runs)
        cls.out = cls.dir / "report"
        cls.proc = run_report("--trace", cls.trace_dir, "--out", cls.out, "--name", "demo")
        cls.index = (cls.out / "index.html").read_text(encoding="utf-8") if (cls.out / "index.html").exists() else ""

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exit_status(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertNotIn("warning", self.proc.stderr)

    def test_expected_pngs_valid(self):
        comm_groups = [f"{i:04d}" for i, r in enumerate(self.runs) if r["attrs"]["command"] == "comm-bench"]
        self.assertEqual(len(comm_groups), 2)
        expected = ["fig_timeline.png", "fig_decode.png", "fig_sp_prefill.png"] + [f"fig_comm_{g}.png" for g in comm_groups]
        for name in expected:
            p = self.out / name
            self.assertTrue(p.exists(), f"{name} missing")
            data = p.read_bytes()
            self.assertEqual(data[:8], PNG_MAGIC, f"{name} is not a PNG")
            self.assertGreater(len(data), 10_000, f"{name} is implausibly small ({len(data)} B)")
        self.assertEqual(sorted(p.name for p in self.out.glob("*.png")), sorted(expected))

    def test_index_references_every_png(self):
        srcs = img_srcs(self.index)
        on_disk = sorted(p.name for p in self.out.glob("*.png"))
        self.assertEqual(sorted(srcs), on_disk)
        for s in srcs:
            self.assertFalse(s.startswith(("/", "http:", "https:")), s)
            self.assertTrue((self.out / s).is_file(), s)

    def test_self_contained(self):
        self.assertNotIn("<script", self.index.lower())
        self.assertNotRegex(self.index, r'(src|href)="(https?:)?//')
        self.assertIn("<style>", self.index)
        self.assertEqual(self.index.count("<figcaption>"), len(img_srcs(self.index)))

    def test_runs_table_one_row_per_run(self):
        rows = re.findall(r'<tr class="run status-(\w+)"', self.index)
        self.assertEqual(len(rows), len(self.runs))
        self.assertEqual(rows.count("skipped"), 1)
        self.assertEqual(rows.count("failed"), 1)
        for col in ("group", "name", "command", "status", "reason", "tp", "pp", "sp_chunk_size", "kv_sync",
                    "batch_size", "prompt_len", "output_len", "ttft_ms", "tpot_ms", "tokens_per_s", "total_ms"):
            self.assertIn(f"<th>{col}</th>", self.index)

    def test_header(self):
        n = len(self.runs)
        self.assertIn(f"{n} ({n - 2} ok, 1 skipped, 1 failed)", self.index)
        self.assertIn(demo.GIT_REVISION, self.index)
        self.assertIn(demo.HOST, self.index)

    def test_timeline_default_is_sp_with_sync(self):
        m = re.search(r"Per-rank timeline</b> of run (\d+) <code>([^<]+)</code>", self.index)
        self.assertIsNotNone(m)
        self.assertIn("chunk32_pairwise", m.group(2))
        self.assertIn("_pp4_", m.group(2))

    def test_no_absent_notes(self):
        self.assertNotIn('class="note"', self.index)


class Inputs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="autodist_report_inputs_")
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def assert_refused(self, proc, needle):
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn(needle, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    def test_missing_file(self):
        self.assert_refused(run_report("--trace", self.dir / "nope.h5", "--out", self.dir / "o"), "no such file")

    def test_dir_without_trace(self):
        self.assert_refused(run_report("--trace", self.dir, "--out", self.dir / "o"), "no trace.h5")

    def test_text_file(self):
        p = self.dir / "trace.h5"
        p.write_text("this is not HDF5\n")
        self.assert_refused(run_report("--trace", p, "--out", self.dir / "o"), "not an HDF5 file")

    def test_foreign_hdf5(self):
        p = self.dir / "other.h5"
        with h5py.File(p, "w") as f:
            f.attrs["format"] = "something-else"
            f.create_dataset("x", data=np.arange(10))
        self.assert_refused(run_report("--trace", p, "--out", self.dir / "o"), "not an autodist trace")
        with h5py.File(p, "w") as f:
            f.create_dataset("x", data=np.arange(10))
        self.assert_refused(run_report("--trace", p, "--out", self.dir / "o"), "not an autodist trace")

    def test_unknown_run(self):
        p = demo.write_trace(self.dir / "t" / "trace.h5", demo.demo_runs())
        self.assert_refused(run_report("--trace", p, "--out", self.dir / "o", "--run", "9999"), "no such run")

    def test_run_picks_timeline(self):
        p = demo.write_trace(self.dir / "t" / "trace.h5", demo.demo_runs())
        out = self.dir / "o"
        proc = run_report("--trace", p, "--out", out, "--run", "/runs/0003")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        html = (out / "index.html").read_text()
        self.assertRegex(html, r"Per-rank timeline</b> of run 0003 <code>tp2_pp2_")
        self.assertGreater((out / "fig_timeline.png").stat().st_size, 10_000)

    def test_only_skipped(self):
        p = demo.write_trace(self.dir / "skip" / "trace.h5", demo.skipped_only_runs())
        out = self.dir / "o"
        (out).mkdir()
        (out / "fig_stale.png").write_bytes(PNG_MAGIC + b"old")  # a previous render's figure goes away
        proc = run_report("--trace", p.parent, "--out", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        html = (out / "index.html").read_text()
        for note in ("no ok runs with events", "no ok runs with sp_chunk_size == 0", "no SP+PP runs in this trace",
                     "no comm-bench runs"):
            self.assertIn(note, html)
        self.assertEqual(img_srcs(html), [])
        self.assertEqual(list(out.glob("*.png")), [])
        self.assertEqual(len(re.findall(r'<tr class="run ', html)), 1)
        self.assertIn("1 (0 ok, 1 skipped, 0 failed)", html)

    def test_empty_trace(self):
        p = demo.write_trace(self.dir / "e" / "trace.h5", [])
        proc = run_report("--trace", p, "--out", self.dir / "o")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("0 (0 ok, 0 skipped, 0 failed)", (self.dir / "o" / "index.html").read_text())

    def test_writer_variants(self):
        """What another writer may produce: fixed-length byte-string attributes, 1-element array attributes,
        int32 numbers, an unknown phase, a run without the comm dataset's dtype column."""
        runs = demo.demo_runs()
        p = self.dir / "v" / "trace.h5"
        demo.write_trace(p, runs)
        with h5py.File(p, "r+") as f:
            f.attrs["format"] = np.bytes_(b"autodist-trace")
            for name, g in f["runs"].items():
                for k in list(g.attrs.keys()):
                    v = g.attrs[k]
                    if isinstance(v, str):
                        g.attrs[k] = np.bytes_(v.encode())  # fixed-length string
                    elif k in ("tp", "pp"):
                        g.attrs[k] = np.array([v], dtype=np.int32)  # 1-element int32 array
            ev = f["runs/0000/events"][()]
            extra = ev[:1].copy()
            extra["phase"] = b"layer_norm_fused"  # exactly 16 bytes, no NUL
            del f["runs/0000/events"]
            f["runs/0000"].create_dataset("events", data=np.concatenate([ev, extra]))
        out = self.dir / "o"
        proc = run_report("--trace", p, "--out", out, "--run", "0000")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("warning", proc.stderr)
        html = (out / "index.html").read_text()
        self.assertEqual(len(re.findall(r'<tr class="run ', html)), len(runs))
        self.assertIn(">tp2_pp2_chunk0_none_b1_L128_N16</td>", html)
        for name in ("fig_timeline.png", "fig_decode.png", "fig_sp_prefill.png"):
            self.assertGreater((out / name).stat().st_size, 10_000)


class DemoFollowsSpec(unittest.TestCase):
    def test_dtypes_and_attrs(self):
        with tempfile.TemporaryDirectory() as d:
            p = demo.write_trace(Path(d) / "trace.h5", demo.demo_runs())
            with h5py.File(p, "r") as f:
                self.assertEqual(f.attrs["format"], "autodist-trace")
                self.assertEqual(f.attrs["format_version"].dtype, np.int64)
                names = sorted(f["runs"].keys())
                self.assertEqual(names, [f"{i:04d}" for i in range(len(names))])
                for n in names:
                    g = f["runs"][n]
                    self.assertEqual(g["events"].dtype, demo.EVENT_DTYPE)
                    self.assertEqual(g["metrics"].dtype, demo.METRICS_DTYPE)
                    self.assertEqual(g["events"].dtype["phase"], np.dtype("S16"))
                    for k in ("command", "name", "status", "reason", "argv", "config_json", "git_revision", "hosts",
                              "devices", "started_at", "model", "partition", "stages", "kv_sync", "device", "comm",
                              "dtype"):
                        self.assertIsInstance(g.attrs[k], str, k)
                        self.assertTrue(h5py.check_string_dtype(g.attrs.get_id(k).dtype), k)
                    for k in demo.INT_ATTRS:
                        self.assertEqual(g.attrs[k].dtype, np.int64, k)
                    self.assertEqual(g.attrs["world"], g.attrs["tp"] * g.attrs["pp"])
                    if g.attrs["command"] == "comm-bench":
                        self.assertEqual(g["comm"].dtype, demo.COMM_DTYPE)
                        ops = {o.decode() for o in g["comm"]["op"]}
                        self.assertTrue(ops)
                    if g.attrs["status"] != "ok":
                        self.assertEqual(g["events"].shape, (0,))
                        self.assertEqual(g["metrics"].shape, (0,))
                    ev = g["events"][()]
                    if len(ev):
                        self.assertTrue((ev["t_end_ns"] >= ev["t_start_ns"]).all())
                        for r in np.unique(ev["rank"]):
                            e = ev[ev["rank"] == r]
                            ph = {x.decode(): i for i, x in enumerate(e["phase"])}
                            pre, dec = e[ph["prefill"]], e[ph["decode"]]
                            self.assertLess(pre["t_start_ns"], pre["t_end_ns"])
                            self.assertLessEqual(pre["t_end_ns"], dec["t_start_ns"])
                            if "sync" in ph:
                                self.assertLessEqual(e[ph["sync"]]["t_end_ns"], dec["t_start_ns"])
                            chunks = e[e["phase"] == b"chunk"]
                            if len(chunks):
                                self.assertTrue((chunks["t_start_ns"] >= pre["t_start_ns"]).all())
                                self.assertTrue((chunks["t_end_ns"] <= pre["t_end_ns"]).all())
                comm = f["runs"][names[-2]]["comm"][()]
                self.assertEqual({o.decode() for o in comm["op"]}, {"all_reduce", "all_gather", "broadcast"})
                self.assertEqual(comm["bytes"].min(), 8)
                self.assertEqual(comm["bytes"].max(), 64 << 20)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
