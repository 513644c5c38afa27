"""Demo generation at scale: build and index time, rows, peak memory and point-lookup timings.

    python benchmarks/demo_scale.py --subjects 1000000 --out /tmp/bench_ws --json /tmp/demo_scale.json
    python benchmarks/demo_scale.py --subjects 1000000 --out /tmp/bench_pk --primary-keys   # PRIMARY KEY variant
    python benchmarks/demo_scale.py --out /tmp/bench_ws --reuse --indexes                    # + ART indexes after

The default run times what a user runs, each as its own process: ``privacyops demo --subjects N`` (the build; it
creates the indexes too unless ``--demo-no-index``) and ``privacyops index`` (the source indexes that are missing,
and the lookup index, rebuilt every time), and prints build seconds, index seconds,
their total, rows, the peak RSS of each process and ``os.getloadavg()`` (the machine may be shared: read the figures
beside the load). ``--json PATH`` writes those figures for the bench table.

Prints figures; asserts nothing (targets live here, not in timed unit tests). The lookups are the access paths
privacyops uses: a person's rows by key (`customer_id IN (...)`, zonemaps from the foreign-key ordering), the
identity match `lower(trim(email)) = ?`, the child tables of a person and a free-text mention scan.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from privacyops.demo import demo_build as demo


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def _run(args: list[str]) -> tuple[float, float, float]:
    """Run ``python -m privacyops.cli ARGS`` as a child process: (wall seconds, CPU seconds, peak RSS MiB) of it alone."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "privacyops.cli", *args], env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"privacyops {' '.join(args)} failed with exit code {proc.returncode}")
    rss = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return wall, usage.ru_utime + usage.ru_stime, rss


def _rows(root: Path) -> dict[str, int]:
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        tables = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for (t,) in tables}
        lake = str(root / "lake" / "web" / "analytics_events" / "*.parquet")
        rows["web.analytics_events"] = con.execute(f"SELECT count(*) FROM read_parquet('{lake}')").fetchone()[0]
    finally:
        con.close()
    return rows


def cli_pipeline(root: Path, subjects: int, seed: int, json_path: Path | None, demo_index: bool = True) -> None:
    """Time `privacyops demo` (with its own indexes unless not `demo_index`) then `privacyops index`, each in its
    own process; print (and write) the figures."""
    load_before = os.getloadavg()
    b_wall, b_cpu, b_rss = _run(["demo", "-w", str(root), "--subjects", str(subjects), "--seed", str(seed),
                                 "--no-people", *([] if demo_index else ["--no-index"])])
    i_wall, i_cpu, i_rss = _run(["index", "-w", str(root)])
    load_after = os.getloadavg()
    rows = _rows(root)
    total_rows = sum(rows.values())
    print(f"\n{subjects:,} subjects (seed {seed}), {os.cpu_count()} CPUs, "
          f"load before {tuple(round(x, 2) for x in load_before)} after {tuple(round(x, 2) for x in load_after)}")
    demo_cmd = "privacyops demo" if demo_index else "privacyops demo --no-index"
    print(f"  build  ({demo_cmd:26}) {b_wall:7.1f} s  CPU {b_cpu:7.1f} s  peak RSS {b_rss:7,.0f} MiB")
    print(f"  index  ({'privacyops index':26}) {i_wall:7.1f} s  CPU {i_cpu:7.1f} s  peak RSS {i_rss:7,.0f} MiB")
    print(f"  total                               {b_wall + i_wall:7.1f} s  CPU {b_cpu + i_cpu:7.1f} s  "
          f"peak RSS {max(b_rss, i_rss):7,.0f} MiB")
    print(f"  rows {total_rows:,} ({total_rows / subjects:.1f} per subject); company.duckdb "
          f"{_size(root / 'company.duckdb') / 2**20:,.0f} MiB, index.duckdb {_size(root / 'index.duckdb') / 2**20:,.0f} MiB")
    if json_path is not None:
        figures = {"subjects": subjects, "seed": seed, "cpus": os.cpu_count(), "demo_builds_indexes": demo_index,
                   "build_seconds": round(b_wall, 2), "index_seconds": round(i_wall, 2),
                   "total_seconds": round(b_wall + i_wall, 2), "build_cpu_seconds": round(b_cpu, 2),
                   "index_cpu_seconds": round(i_cpu, 2), "rows": total_rows, "rows_per_dataset": rows,
                   "build_peak_rss_mib": round(b_rss), "index_peak_rss_mib": round(i_rss),
                   "peak_rss_mib": round(max(b_rss, i_rss)), "loadavg_before": list(load_before),
                   "loadavg_after": list(load_after)}
        json_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"  figures written to {json_path}")


