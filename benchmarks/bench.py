"""`./run bench`: every speed target of the project measured in one run, side by side with the pandas baseline, each
figure with the machine's 1-minute load average and the peak memory (RSS) of the process that produced it.

    ./run bench                 # the 100k-subject demo (built in /tmp/privacyops-bench unless --reuse)
    ./run bench --1m            # and the 1M-subject demo (~27M rows; builds take minutes on 2 cores)
    ./run bench --reuse         # reuse demos already built there (build times are then not measured)
    ./run bench --base DIR      # where the demos and copies live

Each part runs as its own process (the figures of one cannot warm the caches of another beyond the OS's), on a copy
where it writes. Prints the table and writes it as bench.json in --base. Asserts nothing: the targets are in the
table and the issue, not in timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PY = sys.executable


def label(subjects: int) -> str:
    return f"{subjects // 1_000_000}M" if subjects % 1_000_000 == 0 else f"{subjects // 1000}k"


def load() -> float:
    return os.getloadavg()[0]


def run(args: list[str], env: dict[str, str] | None = None, quiet: bool = False) -> tuple[float, float, str]:
    """Run a process; return (seconds, its peak RSS in MB, its output). Exits on failure with the output's tail."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    out = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        if not quiet:
            print("   | " + line.rstrip()[:150], flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(args)}\n{''.join(out)[-3000:]}")
    return secs, usage.ru_maxrss / 1024, "".join(out)


def cli(*args: str, env: dict[str, str] | None = None, quiet: bool = True) -> tuple[float, float, str]:
    return run([str(Path(PY).parent / "privacyops"), *args], env=env, quiet=quiet)


