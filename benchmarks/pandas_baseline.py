"""The pandas baseline: what an analyst does without privacyops — load every table of the data map into a DataFrame
once, then, per request, filter every frame for the person's identifiers, follow the references down to the rows
that belong to what was found, and search the free-text fields for the identifier.

    python benchmarks/pandas_baseline.py --workspace /tmp/privacyops-bench/po_100k --samples 20 [--json out.json]

The loading is timed apart (it is paid once per session); the figure to compare is the per-request filtering, p50
and p95 over the sampled e-mail addresses, with the load average beside it. Generic over any map (it reads
`privacyops.yaml`), asserting nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacyops.sources.duckdb import _file_engine  # noqa: E402
from privacyops.workspace import open_workspace  # noqa: E402


def load_frames(ws) -> dict[str, pd.DataFrame]:
    """Every dataset of the map as a DataFrame (Arrow-backed columns: plain object columns would not fit at 1M)."""
    frames = {}
    for name, ds in ws.datamap.datasets.items():
        con = ws.connector_for(name)
        engine = getattr(con, "con", None) or _file_engine()
        table = engine.execute(f"SELECT * FROM {con.relation(ds)}").to_arrow_table()
        frames[name] = table.to_pandas(types_mapper=pd.ArrowDtype)
    return frames


def one_request(dm, frames: dict[str, pd.DataFrame], email: str) -> int:
    """Rows found for one e-mail address: seeds by identity, belongs-to references walked down, free-text mentions."""
    email = email.strip().lower()
    found: dict[str, pd.DataFrame] = {}
    for name, ds in dm.datasets.items():
        cols = [c for kind, cs in ds.identities.items() if kind == "email" for c in cs]
        for party in ds.parties:
            cols += [c for kind, cs in party.identities.items() if kind == "email" for c in cs]
        frame = frames[name]
        hits = [frame[frame[c].str.lower() == email] for c in cols if c in frame]
        hits += [frame[frame[c].str.contains(email, case=False, regex=False, na=False)]
                 for c in ds.free_text_fields if c in frame]
        hits = [h for h in hits if len(h)]
        if hits:
            found[name] = pd.concat(hits).drop_duplicates(subset=list(ds.primary_key))
    changed = True
    while changed:  # down the references: rows that belong to a row found so far
        changed = False
        for name, ds in dm.datasets.items():
            for ref in ds.references:
                if not ref.belongs_to or ref.to_dataset not in found:
                    continue
                keys = found[ref.to_dataset][ref.to_column].dropna().unique()
                frame = frames[name]
                rows = frame[frame[ref.column].isin(keys)]
                if not len(rows):
                    continue
                before = len(found.get(name, ()))
                merged = pd.concat([found[name], rows]) if name in found else rows
                found[name] = merged.drop_duplicates(subset=list(ds.primary_key))
                changed = changed or len(found[name]) > before
    return sum(len(f) for f in found.values())


def sample_emails(ws, frames: dict[str, pd.DataFrame], n: int, seed: int) -> list[str]:
    """E-mail addresses of `n` random subjects of the first dataset that names people by e-mail."""
    for name, ds in ws.datamap.datasets.items():
        cols = ds.identities.get("email")
        if ds.subject and cols:
            values = frames[name][cols[0]].dropna().tolist()
            return random.Random(seed).sample(values, min(n, len(values)))
    raise SystemExit("no dataset of the map names its subjects by e-mail")


def measure(root: Path, samples: int, seed: int = 5) -> dict:
    ws = open_workspace(root)
    t0 = time.perf_counter()
    frames = load_frames(ws)
    load_s = time.perf_counter() - t0
    emails = sample_emails(ws, frames, samples, seed)
    one_request(ws.datamap, frames, emails[0])  # warm
    times, rows = [], 0
    for e in emails[1:]:
        t = time.perf_counter()
        rows += one_request(ws.datamap, frames, e)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"load_s": load_s, "p50_ms": statistics.median(times),
            "p95_ms": times[max(int(round(len(times) * 0.95)) - 1, 0)], "n": len(times),
            "rows_per_request": rows / len(times), "load": os.getloadavg()[0],
            "frames_rows": sum(len(f) for f in frames.values()),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    r = measure(args.workspace, args.samples + 1)
    print(f"pandas baseline on {args.workspace}: {r['frames_rows']:,} rows loaded in {r['load_s']:.1f} s; "
          f"per request p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms ({r['n']} e-mails, "
          f"{r['rows_per_request']:.0f} rows each; load {r['load']:.2f}; peak RSS {r['peak_rss_mb']:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
