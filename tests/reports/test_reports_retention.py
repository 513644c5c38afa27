"""The retention report: end dates computed in SQL (DuckDB, SQLite, PostgreSQL) agree with privacyops.retention's
Python dates; the seeded demo's overdue / due / not-started counts match direct SQL written independently; holds,
the restriction register, the sweep listing, the EU/EEA findings, the self-contained HTML page; anchors through a
reference and records kept while their anchor is empty (open-ended), on DuckDB and SQLite."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacyops.demo import DEMO_TODAY
from privacyops.erasure import plan as erasure_plan
from privacyops.erasure.retention import as_date, retained_until
from privacyops.erasure.retention_sql import add_period_sql, anchor_sql, retained_until_query
from privacyops.ledger import holds, open_ledger, schedule
from privacyops.map import Anchor, Period, RetentionRule, Settings
from privacyops.reports import ReportError, retention_report, retention_sweep
from privacyops.reports.retention_report import dataset_end_dates
from privacyops.workspace import open_workspace
from tests.erasure.test_retention_anchors import AS_OF as CLUB_AS_OF
from tests.erasure.test_retention_anchors import RULED as CLUB_RULED
from tests.erasure.test_retention_anchors import build_club, truth
from tests.support import pg as pgserver

D = dt.date
AS_OF = DEMO_TODAY  # 2026-11-15
ANCHORS = [Anchor("d"), Anchor("d", "end_of_month"), Anchor("d", "end_of_fiscal_year")]
PERIODS = [Period(1, "days"), Period(30, "days"), Period(2, "weeks"), Period(1, "months"), Period(6, "months"),
           Period(26, "months"), Period(1, "years"), Period(5, "years")]
FISCAL = [(1, 1), (7, 1), (4, 6), (10, 28)]
TRICKY = [D(2024, 2, 29), D(2024, 1, 31), D(2023, 1, 31), D(2025, 12, 31), D(2025, 1, 1), D(2024, 6, 30),
          D(2024, 7, 1), D(2024, 4, 5), D(2024, 4, 6), D(2023, 10, 27), D(2023, 10, 28), D(2000, 2, 29),
          D(1999, 12, 31), D(2024, 8, 31), D(2024, 3, 31)]
RULES = [RetentionRule("r", p, a, "g") for a in ANCHORS for p in PERIODS]


def python_until(rule: RetentionRule, day: dt.date | dt.datetime | None, fy: tuple[int, int]) -> dt.date | None:
    return retained_until(rule, {"d": day}, Settings(fiscal_year_start=fy))


def sql_until(dialect: str, con, rule: RetentionRule, days: list, fy: tuple[int, int]) -> list[dt.date | None]:
    """Evaluate the SQL end-date expression over one column of values, in the order given."""
    s = Settings(fiscal_year_start=fy)
    expr = add_period_sql(dialect, anchor_sql(dialect, '"d"', rule.anchor, s), rule.keep)
    if dialect == "sqlite":
        con.execute("DROP TABLE IF EXISTS t")
        con.execute("CREATE TABLE t (i INTEGER, d TEXT)")
        text = [d.isoformat(sep=" ") if isinstance(d, dt.datetime) else d.isoformat() if d else None for d in days]
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(text)))
        rows = con.execute(f"SELECT i, {expr} FROM t ORDER BY i").fetchall()
    elif dialect == "duckdb":
        con.execute("CREATE OR REPLACE TABLE t (i INTEGER, d TIMESTAMP)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(days)))
        rows = con.execute(f"SELECT i, {expr} FROM t ORDER BY i").fetchall()
    else:
        with con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS t")
            cur.execute("CREATE TABLE t (i INTEGER, d TIMESTAMP)")
            cur.executemany("INSERT INTO t VALUES (%s, %s)", list(enumerate(days)))
            cur.execute(f"SELECT i, {expr} FROM t ORDER BY i")
            rows = cur.fetchall()
    return [as_date(e) for _, e in rows]


# -- SQL and Python agree -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_sql_end_dates_agree_with_python_on_calendar_edges(dialect):
    con = duckdb.connect() if dialect == "duckdb" else sqlite3.connect(":memory:")
    days = [*TRICKY, dt.datetime(2024, 2, 29, 23, 59, 59), None]
    for fy in FISCAL:
        for rule in RULES:
            assert sql_until(dialect, con, rule, days, fy) == [python_until(rule, d, fy) for d in days], (rule, fy)


@settings(max_examples=40, deadline=None)
@given(days=st.lists(st.dates(min_value=D(1990, 1, 1), max_value=D(2090, 12, 31)), min_size=1, max_size=30),
       fy=st.sampled_from(FISCAL), rule=st.sampled_from(RULES))
def test_sql_end_dates_agree_with_python_on_any_date(days, fy, rule):
    for dialect, con in (("duckdb", _DUCK), ("sqlite", _LITE)):
        assert sql_until(dialect, con, rule, days, fy) == [python_until(rule, d, fy) for d in days], dialect


_DUCK = duckdb.connect()
_LITE = sqlite3.connect(":memory:")


@pytest.mark.slow
def test_sql_end_dates_agree_with_python_in_postgresql(postgres_dsn):
    import psycopg

    with pgserver.database(postgres_dsn, "ret") as dsn, psycopg.connect(dsn, autocommit=True) as con:
        days = [*TRICKY, None]
        for fy in FISCAL[:2]:
            for rule in RULES:
                assert sql_until("postgres", con, rule, days, fy) == [python_until(rule, d, fy) for d in days], rule


def test_demo_end_dates_per_day_match_python_row_by_row(small_demo):
    """Over every dataset with a rule (DuckDB tables and the Parquet lake): the grouped SQL answer equals the
    histogram of retention.retained_until over the rows, read one by one."""
    ws = open_workspace(small_demo)
    dm = ws.datamap
    with ws.session():
        for ds in dm.datasets.values():
            if not ds.retention:
                continue
            rule = dm.retention[ds.retention]
            con = ws.connector(ds.source)
            expected: dict = {}
            for (value,) in con.execute(f"SELECT {con.quote(rule.anchor.field)} FROM {con.relation(ds)}").rows:
                end = retained_until(rule, {rule.anchor.field: value}, dm.settings)
                expected[end] = expected.get(end, 0) + 1
            assert dataset_end_dates(ws, ds) == expected, ds.name


# -- the seeded demo ----------------------------------------------------------------------------------------------

def company(ws_root: Path, sql: str) -> int:
    con = duckdb.connect(str(ws_root / "company.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo_report(default_demo):
    return retention_report(open_workspace(default_demo), AS_OF, audit_log=False)


def test_demo_counts_match_direct_sql(default_demo, demo_report):
    by = {d.dataset: d for d in demo_report.datasets}
    lake = str(default_demo / "lake" / "web" / "analytics_events" / "*.parquet")
    # security_logs: 1 year from logged_in_at; kept through d + 1 year, overdue from the day after: d <= 2025-11-14.
    assert by["app.login_events"].overdue == company(
        default_demo, "SELECT count(*) FROM app.login_events WHERE logged_in_at < TIMESTAMP '2025-11-15'") > 0
    assert by["app.login_events"].due_30 == company(
        default_demo, "SELECT count(*) FROM app.login_events WHERE logged_in_at >= TIMESTAMP '2025-11-15' "
                      "AND logged_in_at < TIMESTAMP '2025-12-15'")
    # tax_records: 5 years from the end of the (calendar) fiscal year: invoices of 2020 and before are overdue.
    assert by["billing.invoices"].overdue == company(
        default_demo, "SELECT count(*) FROM billing.invoices WHERE year(issued_at) <= 2020") > 0
    assert by["billing.invoices"].oldest_overdue == D(company(
        default_demo, "SELECT min(year(issued_at)) FROM billing.invoices") + 5, 12, 31)
    # customer_records: 3 years from closed_at; open customers have not started.
    assert by["crm.customers"].overdue == company(
        default_demo, "SELECT count(*) FROM crm.customers WHERE closed_at < TIMESTAMP '2023-11-15'") > 0
    assert by["crm.customers"].not_started == company(
        default_demo, "SELECT count(*) FROM crm.customers WHERE closed_at IS NULL") > 0
    # analytics (Parquet): 26 months from occurred_at.
    assert by["web.analytics_events"].overdue == company(
        default_demo, f"SELECT count(*) FROM read_parquet('{lake}') WHERE occurred_at < TIMESTAMP '2024-09-15'") > 0
    assert by["web.analytics_events"].total == company(default_demo, f"SELECT count(*) FROM read_parquet('{lake}')")
    f = demo_report.figures()
    assert f["overdue"] == sum(d.overdue for d in demo_report.datasets) and f["held"] == 0
    assert f["oldest_overdue"]["dataset"] == min((d for d in demo_report.datasets if d.oldest_overdue),
                                                 key=lambda d: d.oldest_overdue).dataset
    # the chart: every record coming due within the horizon is in one month, none twice
    assert sum(sum(d.by_month.values()) for d in demo_report.datasets) >= f["due_90_days"]


def test_demo_findings_no_rule_and_outside_the_eu(demo_report):
    assert [w["dataset"] for w in demo_report.without_rule] == ["support.agents"]
    assert [(r["recipient"], r["location"]) for r in demo_report.recipients_outside_eu] == [("helpdesk", "US")]
    assert demo_report.recipients_outside_eu[0]["datasets"] == ["support.tickets", "support.ticket_messages"]
    assert demo_report.sources_outside_eu == []
    agents = next(d for d in demo_report.datasets if d.dataset == "support.agents")
    assert agents.rule is None and agents.total == 0  # not counted: no rule to count against


def test_a_system_outside_the_eu_is_reported(mini_ws):
    text = (mini_ws.root / "privacyops.yaml").read_text().replace("location: DE", "location: US")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    report = retention_report(open_workspace(mini_ws.root), "2026-01-01")
    assert [(s["source"], s["location"]) for s in report.sources_outside_eu] == [("files", "US")]
    assert report.sources_outside_eu[0]["datasets"] == ["shop.order_events"]
    # mini: orders kept 3 years from the end of the fiscal year: 2020's order ended 2023-12-31
    orders = next(d for d in report.datasets if d.dataset == "shop.orders")
    assert (orders.total, orders.overdue, orders.oldest_overdue) == (5, 1, D(2023, 12, 31))
    assert "systems outside the EU/EEA: files (US)" in report.text()


# -- holds, restrictions, the sweep -------------------------------------------------------------------------------

@pytest.fixture()
def demo_copy(small_demo, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    root = tmp_path / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "keys",
                                                                   "outputs"))
    return open_workspace(root)


def test_holds_restrictions_and_schedule_are_counted(demo_copy):
    ws = demo_copy
    before = {d.dataset: d for d in retention_report(ws, AS_OF).datasets}
    hold = holds.add_hold(ws, dataset="app.login_events", reason="incident 2026-17", owner="ciso")
    holds.add_hold(ws, subject="janis.berzins@example.lv", reason="litigation", owner="legal")
    with open_ledger(ws) as con, con.transaction():
        schedule.restrict(con, [("billing.invoices", "[1]", "retention: tax_records", D(2030, 12, 31)),
                                ("billing.invoices", "[2]", "retention: tax_records", D(2030, 12, 31))], "ERP-T", None)
        schedule.schedule(con, [("billing.invoices", "[1]", D(2026, 1, 1), D(2025, 12, 31), "retention: x"),
                                ("billing.invoices", "[2]", D(2031, 1, 1), D(2030, 12, 31), "retention: x")],
                          "ERP-T", None)
    report = retention_report(ws, AS_OF)
    by = {d.dataset: d for d in report.datasets}
    logins = by["app.login_events"]
    assert logins.overdue == before["app.login_events"].overdue > 0
    assert logins.held == logins.overdue and logins.breach == 0 and logins.hold_ids == [hold.hold_id]
    assert by["billing.invoices"].restricted == 2 and by["billing.invoices"].scheduled_due == 1
    f = report.figures()
    assert f["held"] == logins.overdue and f["overdue_not_held"] == f["overdue"] - logins.overdue
    assert [h["reason"] for h in report.subject_holds] == ["litigation"]
    assert "janis" not in json.dumps(report.to_dict())
    # the sweep skips what a hold keeps
    listing = retention_sweep(ws, AS_OF, report=report)
    entry = next(d for d in listing.datasets if d["dataset"] == "app.login_events")
    assert entry["records"] == 0 and "under legal hold" in entry["skipped"] and entry["sample_keys"] == []


def test_sweep_dry_run_lists_the_oldest_overdue_keys_and_changes_nothing(demo_copy):
    ws = demo_copy
    report = retention_report(ws, AS_OF)
    listing = retention_sweep(ws, AS_OF, report=report)
    assert listing.dry_run and listing.total == report.figures()["overdue"]
    by = {d["dataset"]: d for d in listing.datasets}
    inv = by["billing.invoices"]
    assert inv["action"] == "delete"  # a binding rule that ended: the record goes (not the mask policy)
    oldest_year = company(ws.root, "SELECT min(year(issued_at)) FROM billing.invoices")
    first = company(ws.root, f"SELECT min(invoice_id) FROM billing.invoices WHERE year(issued_at) = {oldest_year}")
    assert inv["sample_keys"][0] == str(first)
    assert by["support.tickets"]["action"] == "delete"
    lines = "\n".join(listing.lines())
    assert "DRY RUN" in lines and "billing.invoices" in lines
    assert retention_report(ws, AS_OF).figures()["overdue"] == report.figures()["overdue"]  # nothing changed


def test_real_sweep_goes_through_the_erasure_engine(demo_copy):
    """plan -> execute -> verify -> certificate: the overdue rows SQL counts are gone, nothing else is touched,
    rows under a dataset hold stay, the certificate verifies."""
    from privacyops.erasure import verify_certificate

    ws = demo_copy
    hold = holds.add_hold(ws, dataset="app.login_events", reason="incident 2026-17", owner="ciso")
    root = ws.root
    logins = "SELECT count(*) FROM app.login_events"
    overdue_invoices = "SELECT count(*) FROM billing.invoices WHERE year(issued_at) <= 2020"
    overdue_customers = "SELECT count(*) FROM crm.customers WHERE closed_at < TIMESTAMP '2023-11-15'"
    before = {q: company(root, q) for q in (logins, overdue_invoices, overdue_customers,
                                            "SELECT count(*) FROM billing.invoices",
                                            "SELECT count(*) FROM crm.customers",
                                            "SELECT count(*) FROM crm.customers WHERE closed_at IS NULL")}
    assert before[overdue_invoices] > 0 and before[overdue_customers] > 0
    report = retention_report(ws, AS_OF, audit_log=False)
    listing = retention_sweep(ws, AS_OF, dry_run=False, report=report)
    plan = erasure_plan.load_plan(ws, listing.plan_id)
    assert plan.kind == "retention" and plan.status == "done"
    assert plan.approved_by == "the data map's retention rules" and "Art. 5(1)(e)" in plan.approval_note
    assert plan.prepared_by == "test-analyst" and "app.login_events" not in plan.counts()
    assert any("verified" in n for n in listing.notes)
    # the overdue rows are gone, the rest stays
    assert company(root, overdue_invoices) == 0 and company(root, overdue_customers) == 0
    assert company(root, "SELECT count(*) FROM billing.invoices") == (
        before["SELECT count(*) FROM billing.invoices"] - before[overdue_invoices])
    assert company(root, "SELECT count(*) FROM crm.customers") == (
        before["SELECT count(*) FROM crm.customers"] - before[overdue_customers])
    assert company(root, "SELECT count(*) FROM crm.customers WHERE closed_at IS NULL") == (
        before["SELECT count(*) FROM crm.customers WHERE closed_at IS NULL"])
    assert company(root, logins) == before[logins]  # under the dataset hold
    after = retention_report(ws, AS_OF, audit_log=False)
    by, was = {d.dataset: d for d in after.datasets}, {d.dataset: d for d in report.datasets}
    for name, d in by.items():
        if not d.rule:
            continue
        if name == "app.login_events":
            assert d.overdue == d.held == was[name].overdue and d.hold_ids == [hold.hold_id]
        else:
            assert d.overdue == 0, name
            assert d.total == was[name].total - was[name].overdue, name  # nothing not overdue was touched
        assert (d.due_30, d.due_90, d.not_started) == (was[name].due_30, was[name].due_90, was[name].not_started)
    cert = json.loads(Path(plan.certificate).read_text())
    assert cert["certificate"]["plan"]["approved_by"] == "the data map's retention rules"
    assert verify_certificate(plan.certificate, ws).ok
    # a second sweep finds nothing left to erase
    again = retention_sweep(ws, AS_OF)
    assert again.total == 0


# -- the page -----------------------------------------------------------------------------------------------------

def test_html_is_self_contained_with_the_chart_and_figures(demo_report, tmp_path):
    page, data = demo_report.write(tmp_path)
    html = page.read_text()
    assert "<script" not in html.lower() and "src=" not in html and "href=" not in html
    assert "default-src 'none'" in html  # nothing may load, even if something tried
    assert 'data-chart="erasures-due"' in html and html.count('class="po-bar"') > 5
    f = demo_report.figures()
    assert f'data-figure="overdue"><div class="po-value">{f["overdue"]:,}</div>' in html
    assert json.loads(data.read_text())["figures"]["overdue"] == f["overdue"]


def test_bad_date_and_unreadable_store_are_clear(demo_copy):
    with pytest.raises(ReportError, match="not a date"):
        retention_report(demo_copy, "15.11.2026")
    (demo_copy.root / "lake" / "web" / "analytics_events").rename(demo_copy.root / "moved")
    report = retention_report(demo_copy, AS_OF)
    assert [e.split(":")[0] for e in report.errors] == ["web.analytics_events"]
    assert "ERROR" in report.text()


def test_retained_until_query_is_one_grouped_statement():
    rule = RetentionRule("r", Period(1, "years"), Anchor("at"), "g")
    sql = retained_until_query("duckdb", '"t"', '"at"', rule, Settings())
    assert sql.count("SELECT") == 3 and "GROUP BY e" in sql and "?" not in sql


def test_cli_erase_retention_dry_run_then_execute(demo_copy):
    from click.testing import CliRunner

    from privacyops.cli import main

    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "test-analyst", "PRIVACYOPS_WORKSPACE": None})
    ws = str(demo_copy.root)
    dry = runner.invoke(main, ["erase", "retention", "-w", ws, "--as-of", AS_OF.isoformat(), "--json"])
    assert dry.exit_code == 0, dry.output
    listed = json.loads(dry.output)
    assert listed["dry_run"] and listed["total"] > 0 and listed["plan_id"] is None
    done = runner.invoke(main, ["erase", "retention", "-w", ws, "--as-of", AS_OF.isoformat(), "--execute"])
    assert done.exit_code == 0, done.output
    assert "verified; certificate" in done.output
    assert retention_report(open_workspace(demo_copy.root), AS_OF, audit_log=False).figures()["overdue"] == 0


# -- anchors through a reference, records kept while the anchor is empty ------------------------------------------
# The club workspace of tests/erasure/test_retention_anchors.py: DuckDB (members, access cards counting from their
# member's left_on, rentals kept while not returned) and SQLite (lockers counting from the DuckDB member's left_on,
# loans kept while not returned, loan fees counting from their loan's returned_at). Expected dates: its independent
# SQL (`truth`).


@pytest.fixture(scope="module")
def club_root(tmp_path_factory) -> Path:
    return build_club(tmp_path_factory.mktemp("club-report") / "club")


@pytest.fixture(scope="module")
def club_report(club_root):
    return retention_report(open_workspace(club_root), CLUB_AS_OF, audit_log=False)


def expected_counts(root: Path, name: str, kept_while_empty: bool) -> dict[str, int]:
    """The report's counts of one dataset, from the independent end dates."""
    ends = truth(root, name)
    days = [(e + dt.timedelta(days=1) - CLUB_AS_OF).days for e in ends.values() if e is not None]
    empty = sum(1 for e in ends.values() if e is None)
    return {"total": len(ends), "overdue": sum(1 for d in days if d <= 0),
            "due_30": sum(1 for d in days if 0 < d <= 30), "due_90": sum(1 for d in days if 0 < d <= 90),
            "not_started": 0 if kept_while_empty else empty, "open_ended": empty if kept_while_empty else 0}


