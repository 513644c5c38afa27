"""Properties of erasure over generated cases (hypothesis), checked with SQL against an independent model:

* nothing under an unexpired binding retention rule or an active legal hold is deleted, or masked beyond the plan;
  everything else of the subject is gone; other people's rows never change;
* a plan whose rows changed after planning is refused and changes nothing;
* an execution interrupted in any source leaves every source wholly changed or untouched, and running the same
  plan again ends exactly where an uninterrupted run ends.

The mini workspace (tests/conftest.py) with a bookkeeping purpose on orders (test_erasure.erase_map): person 1
gets generated orders (dates, notes) with analytics events in a second Parquet file; the fiscal year, the day of
the erasure and a hold are generated too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import shutil

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from privacyops.erasure import StalePlanError, approve_plan, execute_plan, plan_erasure
from privacyops.ledger import add_hold, open_case
from privacyops.workspace import open_workspace
from tests.support.mini import build_mini, erase_map

pytestmark = pytest.mark.slow  # hypothesis: generated companies erased and interrupted end to end

D = dt.date
_counter = itertools.count()

order_dates = st.dates(min_value=D(2015, 1, 1), max_value=D(2030, 12, 31))
notes = st.one_of(st.none(), st.text(alphabet="abcdefgh xyz0123", min_size=1, max_size=12))
orders = st.lists(st.tuples(order_dates, notes, st.booleans()), min_size=1, max_size=4)
holds = st.sampled_from([None, "subject", "shop.orders", "shop.order_events", "people.person"])
fiscal = st.sampled_from(["01-01", "07-01", "03-01"])
as_of_days = st.dates(min_value=D(2016, 1, 1), max_value=D(2036, 12, 31))

@pytest.fixture(autouse=True)
def _clock(later_today):
    """These tests run erasures as of dates after the real today (see `later_today` in tests/conftest.py)."""



@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_mini(tmp_path_factory.mktemp("erasure-props") / "mini")


def make_ws(template, tmp_root, generated, fy: str):
    root = tmp_root / f"ws{next(_counter)}"
    shutil.copytree(template, root)
    (root / "privacyops.yaml").write_text(erase_map().replace("purposes:\n", f"settings: {{fiscal_year_start: "
                                                                             f"\"{fy}\"}}\npurposes:\n", 1))
    con = duckdb.connect(str(root / "main.duckdb"))
    events = []
    for i, (day, note, has_event) in enumerate(generated):
        con.execute("INSERT INTO shop.orders VALUES (?, 1, 10, ?, ?)", [200 + i, note, day])
        if has_event:
            events.append((5000 + i, 200 + i, f"10.9.0.{i}"))
    if events:
        values = ", ".join(f"({e}, {o}, '{ip}')" for e, o, ip in events)
        con.execute(f"COPY (SELECT * FROM (VALUES {values}) t(eid, oid, ip)) TO "
                    f"'{root / 'files' / 'events' / 'part-1.parquet'}' (FORMAT parquet)")
    con.close()
    return open_workspace(root)


def state(ws) -> dict:
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        out = {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
               for t in ("people.person", "shop.orders", "shop.items", "mail.subscribers")}
    finally:
        con.close()
    out["events"] = duckdb.connect().execute(
        f"SELECT * FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}') ORDER BY 1").fetchall()
    return out


def kept_through(day: D, fy: str) -> D:
    """3 years from the end of the fiscal year containing `day` (written independently of privacyops)."""
    m, d = int(fy[:2]), int(fy[3:])
    start = D(day.year, m, d)
    end = (D(day.year + 1, m, d) if day >= start else start) - dt.timedelta(days=1)
    year = end.year + 3
    return D(year, end.month, min(end.day, calendar.monthrange(year, end.month)[1]))


def expected(before: dict, as_of: D, hold: str | None, fy: str) -> dict:
    """The model: what every table holds after erasing person 1."""
    subject_held = hold == "subject"
    out = dict(before)
    person_gone = not (subject_held or hold == "people.person")
    out["people.person"] = [r for r in before["people.person"] if r[0] != 1 or not person_gone]
    orders = []
    # A dataset hold covers its rows and every row that belongs to them (a held person's orders and their events).
    for oid, pid, item, note, day in before["shop.orders"]:
        if pid != 1 or subject_held or hold in ("shop.orders", "people.person"):
            orders.append((oid, pid, item, note, day))
        elif kept_through(day, fy) >= as_of:
            orders.append((oid, pid, item, None if note is None else "[erased]", day))
    out["shop.orders"] = orders
    mine = {r[0] for r in before["shop.orders"] if r[1] == 1}
    out["events"] = [e for e in before["events"] if e[1] not in mine or subject_held
                     or hold in ("shop.order_events", "shop.orders", "people.person")]
    out["mail.subscribers"] = [s for s in before["mail.subscribers"] if s[0] != 1 or subject_held]
    return out


def run_plan(ws, as_of, hold, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "legal")
    if hold == "subject":
        add_hold(ws, subject="+371 2000 1111", reason="litigation", owner="legal")
    elif hold:
        add_hold(ws, dataset=hold, reason="audit", owner="cfo")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    case_id = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, case_id, "M-001", as_of=as_of)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    return plan


SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(orders, as_of_days, holds, fiscal)
@example([(D(2020, 6, 1), "a note", True)], D(2023, 12, 31), None, "01-01")  # the last day it is kept
@example([(D(2020, 6, 1), "a note", True)], D(2024, 1, 1), None, "01-01")  # the first day it may go
@example([(D(2025, 7, 1), None, True), (D(2019, 1, 1), "x", False)], D(2026, 11, 15), "subject", "07-01")
@example([(D(2025, 7, 1), "y", True)], D(2026, 11, 15), "shop.orders", "01-01")
@example([(D(2025, 7, 1), "y", True)], D(2026, 11, 15), "shop.order_events", "03-01")
def test_retention_and_holds_are_respected_and_only_the_subject_is_erased(template, tmp_path, monkeypatch,
                                                                          generated, as_of, hold, fy):
    ws = make_ws(template, tmp_path, generated, fy)
    before = state(ws)
    plan = run_plan(ws, as_of, hold, monkeypatch)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    assert state(ws) == expected(before, as_of, hold, fy)


@SETTINGS
@given(orders, as_of_days, st.sampled_from(["person", "order", "subscriber", "event"]), st.data())
def test_a_plan_whose_rows_changed_is_refused_and_changes_nothing(template, tmp_path, monkeypatch, generated,
                                                                   as_of, what, data):
    ws = make_ws(template, tmp_path, generated, "01-01")
    plan = run_plan(ws, as_of, None, monkeypatch)
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    if what == "person":
        con.execute("UPDATE people.person SET tel = '+371 2999 9999' WHERE pid = 1")
    elif what == "order":
        oid = data.draw(st.sampled_from([200 + i for i in range(len(generated))]))
        con.execute("UPDATE shop.orders SET item_id = 12 WHERE oid = ?", [oid])
    elif what == "subscriber":
        con.execute("UPDATE mail.subscribers SET address = 'JB@other.example' WHERE sid = 1")
    else:  # a new event of his appears in the Parquet files
        con.execute(f"COPY (SELECT 9999 AS eid, 100 AS oid, '10.0.0.9' AS ip) TO "
                    f"'{ws.root / 'files' / 'events' / 'part-9.parquet'}' (FORMAT parquet)")
    con.close()
    changed = state(ws)
    with pytest.raises(StalePlanError):
        execute_plan(ws, plan.plan_id)
    assert state(ws) == changed


@SETTINGS
@given(orders, as_of_days, st.sampled_from(["files", "main"]), st.sampled_from(["before", "after"]))
def test_an_interrupted_run_leaves_sources_whole_and_a_rerun_completes(template, tmp_path, monkeypatch, generated,
                                                                        as_of, failing, when):
    from privacyops.erasure import execute as erasure

    ws = make_ws(template, tmp_path, generated, "01-01")
    before = state(ws)
    model = expected(before, as_of, None, "01-01")
    plan = run_plan(ws, as_of, None, monkeypatch)
    real = erasure._apply

    def interrupted(ws_, con, todo):
        if con.source.name == failing and when == "before":
            raise RuntimeError("killed")
        got = real(ws_, con, todo)
        if con.source.name == failing:
            raise RuntimeError("killed")
        return got

    monkeypatch.setattr(erasure, "_apply", interrupted)
    with pytest.raises(RuntimeError):
        execute_plan(ws, plan.plan_id)
    mid = state(ws)
    files_done = mid["events"] == model["events"]
    main_tables = ("people.person", "shop.orders", "mail.subscribers")
    main_done = all(mid[t] == model[t] for t in main_tables)
    assert files_done or mid["events"] == before["events"]  # each source wholly changed or untouched
    assert main_done or all(mid[t] == before[t] for t in main_tables)
    assert not (failing == "files" and files_done and model["events"] != before["events"])
    assert not (failing == "main" and main_done and any(model[t] != before[t] for t in main_tables))
    monkeypatch.setattr(erasure, "_apply", real)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok and state(ws) == model