def _timed(con: duckdb.DuckDBPyConnection, sql: str, params_list: list[list]) -> tuple[float, float, float, int]:
    times, rows = [], 0
    for params in params_list:
        t0 = time.perf_counter()
        rows += len(con.execute(sql, params).fetchall())
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[max(0, int(round(len(times) * 0.95)) - 1)]
    return statistics.median(times), p95, times[-1], rows


def lookups(root: Path, samples: int) -> None:
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    lake = str(root / "lake" / "web" / "analytics_events" / "*.parquet")
    n = con.execute("SELECT max(customer_id) FROM crm.customers").fetchone()[0]
    step = max(n // samples, 1)
    people = con.execute("SELECT customer_id, email, phone FROM crm.customers WHERE customer_id % ? = 3 "
                         "ORDER BY customer_id LIMIT ?", [step, samples]).fetchall()
    accounts = {cid: [r[0] for r in con.execute("SELECT account_id FROM app.user_accounts WHERE customer_id = ?",
                                                [cid]).fetchall()] for cid, _e, _p in people}
    con.close()
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)  # cold-ish: a fresh connection
    ids = [[p[0]] for p in people]
    emails = [[f"  {p[1].upper()} "] for p in people]
    acc = [[accounts[p[0]]] for p in people]
    cases = [
        ("customers: customer_id = ?", "SELECT * FROM crm.customers WHERE customer_id = ?", ids),
        ("customers: lower(trim(email)) = ?", "SELECT * FROM crm.customers WHERE lower(trim(email)) = lower(trim(?))",
         emails),
        ("accounts: lower(trim(email)) = ?",
         "SELECT * FROM app.user_accounts WHERE lower(trim(email)) = lower(trim(?))", emails),
        ("email_sends: lower(trim(email)) = ?",
         "SELECT * FROM marketing.email_sends WHERE lower(trim(email)) = lower(trim(?))", emails),
        ("customers: phone last 8 digits",
         "SELECT * FROM crm.customers WHERE right(regexp_replace(phone, '\\D', '', 'g'), 8) = "
         "right(regexp_replace(?, '\\D', '', 'g'), 8)", [[p[2]] for p in people]),
        ("tickets: customer_id IN (...)", "SELECT * FROM support.tickets WHERE customer_id IN (SELECT unnest(?))",
         [[[p[0]]] for p in people]),
        ("invoices: customer_id IN (...)", "SELECT * FROM billing.invoices WHERE customer_id IN (SELECT unnest(?))",
         [[[p[0]]] for p in people]),
        ("invoice_lines of a customer (2 steps)",
         "SELECT * FROM billing.invoice_lines WHERE invoice_id IN "
         "(SELECT invoice_id FROM billing.invoices WHERE customer_id = ?)", ids),
        ("login_events: account_id IN (...)",
         "SELECT * FROM app.login_events WHERE account_id IN (SELECT unnest(?))", acc),
        ("login_events: list_contains(?, account_id)",
         "SELECT * FROM app.login_events WHERE list_contains(?, account_id)", acc),
        ("analytics (parquet): account_id IN (...)",
         f"SELECT * FROM read_parquet('{lake}') WHERE account_id IN (SELECT unnest(?))", acc),
        ("ticket_messages: body mentions e-mail (scan)",
         "SELECT message_id FROM support.ticket_messages WHERE contains(lower(body), lower(?))",
         [[p[1]] for p in people[:5]]),
    ]
    print(f"\npoint lookups over {len(people)} sampled customers (fresh read-only connection):")
    print(f"  {'lookup':48} {'median ms':>10} {'p95 ms':>9} {'max ms':>9} {'rows':>7}")
    for label, sql, params in cases:
        med, p95, mx, rows = _timed(con, sql, params)
        print(f"  {label:48} {med:10.2f} {p95:9.2f} {mx:9.2f} {rows:7d}")
    con.close()


