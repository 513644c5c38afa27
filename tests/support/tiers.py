"""The test tiers: which tests start something expensive, and the mark that keeps them out of the fast tier.

    ./run test -m "not slow and not browser"   # the fast tier (minutes)
    ./run test                                 # everything

A test that starts PostgreSQL (asks, directly or through its fixtures, for `postgres_dsn`, or calls
`pgserver.server()`, or is the PostgreSQL case of a store parameter whose fixture asks for the server with
`request.getfixturevalue`) must be marked `slow` (for a parameter: `pytest.param("postgres", marks=pytest.mark.slow)`); one that starts Chromium or JupyterLab must be marked `browser`.
tests/conftest.py remembers every collected test before `-m` deselects any; tests/test_tiers.py checks the marks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DUMP = "PRIVACYOPS_TIERS_DUMP"  # a file to write the collected tests into (tests/test_tiers.py's subprocess)
_KEY = pytest.StashKey[list]()

PG_FIXTURES = {"postgres_dsn"}
PG_CALLS = ("pgserver.server(", "pg.server(")
PG_PARAMS = {"postgres", "cross-store"}  # store parameters whose fixture asks for postgres_dsn only in that case
BROWSER_FIXTURES = {"lab"}  # tests/ui/conftest.py: a JupyterLab server for Chromium
BROWSER_CALLS = ("sync_playwright", "jupyter_lab(", "tests.support.browser")


@dataclass(frozen=True)
class Collected:
    nodeid: str
    path: str  # relative to the repository
    fixtures: tuple[str, ...]  # the whole closure, autouse fixtures included
    marks: tuple[str, ...]
    params: tuple[str, ...] = ()  # the values of its parameters (fixture params included), as text


def remember(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep what was collected (called before `-m` deselects); write it out when $PRIVACYOPS_TIERS_DUMP asks."""
    found = [Collected(i.nodeid, str(Path(str(i.path)).resolve().relative_to(REPO)),
                       tuple(sorted(getattr(i, "fixturenames", ()))), tuple(sorted({m.name for m in i.iter_markers()})),
                       tuple(str(v) for v in getattr(getattr(i, "callspec", None), "params", {}).values()))
             for i in items]
    config.stash[_KEY] = found
    if os.environ.get(DUMP):
        Path(os.environ[DUMP]).write_text(json.dumps([c.__dict__ for c in found]), encoding="utf-8")


def remembered(config: pytest.Config) -> list[Collected]:
    return config.stash.get(_KEY, [])


def load(path: Path) -> list[Collected]:
    return [Collected(d["nodeid"], d["path"], tuple(d["fixtures"]), tuple(d["marks"]), tuple(d["params"]))
            for d in json.loads(path.read_text(encoding="utf-8"))]


def misplaced(tests: list[Collected], source=lambda path: (REPO / path).read_text(encoding="utf-8")) -> list[str]:
    """The tests that start PostgreSQL without `slow`, or Chromium/JupyterLab without `browser`, one line each."""
    out = []
    for t in tests:
        text = source(t.path)
        asks_for_pg = PG_FIXTURES & set(t.fixtures) or (PG_PARAMS & set(t.params) and "postgres_dsn" in text)
        if "slow" not in t.marks and (asks_for_pg or any(c in text for c in PG_CALLS)):
            out.append(f"{t.nodeid}: starts PostgreSQL, not marked slow")
        if "browser" not in t.marks and (BROWSER_FIXTURES & set(t.fixtures) or any(c in text for c in BROWSER_CALLS)):
            out.append(f"{t.nodeid}: starts Chromium, not marked browser")
    return out
