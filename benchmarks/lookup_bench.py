"""Lookup latency at scale: p50/p95 per identity kind and for name search, with the load average beside each figure.

    python benchmarks/lookup_bench.py                      # 100k subjects in /tmp/po_100k (built unless --reuse)
    python benchmarks/lookup_bench.py --million --reuse    # 1M subjects in /tmp/po_1m (~27M rows; minutes to build)
    python benchmarks/lookup_bench.py --scan               # also the unindexed path (no index, reopened per lookup)

Warm, in-process lookups (`Workspace.keep_open`, the lookup index of `privacyops index`). Each run saves its figures
as lookup_bench.json in the workspace folder; once both /tmp/po_100k and /tmp/po_1m hold one, the growth ratio
100k -> 1M is printed. On a shared machine read the ratios: the load average says how busy it was. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacyops.demo import generate_demo  # noqa: E402
from privacyops.lookup import lookup  # noqa: E402
from privacyops.workspace import create_indexes, open_workspace  # noqa: E402
from privacyops.workspace.lookup_index import index_status  # noqa: E402


def folder(base: Path, subjects: int) -> Path:
    label = f"{subjects // 1_000_000}m" if subjects % 1_000_000 == 0 else f"{subjects // 1000}k"
    return base / f"po_{label}"


def prepare(root: Path, subjects: int, reuse: bool) -> None:
    if not (reuse and (root / "company.duckdb").exists()):
        t0 = time.perf_counter()
        generate_demo(root, subjects=subjects, seed=42, progress=True)
        print(f"generated {subjects:,} subjects in {time.perf_counter() - t0:.0f} s")
    ws = open_workspace(root)
    if not (root / "index.duckdb").exists() or any(index_status(ws).values()):
        report = create_indexes(ws, progress=True)
        print(f"indexed in {report.seconds:.0f} s")


def sample(root: Path, n: int, seed: int) -> list[tuple]:
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        top = con.execute("SELECT max(customer_id) FROM crm.customers").fetchone()[0]
        ids = random.Random(seed).sample(range(1, top + 1), min(n * 2, top))
        rows = con.execute("SELECT customer_id, email, phone, full_name FROM crm.customers WHERE customer_id IN "
                           f"({', '.join('?' * len(ids))}) ORDER BY customer_id", ids).fetchall()
    finally:
        con.close()
    return [r for r in rows if r[1] and r[2]][:n]


def timed(fn, args) -> dict:
    times = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[max(int(round(len(times) * 0.95)) - 1, 0)]
    return {"p50": statistics.median(times), "p95": p95, "n": len(times), "load": os.getloadavg()[0]}


def cases(ws, rows, scan: bool) -> list[tuple[str, object, list]]:
    """Each case looks up other subjects (`rows` split in five): a subject's rows are read cold, as in use."""
    kw = {"use_index": False} if scan else {}
    n = len(rows) // 5
    part = [rows[i * n:(i + 1) * n] for i in range(5)]
    out = [
        ("e-mail (mentions + audit on)", lambda r: lookup(ws, r[1], **kw), part[0]),
        ("e-mail (mentions on, audit off)", lambda r: lookup(ws, r[1], audit_log=False, **kw), part[1]),
        ("phone (mentions on, audit off)", lambda r: lookup(ws, r[2], kind="phone", audit_log=False, **kw), part[2]),
        ("customer id (mentions on, audit off)",
         lambda r: lookup(ws, str(r[0]), kind="customer_id", audit_log=False, **kw), part[3]),
        ("name -> candidates (audit off)", lambda r: lookup(ws, r[3], kind="name", audit_log=False, **kw),
         part[4] if not scan else part[4][:max(n // 3, 5)]),  # a p50 of 10 searches moved by 20 ms run to run
    ]
    return out


def run(root: Path, samples: int, scan: bool) -> dict:
    modes = [("indexed, connections kept open", False)] + ([("scan, reopened per lookup (before)", True)] if scan
                                                          else [])
    everyone = sample(root, samples * 5 * len(modes) + 1, seed=11)
    results = {}
    for i, (mode, is_scan) in enumerate(modes):
        rows = everyone[1 + i * samples * 5: 1 + (i + 1) * samples * 5]  # no subject read twice
        ws = open_workspace(root)
        ws.keep_open = 0 if is_scan else 60.0
        lookup(ws, everyone[0][1], audit_log=False, use_index=not is_scan)  # warm: engine started, index opened
        print(f"\n{root} — {mode}; {samples} subjects per identity kind, each looked up once")
        print(f"{'lookup by':40} {'p50 ms':>9} {'p95 ms':>9}   load avg (1 min)")
        for label, fn, args in cases(ws, rows, is_scan):
            r = timed(fn, args)
            results[f"{mode}: {label}"] = r
            print(f"{label:40} {r['p50']:9.1f} {r['p95']:9.1f}   {r['load']:.2f}")
        ws.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="1,000,000 subjects (same as --subjects 1000000)")
    ap.add_argument("--base", type=Path, default=Path("/tmp"), help="where the po_100k / po_1m folders live")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--reuse", action="store_true", help="reuse the demo already built in the folder")
    ap.add_argument("--scan", action="store_true", help="also time the unindexed path (before the index)")
    ap.add_argument("--workspace", type=Path, default=None,
                    help="measure this existing workspace as it is (never rebuilt; default: BASE/po_<size>)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here (for benchmarks/bench.py)")
    args, _ = ap.parse_known_args()  # `./run bench` passes demo_scale.py's options too
    os.environ.setdefault("PRIVACYOPS_ACTOR", "benchmark")
    subjects = 1_000_000 if args.million else args.subjects
    root = args.workspace or folder(args.base, subjects)
    if args.workspace is not None and not (root / "company.duckdb").exists():
        sys.exit(f"{root}: no demo workspace there (--workspace measures one that exists; it never builds one)")
    prepare(root, subjects, args.reuse or args.workspace is not None)
    results = run(root, args.samples, args.scan)
    (root / "lookup_bench.json").write_text(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.workspace:
        return
    small, big = folder(args.base, 100_000) / "lookup_bench.json", folder(args.base, 1_000_000) / "lookup_bench.json"
    if small.exists() and big.exists():
        a, b = json.loads(small.read_text()), json.loads(big.read_text())
        print("\ngrowth 100k -> 1M (p50 ratio; load averages at 100k / 1M)")
        for key in a:
            if key in b and a[key]["p50"] > 0:
                print(f"{key:78} {b[key]['p50'] / a[key]['p50']:5.2f}x   "
                      f"({a[key]['load']:.1f} / {b[key]['load']:.1f})")


if __name__ == "__main__":
    main()
