"""The consent report on the seeded demo: withdrawals, consents in force, consents without proof and marketing
e-mails sent after withdrawal, checked against direct SQL on the generated company (written differently from the
report's own queries); the stories (Jānis mailed after withdrawing, Līga not); the same answer when the consent log
is a CSV export in another store."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest

from privacyops.demo import DEMO_TODAY, STORIES
from privacyops.reports import consent_report
from privacyops.workspace import open_workspace

JANIS, LIGA = STORIES["two_emails"], STORIES["withdrawn"]


def sql(root, query):
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def report(default_demo):
    return consent_report(open_workspace(default_demo), DEMO_TODAY, audit_log=False)


def test_withdrawals_and_grants_match_the_consent_log(default_demo, report):
    counts = dict(sql(default_demo, "SELECT action, count(*) FROM marketing.consent_events GROUP BY action"))
    f = report.figures()
    assert f["withdrawal_events"] == counts["withdrawn"] > 0
    assert f["grant_events"] == counts["granted"] > 0
    per_purpose = dict(sql(default_demo, "SELECT purpose, count(*) FROM marketing.consent_events "
                                         "WHERE action = 'withdrawn' GROUP BY purpose"))
    assert {p: c.withdrawal_events for p, c in report.purposes.items() if c.withdrawal_events} == per_purpose


def test_marketing_sends_after_withdrawal_match_direct_sql(default_demo, report):
    # per send: the latest consent event strictly before it is a withdrawal
    expected = sql(default_demo, """
        SELECT s.customer_id, s.send_id FROM marketing.email_sends s
        WHERE (SELECT e.action FROM marketing.consent_events e
               WHERE e.customer_id = s.customer_id AND e.purpose = 'marketing' AND e.occurred_at < s.sent_at
               ORDER BY e.occurred_at DESC, e.action DESC LIMIT 1) = 'withdrawn'""")
    assert len(expected) > 1
    assert sorted((b.subject, int(b.key)) for b in report.breaches) == sorted(expected)
    f = report.figures()
    assert f["processing_after_withdrawal"] == len(expected)
    assert f["subjects_processed_after_withdrawal"] == len({c for c, _ in expected})
    assert f["processing_without_consent"] == 0


def test_the_stories(report):
    janis = [g for g in report.breach_subjects() if g["subject"] == JANIS["customer_id"]]
    assert len(janis) == 1
    assert janis[0]["withdrawn_at"].date().isoformat() == JANIS["consent_withdrawn_at"]
    assert janis[0]["first"].date().isoformat() == JANIS["send_after_withdrawal_at"]
    assert janis[0]["after_withdrawal"] == 1 and janis[0]["withdrawal_by"] == "company"
    assert not [b for b in report.breaches if b.subject == LIGA["customer_id"]]  # she was never mailed after
    assert f"subject {JANIS['customer_id']}: marketing withdrawn {JANIS['consent_withdrawn_at']}" in report.text()


def test_current_state_proof_and_staleness_match_direct_sql(default_demo, report):
    latest = """
        SELECT purpose, action, occurred_at, method, notice_version FROM (
            SELECT *, row_number() OVER (PARTITION BY customer_id, purpose
                                         ORDER BY occurred_at DESC, action = 'withdrawn' DESC) AS rn
            FROM marketing.consent_events) WHERE rn = 1"""
    state = dict(((p, a), n) for p, a, n in sql(default_demo, f"SELECT purpose, action, count(*) FROM ({latest}) "
                                                              f"GROUP BY ALL"))
    m = report.purposes["marketing"]
    assert (m.granted_now, m.withdrawn_now) == (state[("marketing", "granted")], state[("marketing", "withdrawn")])
    [(no_proof,)] = sql(default_demo, f"SELECT count(*) FROM ({latest}) WHERE purpose = 'marketing' AND "
                                      f"action = 'granted' AND (notice_version IS NULL OR method IS NULL)")
    assert m.no_proof_now == no_proof > 0
    [(stale,)] = sql(default_demo, f"SELECT count(*) FROM ({latest}) WHERE purpose = 'marketing' AND "
                                   f"action = 'granted' AND occurred_at < TIMESTAMP '2024-11-15'")  # 2 years
    assert m.stale == stale > 0
    assert report.stale_after == "2 years" and report.stale_before == dt.date(2024, 11, 15)
    assert all(r["notice"] is None or r["method"] is None for r in report.no_proof_sample)


def test_the_page_has_the_chart_and_the_figures(report, tmp_path):
    page, data = report.write(tmp_path)
    html = page.read_text()
    assert "<script" not in html.lower() and 'data-chart="consent-events"' in html
    f = report.figures()
    assert (f'data-figure="processing_after_withdrawal"><div class="po-value">{f["processing_after_withdrawal"]:,}'
            in html)
    saved = json.loads(data.read_text())
    assert saved["figures"] == json.loads(json.dumps(f))
    assert {g["subject"] for g in saved["processing_after_withdrawal"]} >= {JANIS["customer_id"]}


def test_a_consent_log_in_another_store_gives_the_same_answer(small_demo, tmp_path):
    """The consent log exported to CSV (another store than the sends): checked subject by subject."""
    root = tmp_path / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "keys",
                                                                   "exports", "outputs", "certificates"))
    same = consent_report(open_workspace(root), DEMO_TODAY, audit_log=False)
    (root / "consent_csv").mkdir()
    con = duckdb.connect(str(root / "company.duckdb"))
    con.execute(f"COPY marketing.consent_events TO '{root / 'consent_csv' / 'consent_events.csv'}' (HEADER)")
    con.close()
    text = (root / "privacyops.yaml").read_text()
    text = text.replace("sources:\n", "sources:\n  consent_csv: {kind: csv, path: consent_csv, location: LV}\n", 1)
    old = "  marketing.consent_events:\n    source: company\n    table: marketing.consent_events\n"
    assert old in text
    (root / "privacyops.yaml").write_text(text.replace(old, "  marketing.consent_events:\n    source: consent_csv\n"
                                                            "    table: consent_events.csv\n"))
    other = consent_report(open_workspace(root), DEMO_TODAY, audit_log=False)
    assert [b.to_dict() for b in other.breaches] == [b.to_dict() for b in same.breaches] and same.breaches
    assert {k: p.to_dict() for k, p in other.purposes.items()} == {k: p.to_dict() for k, p in same.purposes.items()}
    assert other.without_consent == {"marketing.email_sends": None} and other.notes


def test_without_a_consent_section(mini_ws):
    r = consent_report(mini_ws, "2026-01-01")
    assert not r.configured and "no consent: section" in r.text()
    assert "no consent: section" in r.to_html()