class Table:
    """Rows of the printed table: operation, target, measured, load, peak RSS, met (yes/no/-)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, op: str, target: str, measured: str, load_avg: float | None, rss_mb: float | None,
            met: bool | None) -> None:
        self.rows.append({"operation": op, "target": target, "measured": measured,
                          "load": None if load_avg is None else round(load_avg, 2),
                          "peak_rss_mb": None if rss_mb is None else round(rss_mb),
                          "met": None if met is None else bool(met)})
        r = self.rows[-1]
        print(f"== {op}: {measured}  (target {target}; load {r['load']}; peak RSS {r['peak_rss_mb']} MB)", flush=True)

    def print(self) -> None:
        w = [max([len(k)] + [len(str(r[k])) for r in self.rows]) for k in ("operation", "target", "measured")]
        head = (f"{'operation':<{w[0]}}  {'target':<{w[1]}}  {'measured':<{w[2]}}  {'load':>5}  {'peak RSS':>9}  met")
        print("\n" + head + "\n" + "-" * len(head))
        for r in self.rows:
            met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
            rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:,} MB"
            ld = "-" if r["load"] is None else f"{r['load']:.2f}"
            print(f"{r['operation']:<{w[0]}}  {r['target']:<{w[1]}}  {r['measured']:<{w[2]}}  {ld:>5}  {rss:>9}  {met}")

    def markdown(self) -> str:
        """The table as the README quotes it (written beside bench.json as bench.md)."""
        lines = ["| operation | target | measured | load | peak RSS | met |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            met = "–" if r["met"] is None else ("yes" if r["met"] else "**no**")
            rss = "–" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:,} MB"
            ld = "–" if r["load"] is None else f"{r['load']:.2f}"
            target = "–" if r["target"] == "-" else r["target"]
            lines.append(f"| {r['operation']} | {target} | {r['measured']} | {ld} | {rss} | {met} |")
        return "\n".join(lines) + "\n"


def build(folder: Path, subjects: int, reuse: bool, table: Table) -> None:
    """The demo and its lookup index, each timed as the user runs them."""
    if reuse and (folder / "company.duckdb").exists() and (folder / "index.duckdb").exists():
        print(f"reusing {folder}")
        return
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(Path(f"{folder}-people"), ignore_errors=True)
    # Without registered people: the single-subject and batch benchmarks act by PRIVACYOPS_ACTOR.
    t_build, rss_b, _ = cli("demo", "--workspace", str(folder), "--subjects", str(subjects), "--no-index",
                            "--no-people")
    t_index, rss_i, _ = cli("index", "--workspace", str(folder))
    total = t_build + t_index
    # The build's files are written back to disk in the background for a while after it returns: flushed here, so
    # the figures that follow measure privacyops, not the kernel writing gigabytes beside it.
    os.sync()
    target = "<= 60 s" if subjects >= 1_000_000 else "-"
    table.add(f"demo build {label(subjects)} + index", target,
              f"{total:.0f} s ({t_build:.0f} + {t_index:.0f})", load(), max(rss_b, rss_i),
              total <= 60 if subjects >= 1_000_000 else None)


def sample_email(folder: Path, n: int = 7, seed: int = 3) -> list[str]:
    con = duckdb.connect(str(folder / "company.duckdb"), read_only=True)
    try:
        rows = con.execute(f"SELECT email FROM crm.customers WHERE email IS NOT NULL "
                           f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)})").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def lookups(folder: Path, subjects: int, scratch: Path, table: Table) -> dict:
    """In-process lookups (p50/p95 per kind), the pandas baseline on the same demo, and a lookup from the shell."""
    out = scratch / f"lookup_{label(subjects)}.json"
    _, rss, _ = run([PY, str(HERE / "lookup_bench.py"), "--workspace", str(folder), "--reuse", "--samples", "30",
                     "--json", str(out)])
    got = json.loads(out.read_text())
    key = "indexed, connections kept open: "
    mail = got[key + "e-mail (mentions + audit on)"]
    table.add(f"lookup by e-mail, mentions + audit on ({label(subjects)})", "p50 <= 20 ms, p95 <= 60 ms",
              f"p50 {mail['p50']:.0f} ms, p95 {mail['p95']:.0f} ms", mail["load"], rss,
              mail["p50"] <= 20 and mail["p95"] <= 60)
    phone, ident = got[key + "phone (mentions on, audit off)"], got[key + "customer id (mentions on, audit off)"]
    table.add(f"lookup by phone / by id ({label(subjects)})", "p50 <= 20 ms",
              f"{phone['p50']:.0f} ms / {ident['p50']:.0f} ms", phone["load"], rss,
              phone["p50"] <= 20 and ident["p50"] <= 20)
    name = got[key + "name -> candidates (audit off)"]
    table.add(f"name search ({label(subjects)})", "p50 <= 100 ms", f"p50 {name['p50']:.0f} ms", name["load"], rss,
              name["p50"] <= 100)

    pout = scratch / f"pandas_{label(subjects)}.json"
    _, prss, _ = run([PY, str(HERE / "pandas_baseline.py"), "--workspace", str(folder), "--samples", "20",
                      "--json", str(pout)])
    base = json.loads(pout.read_text())
    ratio = base["p50_ms"] / mail["p50"]
    big = subjects >= 1_000_000  # the target is set at 1M (at 100k pandas filters 10x less data)
    table.add(f"against pandas, all frames preloaded ({label(subjects)})", ">= 40x faster" if big else "-",
              f"{ratio:.0f}x ({mail['p50']:.0f} vs {base['p50_ms']:.0f} ms; pandas load {base['load_s']:.0f} s)",
              base["load"], prss, ratio >= 40 if big else None)

    walls = []
    for email in sample_email(folder):
        secs, rss_s, _ = cli("lookup", email, "--workspace", str(folder), "--json")
        walls.append(secs)
    shell = statistics.median(walls)
    table.add(f"`privacyops lookup` from the shell ({label(subjects)})", "<= 1 s", f"p50 {shell:.2f} s", load(),
              rss_s, shell <= 1)
    return {"email_p50": mail["p50"], "email_load": mail["load"]}


def reports(folder: Path, subjects: int, scratch: Path, table: Table, notebooks: bool) -> None:
    out = scratch / f"reports_{label(subjects)}.json"
    _, rss, _ = run([PY, str(HERE / "report_bench.py"), "--reuse", str(folder), "--subjects", str(subjects),
                     "--skip-imports", "--repeat", "3", "--json", str(out)]
                    + ([] if notebooks else ["--skip-notebooks"]))
    got = json.loads(out.read_text())
    ret, con = got["retention computation"], got["consent computation"]
    table.add(f"retention / consent report computation ({label(subjects)})", "<= 1 s each",
              f"{ret['s']:.2f} s / {con['s']:.2f} s", con["load"], rss, ret["s"] <= 1 and con["s"] <= 1)
    e2e = got["report retention end to end"]
    table.add(f"`privacyops report retention` end to end ({label(subjects)})", "<= 4 s", f"{e2e['s']:.1f} s",
              e2e["load"], rss, e2e["s"] <= 4)
    if notebooks:
        nb = got["notebooks headless 1k"]
        table.add("the six notebooks headless (1k demo)", "<= 30 s", f"{nb['s']:.0f} s", nb["load"], rss,
                  nb["s"] <= 30)


def json_tail(output: str) -> dict:
    """The JSON dict a benchmark printed last (after its progress lines)."""
    at = output.rfind("\n{\n")
    return json.loads(output[at + 1:] if at >= 0 else output)


def single(folder: Path, subjects: int, scratch: Path, table: Table) -> None:
    """One subject's export and erasure (benchmarks/single_bench.py), on a copy: both the way one CLI command runs
    them (connections opened for the operation) and the way the panels do (kept open between operations)."""
    work = copy_of(folder, scratch)
    _, rss, out = run([PY, str(HERE / "single_bench.py"), "--workspace", str(work), "--samples", "6",
                       "--only", "export,erasure", "--json"], quiet=True)
    got, tag = json_tail(out), label(subjects)
    ops, kept = got["3 export one subject (connections per operation)"], got["3 export one subject (keep_open, as the panels)"]
    table.add(f"one-subject export ({tag})", "<= 300 ms",
              f"{kept['p50']:.0f} ms as the panels run it; {ops['p50']:.0f} ms opening connections", kept["load"][0],
              rss, kept["p50"] <= 300)
    e_ops, e_kept = got["4 erasure (per operation): all"], got["4 erasure (keep_open): all"]
    table.add(f"one-subject erasure: plan+approve+execute+verify+certificate ({tag})", "<= 1 s",
              f"{e_kept['p50'] / 1000:.2f} s as the panels; {e_ops['p50'] / 1000:.2f} s opening connections",
              e_kept["load"][0], rss, e_kept["p50"] <= 1000)
    if subjects < 1_000_000:  # the 70k-row subject is added to the 100k demo
        work = copy_of(folder, scratch)
        _, rss, out = run([PY, str(HERE / "single_bench.py"), "--workspace", str(work), "--big", "70000",
                           "--only", "big", "--json"], quiet=True)
        got = json_tail(out)
        plan, execute = got["5 big subject (70000 rows): plan"], got["5 big subject (70000 rows): execute"]
        table.add(f"a subject with 70k rows: plan / execute ({tag})", "<= 5 s / <= 10 s",
                  f"{plan['p50'] / 1000:.1f} s / {execute['p50'] / 1000:.1f} s", execute["load"][0], rss,
                  plan["p50"] <= 5000 and execute["p50"] <= 10000)


def batch(folder: Path, subjects: int, scratch: Path, table: Table) -> None:
    """1,000 subjects erased from a CSV (benchmarks/batch_bench.py) on a copy."""
    _, rss, out = run([PY, str(HERE / "batch_bench.py"), "--demo", str(folder), "--work",
                       str(scratch / f"batch_{label(subjects)}"), "--fresh", "--n", "1000", "--seed", "4", "--json"],
                      quiet=True)
    got = json.loads(out.strip().splitlines()[-1])
    plan, execute = got["plan"], got["execute"]
    rates = plan["subjects_per_s"] >= 500 and execute["subjects_per_s"] >= 1000
    big = subjects >= 1_000_000  # the issue sets the rates on the 100k demo; at 1M its memory bound applies
    table.add(f"batch erasure of 1,000 subjects from a CSV ({label(subjects)})",
              "peak RSS <= 1 GB" if big else "plan >= 500/s, execute >= 1,000/s",
              f"plan {plan['subjects_per_s']:.0f}/s, execute {execute['subjects_per_s']:.0f}/s "
              f"({got['subjects']} subjects, {got['rows']:,} rows)", execute["load"][0], rss,
              rss <= 1024 if big else rates)
    shutil.rmtree(scratch / f"batch_{label(subjects)}", ignore_errors=True)


def copy_of(folder: Path, scratch: Path) -> Path:
    """A copy to write into (the lookup index travels with it); the demo's people keys beside it."""
    dest = scratch / f"{folder.name}_copy"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest)
    people = Path(f"{folder}-people")
    if people.is_dir():
        shutil.rmtree(Path(f"{dest}-people"), ignore_errors=True)
        shutil.copytree(people, Path(f"{dest}-people"))
    resign(dest)
    os.sync()  # the copy's gigabytes written back now, not during the figures taken on it
    return dest


