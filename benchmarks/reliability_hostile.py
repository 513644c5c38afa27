"""Reliability under hostile input: the corpus of tests/hostile/corpus.py against the command line.

Every input an option must refuse runs against every target (lookup by each kind, case open, hold add, suppress,
rectify, export, report, ropa, consent); every other input against `--spread` targets in turn, each accepted run
checked against SQL and the files written (tests/hostile/harness.py). Prints

    hostile inputs: N, tracebacks: 0, refused: R, accepted: A (all accepted ones checked)

Run: PYTHONPATH=. python benchmarks/reliability_hostile.py [--spread 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.hostile.corpus import CORPUS
from tests.hostile.harness import run_corpus


def run(spread: int = 1) -> dict:
    """Run the corpus; counts of inputs, runs, tracebacks, refusals, accepted runs and problems found."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="privacyops-hostile-") as tmp:
        outcomes = run_corpus(Path(tmp), spread=spread)
    accepted = [o for o in outcomes if not o.refused]
    problems = [f"{o.target} <- {o.entry.label}: {o.problem}" for o in outcomes if o.problem]
    return {
        "inputs": len(CORPUS),
        "runs": len(outcomes),
        "tracebacks": sum(o.traceback for o in outcomes),
        "refused": sum(o.refused for o in outcomes),
        "accepted": len(accepted),
        "accepted_checked": sum(not o.problem for o in accepted),
        "problems": problems,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spread", type=int, default=1, help="targets per input the screen lets through")
    r = run(parser.parse_args().spread)
    checked = "all accepted ones checked" if r["accepted_checked"] == r["accepted"] else \
        f"{r['accepted'] - r['accepted_checked']} accepted ones FAILED their checks"
    print(f"hostile inputs: {r['inputs']}, tracebacks: {r['tracebacks']}, refused: {r['refused']}, "
          f"accepted: {r['accepted']} ({checked})")
    print(f"({r['runs']} command runs in {r['seconds']} s)")
    for p in r["problems"][:50]:
        print("  problem:", p)


if __name__ == "__main__":
    main()
