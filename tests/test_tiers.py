"""The fast tier (`./run test -m "not slow and not browser"`) starts no PostgreSQL server and no Chromium: every test
that does carries `slow` or `browser` (tests/support/tiers.py says how a test is recognised)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import tiers
from tests.support.tiers import Collected

TESTS = tiers.REPO / "tests"


def every_test(config, tmp_path) -> list[Collected]:
    """All tests of the suite: this session's when it collected every module, else a `--collect-only` run's."""
    modules = {str(p.relative_to(tiers.REPO)) for p in TESTS.rglob("test_*.py")}
    seen = tiers.remembered(config)
    if modules <= {t.path for t in seen}:
        return seen
    dump = tmp_path / "collected.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           str(TESTS)], check=False, cwd=tiers.REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, tiers.DUMP: str(dump)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tiers.load(dump)


def test_tests_that_start_postgresql_or_chromium_are_marked(request, tmp_path):
    tests = every_test(request.config, tmp_path)
    assert len({t.path for t in tests}) > 80  # the whole suite was looked at
    assert sum("postgres_dsn" in t.fixtures for t in tests) > 50 and sum("lab" in t.fixtures for t in tests) >= 3
    assert tiers.misplaced(tests) == []


def test_the_check_finds_unmarked_tests():
    def source(path):
        return {"a.py": "x = 1", "b.py": "with " + tiers.PG_CALLS[0] + ") as dsn: ...",
                "d.py": 'request.getfixturevalue("postgres' + '_dsn")',
                "c.py": "from " + tiers.BROWSER_CALLS[2] + " import notebook_page"}[path]

    tests = [Collected("a.py::pg", "a.py", ("postgres_dsn", "tmp_path"), ()),
             Collected("a.py::pg_marked", "a.py", ("postgres_dsn",), ("parametrize", "slow")),
             Collected("a.py::lab", "a.py", ("lab",), ("slow",)),
             Collected("a.py::fast", "a.py", ("tmp_path",), ()),
             Collected("b.py::own_server", "b.py", (), ()),
             Collected("c.py::page", "c.py", ("tmp_path",), ("browser",)),
             Collected("c.py::unmarked", "c.py", (), ("slow",)),
             Collected("d.py::store[sqlite]", "d.py", ("request",), (), ("sqlite",)),
             Collected("d.py::store[postgres]", "d.py", ("request",), (), ("postgres",)),
             Collected("d.py::marked[postgres]", "d.py", ("request",), ("slow",), ("postgres",))]
    assert tiers.misplaced(tests, source) == ["a.py::pg: starts PostgreSQL, not marked slow",
                                              "a.py::lab: starts Chromium, not marked browser",
                                              "b.py::own_server: starts PostgreSQL, not marked slow",
                                              "c.py::unmarked: starts Chromium, not marked browser",
                                              "d.py::store[postgres]: starts PostgreSQL, not marked slow"]


def test_the_longest_files_start_first_and_each_is_a_test_file():
    from tests.support.order import LONGEST_FIRST, longest_first

    assert all((tiers.REPO / path).is_file() and path.startswith("tests/") for path in LONGEST_FIRST)

    class Item:
        def __init__(self, path: str, name: str):
            self.path, self.name = tiers.REPO / path, name

    collected = [Item("tests/a/test_x.py", "1"), Item(LONGEST_FIRST[1], "2"), Item("tests/a/test_y.py", "3"),
                 Item(LONGEST_FIRST[0], "4"), Item(LONGEST_FIRST[1], "5"), Item("tests/a/test_x.py", "6")]
    longest_first(collected, tiers.REPO)  # type: ignore[arg-type]
    assert [i.name for i in collected] == ["4", "2", "5", "1", "3", "6"]
