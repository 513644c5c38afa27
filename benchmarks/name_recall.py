"""Name search recall: does a search for a customer's name (as written, then with one typo) list that customer?

    python benchmarks/name_recall.py --subjects 100000 --out /tmp/privacyops_names

Builds (or with --reuse, reuses) a demo workspace, samples customers with a seeded random generator and searches
each one's full name through the public API, `privacyops.lookup.lookup(ws, name)`: a hit is the customer's
`crm.customers:<id>` among `result.candidates`. Then the same with one typo: one character substituted, dropped or
doubled at a seeded random position, never the first letter. The demo has many namesakes (hundreds of people share
the commonest names at 100k), so a hit needs every exact match returned, not the first 20.

Prints both recall rates against their targets (exact >= 99 %, one typo >= 95 %), the candidate counts, the
latencies and the machine's load average (figures from a busy machine are not comparable). Exits 1 when a recall
target is missed; latencies are figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import duckdb

from privacyops.demo import generate_demo
from privacyops.lookup import lookup
from privacyops.workspace import open_workspace

TARGETS = {"exact": 0.99, "one typo": 0.95}
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(name: str, rnd: random.Random) -> str:
    """`name` with one typing error at a random letter other than the first: substituted, dropped or doubled."""
    positions = [i for i, ch in enumerate(name) if i > 0 and not ch.isspace()]
    i = rnd.choice(positions)
    kind = rnd.choice(("substitute", "drop", "double"))
    if kind == "substitute":
        return name[:i] + rnd.choice([c for c in LETTERS if c != name[i].lower()]) + name[i + 1:]
    if kind == "drop":
        return name[:i] + name[i + 1:]
    return name[:i] + name[i] + name[i:]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


def search(ws, queries: list[tuple[int, str]]) -> dict:
    """Look every (customer id, query) up; hits, candidate counts and latencies."""
    hits, counts, times = 0, [], []
    for customer_id, query in queries:
        t0 = time.perf_counter()
        result = lookup(ws, query, audit_log=False)  # no audit entries: hundreds of searches would flood the log
        times.append((time.perf_counter() - t0) * 1000)
        refs = {c.ref for c in result.candidates}
        hits += f"crm.customers:{customer_id}" in refs
        counts.append(len(refs))
    return {"hits": hits, "n": len(queries), "counts": counts, "times": times}


def report(label: str, got: dict) -> bool:
    rate, target = got["hits"] / got["n"], TARGETS[label]
    ok = rate >= target
    print(f"{label:9} recall {rate:7.1%} ({got['hits']}/{got['n']}; target >= {target:.0%}: "
          f"{'met' if ok else 'NOT MET'})   candidates median {statistics.median(got['counts']):.0f} "
          f"max {max(got['counts'])}   latency p50 {percentile(got['times'], 0.5):.0f} ms "
          f"p95 {percentile(got['times'], 0.95):.0f} ms max {max(got['times']):.0f} ms")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42, help="the demo's seed")
    ap.add_argument("--out", type=Path, default=None, help="workspace folder (default /tmp/privacyops_names_N)")
    ap.add_argument("--samples", type=int, default=250, help="customers sampled (at least 200)")
    ap.add_argument("--sample-seed", type=int, default=7, help="seed of the sample and of the typos")
    ap.add_argument("--reuse", action="store_true", help="reuse the demo already in --out")
    args = ap.parse_args()
    if args.samples < 200:
        ap.error("--samples must be at least 200")
    out = args.out or Path(f"/tmp/privacyops_names_{args.subjects}")
    os.environ.setdefault("PRIVACYOPS_ACTOR", "benchmark")

    if not (args.reuse and (out / "company.duckdb").exists()):
        t0 = time.perf_counter()
        generate_demo(out, subjects=args.subjects, seed=args.seed, progress=False)
        print(f"generated {args.subjects:,} subjects (seed {args.seed}) in {time.perf_counter() - t0:.1f} s")
    con = duckdb.connect(str(out / "company.duckdb"), read_only=True)  # closed before the lookups open the file
    try:
        customers = con.execute("SELECT customer_id, full_name FROM crm.customers WHERE full_name IS NOT NULL "
                                "ORDER BY customer_id").fetchall()
    finally:
        con.close()
    rnd = random.Random(args.sample_seed)
    sample = rnd.sample(customers, min(args.samples, len(customers)))
    typos = [(cid, typo(name, rnd)) for cid, name in sample]
    ws = open_workspace(out)
    print(f"workspace {out}: {len(customers):,} customers; {len(sample)} sampled (seed {args.sample_seed})")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")

    lookup(ws, sample[0][1], audit_log=False)  # warm the file cache once
    ok = report("exact", search(ws, sample))
    ok &= report("one typo", search(ws, typos))
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
