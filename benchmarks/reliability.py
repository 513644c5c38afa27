"""The figures behind the README's "Guarantees": tamper detection, key loss, hostile input, data at rest.

    python benchmarks/reliability.py            # the full runs (>= 1,000 tamper attempts; a few minutes)
    python benchmarks/reliability.py --quick    # the smaller versions the test suite also runs

Each part is its own script in this folder (reliability_tamper.py, reliability_keys.py, reliability_hostile.py,
reliability_sealing.py) with a `run()` that builds its own throwaway workspaces and returns its figures; this one runs
them in turn, prints one table with the machine's load average, and exits 1 when any guarantee is not met.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the parts beside this script
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # their helpers in tests/support

import reliability_hostile  # noqa: E402
import reliability_keys  # noqa: E402
import reliability_sealing  # noqa: E402
import reliability_tamper  # noqa: E402


def _parts(quick: bool) -> list[tuple[str, Callable[[], dict[str, Any]], Callable[[dict[str, Any]], bool], str]]:
    """(name, run, guarantee held?, how the figure reads) per part."""
    tampers = 150 if quick else 1000
    return [
        ("audit tampering", lambda: reliability_tamper.run(tampers, seed=7),
         lambda r: r["detected"] == r["attempts"] and r["tracebacks"] == 0,
         "{attempts} random mutations, {detected} detected, {tracebacks} tracebacks"),
        ("key loss", reliability_keys.run,
         lambda r: r["refused_safely"] == r["scenarios"] and r["plans_touching_held_rows"] == 0,
         "{scenarios} scenarios, {refused_safely} refused safely, {plans_touching_held_rows} plans touching held "
         "rows, {restored_with_holds} restored with holds"),
        ("hostile input", reliability_hostile.run,
         lambda r: r["tracebacks"] == 0 and not r["problems"],
         "{inputs} inputs in {runs} runs, {tracebacks} tracebacks, {refused} refused, {accepted_checked} of "
         "{accepted} accepted checked"),
        ("data at rest", reliability_sealing.run,
         lambda r: r["found_in_clear"] == 0,
         "{scanned} files and ledger values scanned, {found_in_clear} personal values in clear"),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the smaller versions (as in the test suite)")
    args = ap.parse_args(argv)
    failed = 0
    rows = []
    for name, run, held, text in _parts(args.quick):
        start = time.perf_counter()
        figures = run()
        ok = held(figures)
        failed += not ok
        rows.append((name, "held" if ok else "NOT MET", text.format_map(_Missing(figures)),
                     f"{time.perf_counter() - start:.1f} s"))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    width = max(len(r[0]) for r in rows)
    for name, verdict, figure, took in rows:
        print(f"{name:<{width}}  {verdict:<7}  {figure}  ({took})")
    return 1 if failed else 0


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
