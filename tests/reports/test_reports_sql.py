"""The reports' set-based SQL against independent SQL written here (differently from the report's own: correlated
subqueries, no shared helpers), on a copy of the small demo made to hold the edge cases the demo lacks: processing
with no consent at all, before the first grant and at the very moment of a grant; several report dates."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from privacyops.demo import DEMO_TODAY
from privacyops.reports import consent_report, retention_report
from privacyops.reports.consent_model import SAMPLE
from privacyops.workspace import open_workspace

LATEST = """
    SELECT customer_id, purpose, action, occurred_at, method, notice_version FROM (
        SELECT *, row_number() OVER (PARTITION BY customer_id, purpose
                                     ORDER BY occurred_at DESC, action = 'withdrawn' DESC) AS rn
        FROM marketing.consent_events WHERE occurred_at < ? AND action IN ('granted', 'withdrawn')) WHERE rn = 1"""


@pytest.fixture(scope="module")
def edged(small_demo, tmp_path_factory):
    """The small demo plus sends without consent: a subject never asked, sends before a first grant, one at it."""
    root = tmp_path_factory.mktemp("edged") / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.head", "keys",
                                                                   "exports", "outputs", "certificates"))
    con = duckdb.connect(str(root / "company.duckdb"))
    try:
        top = con.execute("SELECT max(send_id) FROM marketing.email_sends").fetchone()[0]
        granted = con.execute("SELECT customer_id, min(occurred_at) FROM marketing.consent_events WHERE "
                              "purpose = 'marketing' AND action = 'granted' GROUP BY ALL ORDER BY 1 LIMIT 3").fetchall()
        never = con.execute("SELECT max(customer_id) + 1000 FROM crm.customers").fetchone()[0]
        rows = [(never, dt.datetime(2025, 3, 1)), (never, dt.datetime(2026, 1, 1))]
        for cid, first in granted:
            rows += [(cid, first - dt.timedelta(days=3)), (cid, first)]  # before the grant: counted; at it: not
        for i, (cid, at) in enumerate(rows, start=1):
            con.execute("INSERT INTO marketing.email_sends VALUES (?, ?, NULL, 'edge', ?, NULL)", [top + i, cid, at])
    finally:
        con.close()
    return root


def company(root, query, params=()):
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("as_of", [DEMO_TODAY, dt.date(2025, 6, 15), dt.date(2026, 2, 1)])
def test_processing_without_consent_matches_a_correlated_not_exists(edged, as_of):
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    [(expected,)] = company(edged, """
        SELECT count(*) FROM marketing.email_sends s WHERE s.sent_at < ? AND NOT EXISTS (
            SELECT 1 FROM marketing.consent_events e WHERE e.customer_id = s.customer_id AND e.purpose = 'marketing'
            AND e.action = 'granted' AND e.occurred_at <= s.sent_at AND e.occurred_at < ?)""", [end, end])
    report = consent_report(open_workspace(edged), as_of, audit_log=False)
    assert expected > 0
    assert report.without_consent == {"marketing.email_sends": expected}
    assert report.figures()["processing_without_consent"] == expected


@pytest.mark.parametrize("as_of", [DEMO_TODAY, dt.date(2025, 6, 15)])
def test_state_counts_and_samples_match_independent_sql(edged, as_of):
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    report = consent_report(open_workspace(edged), as_of, audit_log=False)
    cut = dt.datetime.combine(report.stale_before, dt.time())
    state = {(p, a): n for p, a, n in company(edged, f"SELECT purpose, action, count(*) FROM ({LATEST}) GROUP BY ALL",
                                              [end])}
    for name, pc in report.purposes.items():
        assert (pc.granted_now, pc.withdrawn_now) == (state.get((name, "granted"), 0),
                                                      state.get((name, "withdrawn"), 0))
    no_proof = ("(method IS NULL OR CAST(method AS VARCHAR) = '' OR notice_version IS NULL OR "
                "CAST(notice_version AS VARCHAR) = '')")
    for sample, cond, params in ((report.no_proof_sample, no_proof, [end]),
                                 (report.stale_sample, "occurred_at < ?", [end, cut])):
        expected = company(edged, f"SELECT customer_id, purpose, occurred_at FROM ({LATEST}) WHERE action = 'granted' "
                                  f"AND {cond} ORDER BY occurred_at, customer_id LIMIT {SAMPLE}", params)
        assert expected
        assert [(r["subject"], r["purpose"], r["granted_at"]) for r in sample] == expected
    [(stale,)] = company(edged, f"SELECT count(*) FROM ({LATEST}) WHERE action = 'granted' AND occurred_at < ?",
                         [end, cut])
    assert sum(pc.stale for pc in report.purposes.values()) == stale > 0


@pytest.mark.parametrize("as_of", [DEMO_TODAY, dt.date(2025, 6, 15), dt.date(2027, 3, 1)])
def test_retention_overdue_of_a_date_anchored_rule_matches_sql(edged, as_of):
    """A rule on the record's own date (email_sends: kept a period from sent_at) recomputed row by row here."""
    report = retention_report(open_workspace(edged), as_of, audit_log=False)
    ws = open_workspace(edged)
    ds = ws.datamap.datasets["marketing.email_sends"]
    rule = ws.datamap.retention[ds.retention]
    assert rule.anchor.column == "sent_at" and rule.keep.unit in ("months", "years")
    months = rule.keep.amount * (12 if rule.keep.unit == "years" else 1)
    # last day kept = the anchor's date + the period (calendar months, month ends clamped); erasable the day after
    [(overdue, empty)] = company(edged, f"""
        SELECT count(*) FILTER (WHERE CAST(CAST(sent_at AS DATE) + INTERVAL {months} MONTH AS DATE) < ?),
               count(*) FILTER (WHERE sent_at IS NULL)
        FROM marketing.email_sends""", [as_of])
    d = next(d for d in report.datasets if d.dataset == "marketing.email_sends")
    assert (d.overdue, d.not_started) == (overdue, empty)
    assert d.total == company(edged, "SELECT count(*) FROM marketing.email_sends")[0][0]


