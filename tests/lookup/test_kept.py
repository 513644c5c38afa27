"""After an erasure, a lookup by the erased person's e-mail, phone or id still says what is kept: the erasure
(case, date, certificate) and each kept dataset with its row count, rule and until-date — found through keyed
digests of the identifiers, as the data no longer holds them.

Counts come from SQL on the store, dates from the retention rule computed here, plan facts from SQL on the ledger.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import approve_plan, erase_due, execute_plan, plan_erasure
from privacyops.errors import LookupInputError
from privacyops.ledger import open_case, open_ledger
from privacyops.lookup import FOUND, NOT_FOUND, lookup
from privacyops.workspace import open_workspace
from tests.support.demo import dq
from tests.support.mini import erase_map

AS_OF = dt.date(2026, 11, 15)


def q(ws, sql: str, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def ledger(ws, sql, params=()):
    with open_ledger(ws) as con:
        return con.execute(sql, list(params)).fetchall()


def erase(ws, monkeypatch, subject: str, as_of: dt.date = AS_OF):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, subject, as_of=as_of)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    return plan


def end_of_year_plus(day: dt.date, years: int) -> dt.date:
    return dt.date(day.year + years, 12, 31)  # the rule: N years from the end of the (calendar) fiscal year


@pytest.fixture()
def erased(mini_ws, monkeypatch):
    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(mini_ws.root)
    ids = q(ws, "SELECT mail, mail2, tel, member_no FROM people.person WHERE pid = 1")[0]
    plan = erase(ws, monkeypatch, "M-001")
    return ws, plan, ids


def test_lookup_of_an_erased_person_says_what_is_kept_by_email_phone_and_id(erased):
    ws, plan, (mail, mail2, tel, member_no) = erased
    assert q(ws, "SELECT count(*) FROM people.person WHERE pid = 1") == [(0,)]  # the identity is gone
    kept_orders = q(ws, "SELECT ordered_at FROM shop.orders WHERE pid = 1 ORDER BY oid")
    assert len(kept_orders) == 1  # ground truth: what the store still holds of person 1
    until = end_of_year_plus(kept_orders[0][0], 3)
    (case_id, executed_at, cert), = ledger(ws, "SELECT case_id, executed_at, certificate FROM erasure_plans "
                                               "WHERE plan_id = ?", [plan.plan_id])
    for query in (mail.strip().upper(), mail2, tel, "20001111", member_no):
        r = lookup(ws, query)
        assert r.status == NOT_FOUND and not r.records, query
        assert [e.plan_id for e in r.erasures] == [plan.plan_id], query
        e = r.erasures[0]
        assert (e.case_id, e.executed_at, e.certificate) == (case_id, executed_at, cert)
        assert [(k.dataset, k.rows, k.rule, k.ground, k.until, k.erase_on) for k in e.kept] == [
            ("shop.orders", len(kept_orders), "orders", "Test law s.1", until, until + dt.timedelta(days=1))]
        assert e.kept[0].legal_bases == ["contract", "legal_obligation"] and e.kept[0].restricted == 1
        assert r.kept_rows == len(kept_orders)
        doc = json.loads(json.dumps(r.to_dict()))
        assert doc["erasures"][0]["kept"][0]["until"] == until.isoformat() and doc["kept_rows"] == 1


def test_a_pick_of_the_erased_person_row_says_what_is_kept(erased):
    ws, plan, _ids = erased
    ref = plan.subjects[0]["ref"]
    assert ref == "people.person:1" and q(ws, "SELECT count(*) FROM people.person WHERE pid = 1") == [(0,)]
    r = lookup(ws, pick=ref)
    assert r.status == NOT_FOUND and [e.plan_id for e in r.erasures] == [plan.plan_id]
    assert r.erasures[0].matched_on == ["ref"] and r.kept_rows == 1
    with pytest.raises(LookupInputError, match="no such row"):  # the engines' own checks still see a missing row
        lookup(ws, pick=ref, audit_log=False)
    with pytest.raises(LookupInputError, match="no such row"):  # and a row nobody erased is still an input error
        lookup(ws, pick="people.person:99")


def test_no_erasure_for_other_people_or_a_true_miss(erased):
    ws, _plan, _ids = erased
    other = lookup(ws, "M-002")
    assert other.status == FOUND and other.erasures == []
    miss = lookup(ws, "nobody@nowhere.example")
    assert miss.status == NOT_FOUND and miss.erasures == []
    assert lookup(ws, "Janis Berzins").erasures == []  # names never match an erasure


def test_cli_lookup_reports_kept_records_exit_0_and_a_miss_exit_1(erased):
    ws, plan, (_mail, mail2, _tel, member_no) = erased
    runner = CliRunner()
    res = runner.invoke(main, ["lookup", member_no, "--workspace", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert plan.plan_id in res.output and "shop.orders" in res.output and "2028-12-31" in res.output
    assert "No records found" not in res.output
    res = runner.invoke(main, ["lookup", mail2, "--workspace", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["erasures"][0]["kept"][0]["rows"] == 1 and doc["status"] == "not_found"
    res = runner.invoke(main, ["lookup", "nobody@nowhere.example", "--workspace", str(ws.root)])
    assert res.exit_code == 1 and "No records found" in res.output


def test_headless_lookup_job_writes_the_kept_records_and_does_not_fail(erased, tmp_path):
    from privacyops.jobs.lookup_job import subject_lookup

    ws, plan, (_mail, _mail2, tel, _member_no) = erased
    kept = q(ws, "SELECT count(*) FROM shop.orders WHERE pid = 1")[0][0]
    job = subject_lookup(ws.root, tel, interactive=False, output_dir=tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "lookup.json").read_text())
    assert doc["status"] == "not_found" and doc["kept_rows"] == kept
    assert doc["erasures"][0]["plan_id"] == plan.plan_id and doc["erasures"][0]["kept"][0]["dataset"] == "shop.orders"
    assert plan.plan_id in job.text()


def test_a_batch_erasure_reports_each_persons_own_kept_records(mini_ws, monkeypatch, tmp_path):
    from privacyops.erasure import plan_batch

    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(mini_ws.root)
    orders = {m: q(ws, "SELECT o.ordered_at FROM shop.orders o JOIN people.person p USING (pid) WHERE p.member_no = ? "
                       "ORDER BY o.oid", [m]) for m in ("M-001", "M-002")}
    csv = tmp_path / "subjects.csv"
    csv.write_text("subject\nM-001\nM-002\n")
    assert lookup(ws, "M-001").erasures == []  # (read before the plan exists: what this process knows grows)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_batch(ws, csv, open_case(ws, "erasure", "2026-11-10").case_id, as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    assert execute_plan(ws, plan.plan_id).ok
    for member, dates in orders.items():
        # Ground truth: the rule keeps orders until 3 years after the end of their year, as of the plan's day.
        want = Counter(end_of_year_plus(d, 3) for (d,) in dates if end_of_year_plus(d, 3) >= AS_OF)
        r = lookup(ws, member)
        assert r.status == NOT_FOUND and [e.plan_id for e in r.erasures] == [plan.plan_id]
        assert {k.until: k.rows for k in r.erasures[0].kept if k.dataset == "shop.orders"} == dict(want), member
    kept = q(ws, "SELECT count(*) FROM shop.orders WHERE pid IN (1, 2)")[0][0]
    assert kept == sum(lookup(ws, m).kept_rows for m in orders) == 2


def test_once_the_due_run_erases_the_kept_records_nothing_is_kept(erased, monkeypatch, later_today):
    ws, plan, (_mail, _mail2, _tel, member_no) = erased
    due = lookup(ws, member_no).erasures[0].kept[0].erase_on
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "scheduler")
    assert all(r.ok for r in erase_due(ws, due))
    assert q(ws, "SELECT count(*) FROM shop.orders WHERE pid = 1") == [(0,)]
    r = lookup(ws, member_no)
    assert [e.plan_id for e in r.erasures] == [plan.plan_id] and r.erasures[0].kept == [] and r.kept_rows == 0
    res = CliRunner().invoke(main, ["lookup", member_no, "--workspace", str(ws.root)])
    assert res.exit_code == 1 and plan.plan_id in res.output  # nothing held: a miss, with the erasure named


def test_demo_customer_erased_with_invoices_kept_under_the_tax_rule(demo, monkeypatch):
    ws = demo
    assert ws.datamap.settings.fiscal_year_start == (1, 1)  # the fiscal year is the calendar year (below)
    tax = ws.datamap.retention["tax_records"]
    proof = ws.datamap.retention["marketing_proof"]
    assert (tax.keep.amount, tax.keep.unit, str(tax.anchor)) == (5, "years", "end_of_fiscal_year(issued_at)")
    assert (proof.keep.amount, proof.keep.unit, str(proof.anchor)) == (3, "years", "occurred_at")
    email = "janis.berzins@example.lv"
    (cid,) = dq(ws, "SELECT customer_id FROM crm.customers WHERE lower(email) = ?", [email])
    plan = erase(ws, monkeypatch, email)
    invoices = dq(ws, "SELECT issued_at FROM billing.invoices WHERE customer_id = ?", [cid])
    assert invoices  # ground truth: what the tax rule (5 years from the end of the year issued) keeps
    by_until: dict[dt.date, int] = {}
    for issued in invoices:
        until = end_of_year_plus(issued, 5)
        by_until[until] = by_until.get(until, 0) + 1
    r = lookup(ws, email)
    assert not r.records and len(r.erasures) == 1 and r.erasures[0].plan_id == plan.plan_id
    got = {k.until: k.rows for k in r.erasures[0].kept if k.dataset == "billing.invoices"}
    assert got == by_until
    assert all(k.rule == "tax_records" for k in r.erasures[0].kept if k.dataset == "billing.invoices")
    lines = dq(ws, "SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i USING (invoice_id) "
                   "WHERE i.customer_id = ?", [cid])[0]
    assert sum(k.rows for k in r.erasures[0].kept if k.dataset == "billing.invoice_lines") == lines
    # Consent proof: kept 3 years from the event (a date, not the end of a year).
    events = dq(ws, "SELECT occurred_at FROM marketing.consent_events WHERE customer_id = ?", [cid])
    want = Counter(dt.date(e.year + 3, e.month, e.day) for e in events)
    assert want and {k.until: k.rows for k in r.erasures[0].kept if k.dataset == "marketing.consent_events"} == want
    assert sum(k.rows for k in r.erasures[0].kept) == r.kept_rows == len(invoices) + lines + len(events)
    by_id = lookup(ws, str(cid), kind="customer_id")
    assert [e.plan_id for e in by_id.erasures] == [plan.plan_id]
