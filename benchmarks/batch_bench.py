"""Batch erasure at scale: plan / approve / execute / verify of N subjects from a CSV file, in subjects per second,
with the peak RSS and the load average beside each figure.

    python benchmarks/batch_bench.py                                 # 1,000 subjects, a copy of /tmp/po_100k
    python benchmarks/batch_bench.py --demo /tmp/po_1m --n 1000      # the 1M demo (copied to /tmp/batch_1m)
    python benchmarks/batch_bench.py --json                          # the figures as JSON on the last line
    python benchmarks/batch_bench.py --trace                         # the peak RSS of each step, DuckDB's memory

The shared demos (/tmp/po_100k, /tmp/po_1m) are never written: the benchmark works on a copy (`--work`, by default
/tmp/batch_<size>), made once and reused — each run erases other subjects (sampled among those still there);
`--fresh` copies again. With people registered in the demo's ledger, give their keys (--preparer-key,
--approver-key: docs/people.md); without, PRIVACYOPS_ACTOR names them. On a shared machine read the ratios: the
load average says how busy it was. Asserts nothing but that the plan executed and verified. DuckDB files opened
read-only get PRIVACYOPS_DUCKDB_MEMORY (default 512MB) as their memory limit; the figures record it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacyops.erasure import approve_plan, execute_plan, plan_batch  # noqa: E402
from privacyops.erasure import execute as execute_mod  # noqa: E402
from privacyops.ledger import open_case  # noqa: E402
from privacyops.sources.duckdb import duckdb_limits  # noqa: E402
from privacyops.workspace import open_workspace  # noqa: E402

SHARED = ("/tmp/po_100k", "/tmp/po_1m")  # read-only demos other people use: never written


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemoryTrace:
    """--trace: which step of which phase holds the most memory. A thread samples the resident set (VmRSS) every
    20 ms under the label of the step running (functions of the erasure modules wrapped by `label`); at each step's
    end the open DuckDB handles' `duckdb_memory()` by tag is printed."""

    def __init__(self, ws) -> None:
        self.ws, self.step, self.peaks, self.order = ws, "start", {}, []
        self.stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    @staticmethod
    def rss() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20

    def _sample(self) -> None:
        while not self.stop.wait(0.02):
            step = self.step
            if step not in self.peaks:
                self.order.append(step)
            self.peaks[step] = max(self.peaks.get(step, 0.0), self.rss())

    def label(self, module, name: str, step: str | None = None) -> None:
        real = getattr(module, name)

        def traced(*a, **kw):
            outer, self.step = self.step, step or name
            try:
                return real(*a, **kw)
            finally:
                self.peaks[self.step] = max(self.peaks.get(self.step, 0.0), self.rss())
                self.duckdb(self.step)
                self.step = outer

        setattr(module, name, traced)

    def duckdb(self, where: str) -> None:
        parts = []
        for key, con in list(self.ws._connectors.items()):
            engine = getattr(con, "con", None)
            if engine is None:
                continue
            try:
                got = engine.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE "
                                     "memory_usage_bytes > 0").fetchall()
            except Exception:  # noqa: BLE001 - closed, or inside an aborted transaction
                continue
            mem = ", ".join(f"{t} {b / 2 ** 20:.0f}" for t, b in got)
            parts.append(f"{key.replace(chr(0), ':')}[{mem}]")
        print(f"    after {where:16s} rss {self.rss():6.0f} MB  duckdb MB: {'; '.join(parts) or '-'}",
              file=sys.stderr)

    def report(self) -> dict:
        self.stop.set()
        print("peak RSS by step (MB): " + ", ".join(f"{s} {self.peaks[s]:.0f}" for s in self.order), file=sys.stderr)
        return {s: round(self.peaks[s]) for s in self.order}


def trace_steps(trace: MemoryTrace) -> None:
    """The steps of plan / execute / verify whose peak memory --trace reports."""
    from privacyops.erasure import apply as apply_mod
    from privacyops.erasure import due as due_mod
    from privacyops.erasure import verify as verify_mod

    for name in ("lookup_many", "stored_rows", "settle", "cover_holds"):
        if hasattr(due_mod, name):
            trace.label(due_mod, name, f"plan.{name}")
    for name in ("_check_stale", "_erase_source", "_finalise", "_refresh_index", "verify_plan", "issue"):
        trace.label(execute_mod, name, f"execute.{name}")
    trace.label(apply_mod, "_apply_dataset", "execute.write")
    for name in ("_new_by_lookup", "_check_source", "_orphans_by_email"):
        trace.label(verify_mod, name, f"check.{name}")