@pytest.mark.slow
def test_end_dates_in_postgresql_sqlite_and_csv_match_python_row_by_row(small_demo, tmp_path, postgres_dsn):
    """The demo spread over PostgreSQL (billing, a fiscal-year rule), SQLite (newsletter) and CSV (consent log): each
    dataset's end dates equal `retained_until` applied row by row, and the report's figures equal the DuckDB-only
    demo's (the same records in other stores)."""
    from privacyops.erasure.retention import retained_until
    from privacyops.reports.retention_report import dataset_end_dates
    from tests.support.demo import cross_store_copy

    root = cross_store_copy(small_demo, tmp_path / "x", postgres_dsn, "reportsql")
    ws = open_workspace(root)
    dm = ws.datamap
    kinds = set()
    with ws.session():
        for ds in dm.datasets.values():
            if not ds.retention:
                continue
            rule = dm.retention[ds.retention]
            if rule.anchor.via is not None:
                continue  # anchors through a reference: retention_sql.end_dates, tested with the erasure engine
            con = ws.connector(ds.source)
            kinds.add(dm.sources[ds.source].kind)
            expected: dict = {}
            for (value,) in con.execute(f"SELECT {con.quote(rule.anchor.field)} FROM {con.relation(ds)}").rows:
                end = retained_until(rule, {rule.anchor.field: value}, dm.settings)
                expected[end] = expected.get(end, 0) + 1
            assert dataset_end_dates(ws, ds) == expected, ds.name
    assert {"postgres", "sqlite", "csv"} <= kinds
    spread = retention_report(ws, DEMO_TODAY, audit_log=False).figures()
    alone = retention_report(open_workspace(small_demo), DEMO_TODAY, audit_log=False).figures()
    assert spread == alone and spread["overdue"] > 0