def add_indexes(root: Path) -> None:
    """ART indexes on the lookup paths, built after generation (the alternative to PRIMARY KEY constraints)."""
    con = duckdb.connect(str(root / "company.duckdb"))
    statements = [
        "CREATE INDEX ix_customers_id ON crm.customers (customer_id)",
        "CREATE INDEX ix_customers_email ON crm.customers ((lower(trim(email))))",
        "CREATE INDEX ix_accounts_customer ON app.user_accounts (customer_id)",
        "CREATE INDEX ix_logins_account ON app.login_events (account_id)",
        "CREATE INDEX ix_tickets_customer ON support.tickets (customer_id)",
        "CREATE INDEX ix_invoices_customer ON billing.invoices (customer_id)",
        "CREATE INDEX ix_lines_invoice ON billing.invoice_lines (invoice_id)",
        "CREATE INDEX ix_sends_email ON marketing.email_sends ((lower(trim(email))))",
    ]
    print("\nbuilding ART indexes after generation:")
    total = time.perf_counter()
    for sql in statements:
        t0 = time.perf_counter()
        con.execute(sql)
        print(f"  {sql.split(' ON ')[0][13:]:28} {time.perf_counter() - t0:6.2f} s")
    con.execute("CHECKPOINT")
    con.close()
    print(f"  total {time.perf_counter() - total:.1f} s; database now {_size(root / 'company.duckdb') / 2**20:,.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_ws"))
    ap.add_argument("--json", type=Path, default=None, metavar="PATH",
                    help="write build/index/total seconds, rows, peak RSS and the load average as JSON")
    ap.add_argument("--samples", type=int, default=20, help="customers sampled for the point lookups")
    ap.add_argument("--no-lookups", action="store_true", help="only the build and index figures")
    ap.add_argument("--demo-no-index", action="store_true",
                    help="time `privacyops demo --no-index` (the indexes are then all built by `privacyops index`)")
    ap.add_argument("--reuse", action="store_true", help="skip generation if --out already holds a company")
    ap.add_argument("--primary-keys", action="store_true",
                    help="in-process build declaring PRIMARY KEY constraints while generating")
    ap.add_argument("--indexes", action="store_true", help="after generating, build ART indexes and time again")
    ap.add_argument("--memory-limit", default=None, help=f"DuckDB memory_limit (default {demo.MEMORY_LIMIT})")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args()

    if args.reuse and (args.out / "company.duckdb").exists():
        pass
    elif args.primary_keys or args.memory_limit:  # settings of the generator: measured in this process
        demo.PRIMARY_KEY_CONSTRAINTS = args.primary_keys
        if args.memory_limit:
            demo.MEMORY_LIMIT = args.memory_limit
        t0 = time.perf_counter()
        summary = demo.generate_demo(args.out, subjects=args.subjects, seed=args.seed, progress=not args.quiet)
        wall = time.perf_counter() - t0
        total = sum(summary.rows.values())
        print(f"\ngenerated {summary.subjects:,} subjects (seed {summary.seed}) in {summary.seconds:.1f} s "
              f"(wall {wall:.1f} s){' with PRIMARY KEY constraints' if args.primary_keys else ''}; "
              f"load {os.getloadavg()}")
        for name, n in summary.rows.items():
            print(f"  {name:32} {n:>13,}")
        print(f"  {'total':32} {total:>13,}  ({total / summary.subjects:.1f} rows per subject, "
              f"{total / summary.seconds:,.0f} rows/s)")
        print(f"peak RSS {_peak_rss_mb():,.0f} MiB (memory_limit {demo.MEMORY_LIMIT}); "
              f"company.duckdb {_size(args.out / 'company.duckdb') / 2**20:,.0f} MiB, "
              f"lake {_size(args.out / 'lake') / 2**20:,.0f} MiB")
    else:
        cli_pipeline(args.out, args.subjects, args.seed, args.json, demo_index=not args.demo_no_index)
    if not args.no_lookups:
        lookups(args.out, args.samples)
    if args.indexes:
        add_indexes(args.out)
        lookups(args.out, args.samples)
    print(f"\npeak RSS of this process: {_peak_rss_mb():,.0f} MiB; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