def prepare(demo: Path, work: Path, fresh: bool) -> None:
    if str(work.resolve()) in SHARED or work.resolve() == demo.resolve():
        sys.exit(f"refusing to work in {work}: it is a shared demo; give --work /tmp/batch_...")
    if fresh and work.exists():
        shutil.rmtree(work)
    if not (work / "company.duckdb").exists():
        t0 = time.perf_counter()
        shutil.copytree(demo, work, ignore=shutil.ignore_patterns("*.tmp", "lookup_bench.json"))
        print(f"copied {demo} to {work} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def sample(work: Path, n: int, seed: int, out: Path) -> int:
    """N customers still there, by e-mail (or by pick where they have none), written as a CSV of subjects."""
    con = duckdb.connect(str(work / "company.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT customer_id, email FROM crm.customers ORDER BY customer_id").fetchall()
    finally:
        con.close()
    picked = random.Random(seed).sample(rows, min(n, len(rows)))
    with out.open("w", encoding="utf-8") as f:
        f.write("subject,pick\n")
        for cid, email in picked:
            f.write(f"{email}," if email and "," not in email else f",crm.customers:{cid}")
            f.write("\n")
    return len(picked)


def as_person(name: str, key: str | None) -> None:
    os.environ["PRIVACYOPS_ACTOR"] = name
    if key:
        os.environ["PRIVACYOPS_PERSON_KEY"] = key


def run(args: argparse.Namespace) -> dict:
    demo, work = Path(args.demo), Path(args.work or f"/tmp/batch_{Path(args.demo).name.removeprefix('po_')}")
    prepare(demo, work, args.fresh)
    csv_path = work / "batch_subjects.csv"
    n = sample(work, args.n, args.seed, csv_path)
    ws = open_workspace(work)
    ws.keep_open = 60
    figures: dict = {"workspace": str(work), "subjects_in_file": n,
                     "duckdb_read_memory_limit": duckdb_limits()[0]}

    def phase(name: str, count: int, t0: float) -> None:
        secs = time.perf_counter() - t0
        figures[name] = {"seconds": round(secs, 2), "subjects_per_s": round(count / secs, 1) if secs else None,
                         "peak_rss_mb": round(rss_mb()), "load": [round(x, 2) for x in os.getloadavg()]}
        print(f"{name:8s} {count:6d} subjects in {secs:7.2f} s = {count / secs:8.1f}/s   peak RSS "
              f"{rss_mb():6.0f} MB   load {os.getloadavg()[0]:.2f}", file=sys.stderr)

    trace = MemoryTrace(ws) if args.trace else None
    if trace:
        trace_steps(trace)
    as_person(args.preparer, args.preparer_key)
    case_id = open_case(ws, "erasure", time.strftime("%Y-%m-%d")).case_id
    t0 = time.perf_counter()
    plan = plan_batch(ws, csv_path, case_id, progress=args.progress)
    subjects, plan_id = len(plan.subjects), plan.plan_id
    figures["subjects"], figures["rows"], figures["skipped"] = subjects, len(plan.rows), len(plan.skipped)
    del plan  # `privacyops erase execute` runs in a process of its own, which never held the planning's objects
    phase("plan", subjects, t0)
    as_person(args.approver, args.approver_key)
    t0 = time.perf_counter()
    approve_plan(ws, plan_id)
    phase("approve", subjects, t0)
    verify_secs = []
    real_verify = execute_mod.verify_plan

    def timed_verify(*a, **kw):  # verification is a step of execute: timed apart
        v0 = time.perf_counter()
        try:
            return real_verify(*a, **kw)
        finally:
            verify_secs.append(time.perf_counter() - v0)

    execute_mod.verify_plan = timed_verify
    t0 = time.perf_counter()
    result = execute_plan(ws, plan_id, progress=args.progress)
    phase("execute", subjects, t0)
    execute_mod.verify_plan = real_verify
    figures["verify"] = {"seconds": round(sum(verify_secs), 2),
                         "subjects_per_s": round(subjects / sum(verify_secs), 1) if sum(verify_secs) else None}
    figures["verified"] = result.ok
    figures["peak_rss_mb"] = round(rss_mb())
    if trace:
        figures["peak_rss_mb_by_step"] = trace.report()
    print(f"verify   (inside execute) {sum(verify_secs):.2f} s; verified: {result.ok}; certificate "
          f"{result.certificate_path}", file=sys.stderr)
    if not result.ok:
        print("problems: " + "; ".join(result.verification.problems[:5]), file=sys.stderr)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo", default="/tmp/po_100k", help="the demo workspace to copy (never written)")
    ap.add_argument("--work", help="the copy to work on (default /tmp/batch_<size>)")
    ap.add_argument("--fresh", action="store_true", help="copy the demo again")
    ap.add_argument("--n", type=int, default=1000, help="subjects in the batch")
    ap.add_argument("--seed", type=int, default=None, help="sampling seed (default: time)")
    ap.add_argument("--preparer", default="bench-preparer")
    ap.add_argument("--approver", default="bench-approver")
    ap.add_argument("--preparer-key", help="PRIVACYOPS_PERSON_KEY of the preparer (people registered)")
    ap.add_argument("--approver-key", help="PRIVACYOPS_PERSON_KEY of the approver")
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--trace", action="store_true", help="the peak RSS of each step, DuckDB's memory after each")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON (last line)")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int(time.time())
    figures = run(args)
    figures["seed"] = args.seed
    if args.json:
        print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
