"""Lookup at scale: build (or reuse) a demo workspace of N subjects and time lookups by every identity kind.

    python benchmarks/lookup_scale.py --subjects 1000000 --out /tmp/bench_ws

Prints figures (median / p95 / max in ms); it asserts nothing: targets live here, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import duckdb

from privacyops.demo import generate_demo
from privacyops.lookup import lookup
from privacyops.workspace import open_workspace


def timed(fn, runs):
    times = []
    for arg in runs:
        t0 = time.perf_counter()
        fn(arg)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1 if len(times) > 1 else 0], times[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/privacyops_bench"))
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--reuse", action="store_true", help="reuse an existing workspace in --out")
    args = ap.parse_args()
    os.environ.setdefault("PRIVACYOPS_ACTOR", "benchmark")

    if not (args.reuse and (args.out / "company.duckdb").exists()):
        t0 = time.perf_counter()
        generate_demo(args.out, subjects=args.subjects, seed=42, progress=True)
        print(f"generated {args.subjects:,} subjects in {time.perf_counter() - t0:.1f} s")
    ws = open_workspace(args.out)
    con = duckdb.connect(str(args.out / "company.duckdb"), read_only=True)
    step = max(args.subjects // args.samples, 1)
    sample = con.execute("SELECT customer_id, email, phone, full_name FROM crm.customers "
                         "WHERE customer_id % ? = 7 ORDER BY customer_id LIMIT ?", [step, args.samples]).fetchall()
    con.close()
    total = sum(ws.connector(d.source).count(d) for d in ws.datamap.datasets.values())
    ws.close()
    print(f"workspace {args.out}: {total:,} rows in {len(ws.datamap.datasets)} datasets; {len(sample)} subjects sampled")

    lookup(ws, sample[0][1])  # warm the file cache once
    cases = [
        ("e-mail (full lookup, mentions on)", lambda r: lookup(ws, r[1]), sample),
        ("e-mail (mentions off)", lambda r: lookup(ws, r[1], mentions=False), sample),
        ("phone", lambda r: lookup(ws, r[2], kind="phone", mentions=False), sample),
        ("customer id", lambda r: lookup(ws, str(r[0]), kind="customer_id", mentions=False), sample),
        ("name -> candidates", lambda r: lookup(ws, r[3], kind="name"), sample[:5]),
    ]
    print(f"{'lookup by':36} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
    for label, fn, rows in cases:
        med, p95, mx = timed(fn, rows)
        print(f"{label:36} {med:10.1f} {p95:10.1f} {mx:10.1f}")
    r = lookup(ws, sample[0][1])
    print("example result:", r.summary()["datasets"], f"{r.elapsed_ms:.1f} ms")


if __name__ == "__main__":
    main()
