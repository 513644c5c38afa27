"""Single-subject operations on a demo workspace: lookup, the shell lookup, export, erasure, a subject with 70k rows.

    python benchmarks/single_bench.py --workspace /tmp/perf_1m --samples 10          # 1-4 on a copy of the 1M demo
    python benchmarks/single_bench.py --workspace /tmp/perf_100k --big 70000 --only big  # 5 on a copy of the 100k demo
    python benchmarks/single_bench.py --workspace W --json                           # the figures as one JSON dict

It CHANGES the workspace (audit entries, cases, exports, erased subjects, 70k rows added for --big): run it on a copy
(`cp -r /tmp/po_1m /tmp/perf_1m`), never on the shared demo. Figures (milliseconds, p50/p95 where sampled):

1. lookup, warm, in-process (`Workspace.keep_open`): by e-mail with mentions and audit on; phone; customer id; name
2. `python -m privacyops.cli lookup EMAIL` wall time (a new process each time)
3. one-subject export (the Art. 15 archive and letter)
4. one-subject erasure: plan, approve (another person), execute (with verify and the certificate), and their sum
5. a subject with N rows (`--big N`: N log-in events added with SQL to one customer's account): plan, execute

Every figure is printed with os.getloadavg() and the CPU time of the calls (this process's threads and its children):
on a busy machine the wall time stretches, the CPU time far less; read ratios. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from privacyops.access import export_subject  # noqa: E402
from privacyops.erasure import approve_plan, execute_plan, plan_erasure  # noqa: E402
from privacyops.ledger import open_case  # noqa: E402
from privacyops.lookup import lookup  # noqa: E402
from privacyops.workspace import open_workspace  # noqa: E402

AS_OF = "2026-11-20"
FIGURES: dict[str, dict[str, Any]] = {}


CPU: list[float] = []  # CPU milliseconds of the calls `timed` last measured (this process and its children)


def say(name: str, times_ms: list[float], cpu_ms: list[float] | None = None) -> None:
    """Record and print one figure (p50, p95, n; the CPU time's p50: what the call costs on an idle machine, about)
    with the load average."""
    times = sorted(times_ms)
    cpu = cpu_ms if cpu_ms is not None else CPU[-len(times):]
    fig = {"p50": round(statistics.median(times), 1), "p95": round(times[max(round(len(times) * 0.95) - 1, 0)], 1),
           "cpu_p50": round(statistics.median(cpu), 1) if cpu else None, "n": len(times),
           "load": [round(x, 2) for x in os.getloadavg()]}
    FIGURES[name] = fig
    cpu_text = f"{fig['cpu_p50']:8.1f} ms" if fig["cpu_p50"] is not None else "       -   "
    print(f"{name:52} p50 {fig['p50']:9.1f} ms   p95 {fig['p95']:9.1f} ms   cpu p50 {cpu_text}   n={fig['n']:<3} "
          f"load {fig['load']}", file=sys.stderr if ARGS.json else sys.stdout, flush=True)


def _cpu() -> float:
    """CPU seconds of this process (all its threads: DuckDB's too) and of its finished children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[Any], Any], args: list[Any]) -> list[float]:
    out = []
    CPU.clear()
    for a in args:
        t0, c0 = time.perf_counter(), _cpu()
        fn(a)
        out.append((time.perf_counter() - t0) * 1000)
        CPU.append((_cpu() - c0) * 1000)
    return out


def customers(root: Path, n: int, seed: int) -> list[tuple]:
    """(customer_id, email, phone, full_name) of `n` random customers with an e-mail and a phone (the demo's)."""
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        top = con.execute("SELECT max(customer_id) FROM crm.customers").fetchone()[0]
        ids = random.Random(seed).sample(range(1, top + 1), min(n * 3, top))
        rows = con.execute("SELECT customer_id, email, phone, full_name FROM crm.customers WHERE customer_id IN "
                           f"({', '.join('?' * len(ids))}) AND email IS NOT NULL AND phone IS NOT NULL",
                           ids).fetchall()
    finally:
        con.close()
    random.Random(seed).shuffle(rows)
    return rows[:n]


def bench_lookup(root: Path, rows: list[tuple], k: int) -> None:
    ws = open_workspace(root)
    ws.keep_open = 60.0
    lookup(ws, rows[0][1])  # warm: engines started, index and ledger opened
    part = [rows[1 + i * k:1 + (i + 1) * k] for i in range(4)]
    say("1 lookup e-mail (mentions + audit on)", timed(lambda r: lookup(ws, r[1]), part[0]))
    say("1 lookup phone (audit on)", timed(lambda r: lookup(ws, r[2], kind="phone"), part[1]))
    say("1 lookup customer id (audit on)", timed(lambda r: lookup(ws, str(r[0]), kind="customer_id"), part[2]))
    names = part[3][:max(k // 2, 3)]
    say("1 lookup name -> candidates (audit on)", timed(lambda r: lookup(ws, r[3], kind="name"), names))
    ws.close()


def bench_cli(root: Path, rows: list[tuple], k: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    def run(r: tuple) -> None:
        subprocess.run([sys.executable, "-m", "privacyops.cli", "lookup", r[1], "--workspace", str(root)], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    say("2 shell: privacyops lookup EMAIL (wall)", timed(run, rows[:k]))


def bench_export(root: Path, rows: list[tuple], k: int) -> None:
    out = Path(tempfile.mkdtemp(prefix="single_bench_export_"))
    for keep, label in ((0.0, "connections per operation"), (60.0, "keep_open, as the panels")):
        ws = open_workspace(root)
        ws.keep_open = keep
        cases = [open_case(ws, "access", AS_OF).case_id for _ in range(k + 1)]

        def one(i: int) -> None:
            export_subject(ws, cases[i], rows[i][1], password="benchmark-password-1234", out_dir=out)
        one(0)  # warm
        say(f"3 export one subject ({label})", timed(one, list(range(1, k + 1))))
        ws.close()
        rows = rows[k + 1:]


def bench_erasure(root: Path, rows: list[tuple], k: int) -> None:
    for keep, label in ((0.0, "per operation"), (60.0, "keep_open")):
        ws = open_workspace(root)
        ws.keep_open = keep
        plan_ms, approve_ms, execute_ms, total_ms, cpu_ms = [], [], [], [], []
        for i, r in enumerate(rows[:k + 1]):
            os.environ["PRIVACYOPS_ACTOR"] = "bench-preparer"
            t0, c0 = time.perf_counter(), _cpu()
            case = open_case(ws, "erasure", AS_OF)
            plan = plan_erasure(ws, case.case_id, r[1], as_of=AS_OF)
            t1 = time.perf_counter()
            os.environ["PRIVACYOPS_ACTOR"] = "bench-approver"
            approve_plan(ws, plan.plan_id)
            t2 = time.perf_counter()
            os.environ["PRIVACYOPS_ACTOR"] = "bench-preparer"
            execute_plan(ws, plan.plan_id)
            t3, c3 = time.perf_counter(), _cpu()
            if i == 0:
                continue  # warm
            cpu_ms.append((c3 - c0) * 1000)
            plan_ms.append((t1 - t0) * 1000)
            approve_ms.append((t2 - t1) * 1000)
            execute_ms.append((t3 - t2) * 1000)
            total_ms.append((t3 - t0) * 1000)
        ws.close()
        say(f"4 erasure ({label}): case + plan", plan_ms, [])
        say(f"4 erasure ({label}): approve", approve_ms, [])
        say(f"4 erasure ({label}): execute + verify + certificate", execute_ms, [])
        say(f"4 erasure ({label}): all", total_ms, cpu_ms)
        rows = rows[k + 1:]


def add_big_subject(root: Path, n: int) -> str:
    """Give one customer `n` more log-in events (SQL on the demo's tables); returns the customer's e-mail."""
    con = duckdb.connect(str(root / "company.duckdb"))
    try:
        email, account = con.execute(
            "SELECT c.email, a.account_id FROM crm.customers c JOIN app.user_accounts a USING "
            "(customer_id) WHERE c.email IS NOT NULL ORDER BY c.customer_id LIMIT 1 OFFSET 777").fetchone()
        have = con.execute("SELECT count(*) FROM app.login_events WHERE account_id = ?", [account]).fetchone()[0]
        if have < n:
            con.execute("INSERT INTO app.login_events SELECT m + i, ?, TIMESTAMP '2026-01-01' - i * INTERVAL 1 MINUTE, "
                        "'10.1.2.3', 'bench agent', true FROM range(1, ?) t(i), (SELECT max(event_id) AS m FROM "
                        "app.login_events)", [account, n - have + 1])
    finally:
        con.close()
    return email


def bench_big(root: Path, n: int) -> None:
    email = add_big_subject(root, n)
    ws = open_workspace(root)
    os.environ["PRIVACYOPS_ACTOR"] = "bench-preparer"
    case = open_case(ws, "erasure", AS_OF)
    t0, c0 = time.perf_counter(), _cpu()
    plan = plan_erasure(ws, case.case_id, email, as_of=AS_OF)
    say(f"5 big subject ({n} rows): plan", [(time.perf_counter() - t0) * 1000], [(_cpu() - c0) * 1000])
    os.environ["PRIVACYOPS_ACTOR"] = "bench-approver"
    approve_plan(ws, plan.plan_id)
    os.environ["PRIVACYOPS_ACTOR"] = "bench-preparer"
    t0, c0 = time.perf_counter(), _cpu()
    execute_plan(ws, plan.plan_id)
    say(f"5 big subject ({n} rows): execute", [(time.perf_counter() - t0) * 1000], [(_cpu() - c0) * 1000])


ARGS: argparse.Namespace


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, required=True, help="a COPY of a demo workspace (it is changed)")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--big", type=int, default=70_000, help="rows of the big subject (5)")
    ap.add_argument("--only", default="lookup,cli,export,erasure,big",
                    help="comma-separated: lookup, cli, export, erasure, big")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON dict on stdout")
    ARGS = ap.parse_args()
    os.environ.setdefault("PRIVACYOPS_ACTOR", "benchmark")
    root = ARGS.workspace.resolve()
    only = set(ARGS.only.split(","))
    k = ARGS.samples
    rows = customers(root, 4 * k + 3 * k + 4, seed=int(time.time()))  # fresh subjects each run (erased ones go)
    if "lookup" in only:
        bench_lookup(root, rows[:4 * k + 1], k)
    if "cli" in only:
        bench_cli(root, rows[4 * k + 1:], min(k, 5))
    if "export" in only:
        bench_export(root, rows, min(k, 5))
    if "erasure" in only:
        bench_erasure(root, rows[4 * k + 1:], min(k, 5))
    if "big" in only:
        bench_big(root, ARGS.big)
    if ARGS.json:
        print(json.dumps(FIGURES, indent=1))


if __name__ == "__main__":
    main()