def test_club_counts_match_independent_sql_open_ended_apart(club_root, club_report):
    by = {d.dataset: d for d in club_report.datasets}
    for name in CLUB_RULED:
        d = by[name]
        got = {k: getattr(d, k) for k in ("total", "overdue", "due_30", "due_90", "not_started", "open_ended")}
        assert got == expected_counts(club_root, name, d.while_empty), name
        assert d.error is None
    # calendar facts behind them: the open rentals are open-ended, never overdue; cards of members who have not
    # left (or of no member) have not started (no flag); a dangling locker reference across stores is open-ended
    assert (by["club.rentals"].overdue, by["club.rentals"].open_ended, by["club.rentals"].not_started) == (2, 2, 0)
    assert (by["club.access_cards"].not_started, by["club.access_cards"].open_ended) == (3, 0)
    assert by["club.access_cards"].oldest_overdue == D(2024, 1, 31)
    assert (by["desk.lockers"].overdue, by["desk.lockers"].open_ended) == (3, 2)
    assert (by["desk.loan_fees"].overdue, by["desk.loan_fees"].open_ended) == (2, 2)


def test_club_open_ended_in_figures_json_page_and_text(club_report, tmp_path):
    f = club_report.figures()
    assert f["open_ended"] == sum(d.open_ended for d in club_report.datasets) == 8
    assert f["not_started"] == 3 and f["overdue"] == 4 + 2 + 3 + 1 + 2
    data = club_report.to_dict()
    rentals = next(d for d in data["datasets"] if d["dataset"] == "club.rentals")
    assert (rentals["open_ended"], rentals["kept_while_empty"], rentals["overdue"]) == (2, True, 2)
    page, saved = club_report.write(tmp_path)
    html = page.read_text()
    assert 'data-figure="open_ended"><div class="po-value">8</div>' in html
    assert "kept while returned_at is empty" in html and "open-ended" in html
    assert json.loads(saved.read_text())["figures"]["open_ended"] == 8
    text = "\n".join(club_report.lines())
    assert "kept while the anchor is empty (open-ended, still needed): 8" in text
    assert "open-ended" in club_report.lines()[5]  # the table's header gains the column


def test_maps_without_the_flag_read_as_before(demo_report):
    """No rule keeps while empty: no open-ended line or column (the notebook's stored text stays as it is)."""
    assert not any("open-ended" in line for line in demo_report.lines())
    assert demo_report.figures()["open_ended"] == 0


def test_club_sweep_lists_the_oldest_overdue_keys_never_open_ended(club_root, club_report):
    ws = open_workspace(club_root)
    listing = retention_sweep(ws, CLUB_AS_OF, report=club_report)
    by = {d["dataset"]: d for d in listing.datasets}
    for name in CLUB_RULED:
        ends = truth(club_root, name)
        late = sorted((e, k) for k, e in ends.items() if e is not None and e < CLUB_AS_OF)
        assert by[name]["records"] == len(late), name
        assert by[name]["sample_keys"] == [str(k) for _, k in late][:10], name
        assert not {str(k) for k, e in ends.items() if e is None} & set(by[name]["sample_keys"])
    assert listing.total == club_report.figures()["overdue"]
