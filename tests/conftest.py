"""Shared fixtures: a tiny hand-made workspace whose schema is unlike the demo's, and seeded demo companies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from privacyops.workspace import open_workspace
from tests.support import pg as pgserver
from tests.support import order, tiers
from tests.support.demo import demo_workspace, fresh_copy
from tests.support.mini import build_mini

REPO = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Remember every collected test before `-m` deselects any (tests/test_tiers.py checks their tier marks); the
    longest files first (tests/support/order.py)."""
    tiers.remember(config, items)
    order.longest_first(items, REPO)


@pytest.fixture(scope="session")
def _mini_template(tmp_path_factory) -> Path:
    return build_mini(tmp_path_factory.mktemp("mini-template") / "mini")


@pytest.fixture()
def mini_ws(_mini_template, tmp_path, monkeypatch):
    """A fresh copy of the mini workspace per test (copied from a template built once: building is slower)."""
    from privacyops.workspace import open_workspace

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(shutil.copytree(_mini_template, tmp_path / "mini"))


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A PostgreSQL server for the session (tests/support/pg.py): a throwaway cluster, or
    $PRIVACYOPS_TEST_POSTGRES_DSN. Fails, never skips, when PostgreSQL is not installed. Give each test its own
    database: `pgserver.create_database(postgres_dsn)`."""
    try:
        with pgserver.server() as dsn:
            yield dsn
    except pgserver.PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    return demo_workspace(tmp_path_factory, 300)


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory) -> Path:
    return demo_workspace(tmp_path_factory, 1000)  # the defaults of `privacyops demo`


@pytest.fixture()
def demo_ws(small_demo, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(fresh_copy(small_demo, tmp_path / "demo"))


@pytest.fixture()
def demo(small_demo, tmp_path, monkeypatch):
    root = tmp_path / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "keys",
                                                                     "certificates"))
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return open_workspace(root)


@pytest.fixture()
def later_today(monkeypatch):
    """Moves the erasure clock to 2099-01-01 for tests that plan and run erasures as of dates after the real today
    (retention that ends in 2030, due runs in 2031). Only a test may do this: privacyops itself never runs an
    erasure for a date later than the real today (tests/erasure/test_erasure_failures.py checks that)."""
    import datetime

    from privacyops.erasure import plan as erasure_plan

    monkeypatch.setattr(erasure_plan, "today", lambda: datetime.date(2099, 1, 1))