def resign(copy: Path) -> None:
    """A byte-for-byte copy has its files' data but not their stat (path, inode), which the lookup index records to
    notice changes: every process would recompute the checksums once. The copy's stat is recorded instead, as if
    `privacyops index --refresh` had found every dataset unchanged (it is a copy: nothing changed)."""
    sys.path.insert(0, str(ROOT))
    from privacyops.workspace import open_workspace
    from privacyops.workspace.lookup_index import source_signature

    if not (copy / "index.duckdb").exists():
        return
    ws = open_workspace(copy)
    sigs = {name: source_signature(ws.connector(name), [d for d in ws.datamap.datasets.values() if d.source == name])
            for name in ws.datamap.sources}
    ws.close()
    con = duckdb.connect(str(copy / "index.duckdb"))
    try:
        for name, sig in sigs.items():
            con.execute("UPDATE sources SET signature = ? WHERE source = ?", [sig, name])
    finally:
        con.close()


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, " \
           f"Python {platform.python_version()}, DuckDB {duckdb.__version__}"


def reference() -> dict:
    """The machine's speed on fixed work, so that figures taken on different machines (or on one whose host is busy)
    can be compared: a pure-Python loop (the per-row work of planning, fingerprints, JSON) and a one-thread DuckDB
    aggregate (the scans). Best of three, in ms; a slower machine shows larger numbers here and in the table alike."""
    def best(fn) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        return round(min(times))

    def python_loop() -> None:
        total = 0
        for i in range(5_000_000):
            total += i

    con = duckdb.connect()
    con.execute("SET threads = 1")
    try:
        db = best(lambda: con.execute("SELECT sum(hash(i)) FROM range(20000000) t(i)").fetchall())
    finally:
        con.close()
    return {"python_loop_ms": best(python_loop), "duckdb_scan_ms": db}


