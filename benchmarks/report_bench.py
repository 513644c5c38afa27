"""Report speed: each report's computation, `privacyops report retention` end to end, `report all`, and the six
notebooks headless on the 1k demo, each figure with the 1-minute load average beside it (2 shared cores: read the
figures against the load).

    python benchmarks/report_bench.py                                   # builds a 100k demo in a temp folder
    python benchmarks/report_bench.py --reuse /tmp/po_100k              # an existing demo (copied first: the runs
                                                                        # write to its ledger and outputs)
    python benchmarks/report_bench.py --subjects 1000000 --reuse /tmp/po_1m
    python benchmarks/report_bench.py --skip-notebooks                  # without the 1k notebook suite
    python benchmarks/report_bench.py --reuse /tmp/po_100k --golden capture /tmp/golden.json   # before a change
    python benchmarks/report_bench.py --reuse /tmp/po_100k --golden compare /tmp/golden.json   # after it

`--golden` keeps (capture) or checks (compare) every report's figures (to_dict without the timing), text and page
(the "computed in" time masked) for three report dates: a change to how reports are computed must leave them equal.

The demo is built at most once (without people or lookup indexes: reports need neither); a reused one is copied
(`--in-place` uses it as it is). Prints figures; asserts nothing (the targets live in the issue, not in timed tests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-30"


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def _cli(*args: str, env: dict[str, str] | None = None) -> float:
    """Seconds one `privacyops ...` takes as its own process (what a scheduler sees)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from privacyops.cli import main; main()", *args], check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if done.returncode:
        sys.exit(f"privacyops {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def _build(where: Path, subjects: int, people: bool = False) -> Path:
    t0 = time.perf_counter()
    _cli("demo", "--workspace", str(where), "--subjects", str(subjects), *([] if people else ["--no-people"]),
         "--no-index")
    print(f"built a {subjects:,}-subject demo in {time.perf_counter() - t0:.1f} s ({_load()})", flush=True)
    return where


FIGURES: dict[str, dict] = {}  # name -> {"s": seconds, "load": load average}; written by --json


def _keep(name: str, seconds: float) -> None:
    FIGURES[name] = {"s": seconds, "load": os.getloadavg()[0]}


def computations(ws_path: Path, repeat: int) -> None:
    """Each report computed in this process (the workspace opened once), best and median of `repeat` runs."""
    sys.path.insert(0, str(ROOT))
    from privacyops.reports import consent_report, requests_report, retention_report
    from privacyops.workspace import open_workspace

    ws = open_workspace(ws_path)
    for name, compute in (("retention", lambda: retention_report(ws, AS_OF, audit_log=False)),
                          ("consent", lambda: consent_report(ws, AS_OF, audit_log=False)),
                          ("requests", lambda: requests_report(ws, AS_OF))):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            compute()
            times.append(time.perf_counter() - t0)
        _keep(f"{name} computation", statistics.median(times))
        print(f"  {name:<10} computation   best {min(times):6.2f} s  median {statistics.median(times):6.2f} s  "
              f"({_load()})", flush=True)


GOLDEN_DATES = ("2026-11-30", "2025-06-15", "2027-03-01")


def golden(ws_path: Path, mode: str, path: Path) -> None:
    """Capture or compare the reports' outputs (see the module docstring)."""
    import difflib
    import json
    import re

    sys.path.insert(0, str(ROOT))
    from privacyops.reports import consent_report, requests_report, retention_report
    from privacyops.workspace import open_workspace

    ws = open_workspace(ws_path)
    now = {}
    for day in GOLDEN_DATES:
        for name, report in (("retention", retention_report(ws, day, audit_log=False)),
                             ("consent", consent_report(ws, day, audit_log=False)),
                             ("requests", requests_report(ws, day))):
            data = report.to_dict()
            data.pop("seconds", None)
            page = re.sub(r"computed in [0-9.]+ s", "computed in X s", report.to_html())
            now[f"{name}@{day}"] = {"dict": json.loads(json.dumps(data, default=str)), "text": report.text(),
                                    "html": page}
    if mode == "capture":
        path.write_text(json.dumps(now, indent=1, sort_keys=True), encoding="utf-8")
        print(f"captured {len(now)} report outputs into {path}")
        return
    before, diffs = json.loads(path.read_text(encoding="utf-8")), 0
    for key, parts in now.items():
        for part, value in parts.items():
            if json.loads(json.dumps(value, sort_keys=True)) != before[key][part]:
                diffs += 1
                print(f"DIFFERS: {key} {part}")
                if part != "dict":
                    print("\n".join(list(difflib.unified_diff(before[key][part].splitlines(), value.splitlines(),
                                                              lineterm=""))[:20]))
    print(f"compared {len(now)} report outputs with {path}: {diffs} difference(s)")
    if diffs:
        sys.exit(1)


def imports() -> None:
    """What a notebook's first cell imports, in a fresh interpreter (best of 3)."""
    for stmt in ("import privacyops.jobs", "from privacyops.jobs import retention"):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", stmt], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            times.append(time.perf_counter() - t0)
        print(f"  {stmt:<40} {min(times):6.2f} s  (interpreter included; {_load()})", flush=True)


def end_to_end(ws_path: Path, out: Path) -> None:
    """`privacyops report retention` and `privacyops report all`, each as its own process."""
    for which in ("retention", "all"):
        secs = _cli("report", which, "--workspace", str(ws_path), "--as-of", AS_OF, "--out", str(out))
        _keep(f"report {which} end to end", secs)
        print(f"  report {which:<10} end to end {secs:6.2f} s  ({_load()})", flush=True)


def notebooks_1k(scratch: Path) -> None:
    """The six notebooks headless (`privacyops run-notebooks`) on a 1k demo whose analyst runs them."""
    ws = _build(scratch / "demo_1k", 1000, people=True)
    key = scratch / "demo_1k-people" / "analyst.key"
    env = {"PRIVACYOPS_PERSON_KEY": str(key)} if key.is_file() else {}
    secs = _cli("run-notebooks", "--workspace", str(ws), "--out", str(scratch / "nb_out"), env=env)
    _keep("notebooks headless 1k", secs)
    print(f"  six notebooks headless (1k)  {secs:6.2f} s  ({_load()})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--reuse", type=Path, default=None, help="an existing demo workspace of that size")
    ap.add_argument("--in-place", action="store_true", help="run on --reuse itself, not on a copy")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-notebooks", action="store_true")
    ap.add_argument("--skip-imports", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here (for benchmarks/bench.py)")
    ap.add_argument("--golden", nargs=2, metavar=("capture|compare", "FILE"), default=None,
                    help="only capture or compare the reports' outputs")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="report_bench_"))
    try:
        if args.reuse and args.in_place:
            ws = args.reuse
        elif args.reuse:
            ws = Path(shutil.copytree(args.reuse, scratch / "ws", ignore=shutil.ignore_patterns("index.duckdb*")))
        else:
            ws = _build(scratch / "ws", args.subjects)
        if args.golden:
            golden(ws, args.golden[0], Path(args.golden[1]))
            return
        print(f"reports on {ws} ({args.subjects:,} subjects), as of {AS_OF}", flush=True)
        computations(ws, args.repeat)
        if not args.skip_imports:
            imports()
        end_to_end(ws, scratch / "out")
        if not args.skip_notebooks:
            notebooks_1k(scratch)
        if args.json:
            import json

            args.json.write_text(json.dumps(FIGURES, indent=1))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