def reference_text(ref: dict) -> str:
    return (f"speed reference: Python loop of 5M additions {ref['python_loop_ms']} ms, DuckDB sum of 20M hashes on "
            f"one thread {ref['duckdb_scan_ms']} ms (smaller is faster)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--1m", dest="million", action="store_true", help="also the 1M-subject demo")
    ap.add_argument("--reuse", action="store_true", help="reuse demos already built in --base")
    ap.add_argument("--base", type=Path, default=Path(tempfile.gettempdir()) / "privacyops-bench")
    ap.add_argument("--only-1m", action="store_true", help="skip the 100k part (with --1m)")
    args = ap.parse_args()
    args.base.mkdir(parents=True, exist_ok=True)
    ref = reference()
    print(f"machine: {machine()}\n{reference_text(ref)}\n"
          f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n", flush=True)
    table = Table()
    sizes = ([] if args.only_1m else [100_000]) + ([1_000_000] if args.million else [])
    growth = {}
    scratch = Path(tempfile.mkdtemp(prefix="figures_", dir=args.base))
    try:
        for n in sizes:
            folder = args.base / f"po_{label(n).lower()}"
            build(folder, n, args.reuse, table)
            growth[n] = lookups(folder, n, scratch, table)
            single(folder, n, scratch, table)
            batch(folder, n, scratch, table)
            reports(copy_of(folder, scratch), n, scratch, table, notebooks=(n == sizes[0]))
        peaks = [r for r in table.rows if r["peak_rss_mb"] is not None and "pandas" not in r["operation"]]
        worst = max(peaks, key=lambda r: r["peak_rss_mb"])
        table.add("peak RSS of any privacyops process above", "<= 1 GB",
                  f"{worst['peak_rss_mb']:,} MB ({worst['operation']})", None, worst["peak_rss_mb"],
                  worst["peak_rss_mb"] <= 1024)
        if 100_000 in growth and 1_000_000 in growth:
            a, b = growth[100_000], growth[1_000_000]
            ratio = b["email_p50"] / a["email_p50"]
            table.add("growth 100k -> 1M (e-mail lookup p50)", "<= 1.5x", f"{ratio:.2f}x", b["email_load"], None,
                      ratio <= 1.5)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table.print()
    end = reference()  # again at the end: a host that slowed down during the run shows here
    print(f"\nmachine: {machine()}; load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
          f"at the start {reference_text(ref)}\nat the end {reference_text(end)}")
    (args.base / "bench.json").write_text(json.dumps({"machine": machine(), "reference": {"start": ref, "end": end},
                                                      "rows": table.rows}, indent=1))
    (args.base / "bench.md").write_text(table.markdown())
    print(f"figures written to {args.base / 'bench.json'} (and as a Markdown table, {args.base / 'bench.md'})")


if __name__ == "__main__":
    main()
