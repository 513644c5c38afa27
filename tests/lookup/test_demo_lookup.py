"""Lookup on the seeded demo company: the stories' edge cases, with expectations counted straight from the data.

Runs on a plain demo (scans) and on the same demo with lookup indexes: both must give identical answers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import duckdb
import pytest

from privacyops.demo import STORIES, distribute
from privacyops.lookup import lookup
from privacyops.workspace import create_indexes, open_workspace
from tests.support import pg as pgserver

JANIS, VARIANT, FAM_A, FAM_B = STORIES["two_emails"], STORIES["name_variant"], STORIES["family_a"], STORIES["family_b"]


@pytest.fixture(scope="module", params=["scan", "indexed", pytest.param("cross-store", marks=pytest.mark.slow)])
def ws(request, small_demo, tmp_path_factory):
    """The same seeded company three ways: one DuckDB file scanned; indexed; spread over PostgreSQL, SQLite,
    CSV, DuckDB and Parquet. Expectations are always counted in the plain demo."""
    if request.param == "scan":
        return open_workspace(small_demo)
    root = tmp_path_factory.mktemp(request.param) / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "keys"))
    if request.param == "cross-store":
        distribute(root, pgserver.create_database(request.getfixturevalue("postgres_dsn"), "xstore"),
                   progress=False)
    workspace = open_workspace(root)
    create_indexes(workspace, progress=False)
    workspace.expected_root = small_demo
    return workspace


def q(ws, sql, params=()):
    con = duckdb.connect(str(getattr(ws, "expected_root", ws.root) / "company.duckdb"), read_only=True)
    try:
        return [r[0] for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def parquet(ws, sql, params=()):
    con = duckdb.connect()
    files = str(getattr(ws, "expected_root", ws.root) / "lake" / "web" / "analytics_events" / "*.parquet")
    return [r[0] for r in con.execute(sql.replace("EVENTS", f"read_parquet('{files}')"), list(params)).fetchall()]


def expected_for(ws, cid: int) -> dict[str, list]:
    """Every row that belongs to customer `cid`, by primary key, straight from the data."""
    acc = q(ws, "SELECT account_id FROM app.user_accounts WHERE customer_id = ? ORDER BY 1", [cid])
    tickets = q(ws, "SELECT ticket_id FROM support.tickets WHERE customer_id = ? ORDER BY 1", [cid])
    invoices = q(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1", [cid])
    return {
        "crm.customers": [cid],
        "app.user_accounts": acc,
        "app.login_events": q(ws, "SELECT event_id FROM app.login_events WHERE account_id IN "
                                  "(SELECT account_id FROM app.user_accounts WHERE customer_id = ?) ORDER BY 1", [cid]),
        "support.tickets": tickets,
        "support.ticket_messages": q(ws, "SELECT message_id FROM support.ticket_messages WHERE ticket_id IN "
                                         "(SELECT ticket_id FROM support.tickets WHERE customer_id = ?) ORDER BY 1",
                                     [cid]),
        "billing.invoices": invoices,
        "billing.invoice_lines": q(ws, "SELECT line_id FROM billing.invoice_lines WHERE invoice_id IN "
                                       "(SELECT invoice_id FROM billing.invoices WHERE customer_id = ?) ORDER BY 1",
                                   [cid]),
        "marketing.consent_events": q(ws, "SELECT event_id FROM marketing.consent_events WHERE customer_id = ? "
                                          "ORDER BY 1", [cid]),
        "marketing.email_sends": q(ws, "SELECT send_id FROM marketing.email_sends WHERE customer_id = ? ORDER BY 1",
                                   [cid]),
        "web.analytics_events": sorted(parquet(ws, "SELECT event_id FROM EVENTS WHERE account_id IN "
                                                   f"({','.join(map(str, acc)) or 'NULL'})")),
        # rows with two people in them: theirs as either party; their own delivery address
        "crm.delivery_addresses": q(ws, "SELECT delivery_address_id FROM crm.customers WHERE customer_id = ? "
                                        "AND delivery_address_id IS NOT NULL", [cid]),
        "crm.referrals": q(ws, "SELECT referral_id FROM crm.referrals WHERE referrer_id = ? OR referred_id = ? "
                               "OR (referred_id IS NULL AND lower(trim(referred_email)) IN (SELECT lower(trim(email)) "
                               "FROM crm.customers WHERE customer_id = ? UNION SELECT lower(trim(email)) FROM "
                               "app.user_accounts WHERE customer_id = ?)) ORDER BY 1", [cid] * 4),
        "community.messages": q(ws, "SELECT message_id FROM community.messages WHERE sender_id = ? OR "
                                    "recipient_id = ? ORDER BY 1", [cid, cid]),
    }


def got(result) -> dict[str, list]:
    return {name: sorted(k[0] for k in recs.keys()) for name, recs in result.records.items()}


@pytest.mark.parametrize("identifier", [JANIS["email"], JANIS["account_emails"][1], " JANIS.Berzins@Example.LV ",
                                        JANIS["phone"], "29123456", "0037129123456", "+371 29-12-34-56", "1"])
def test_the_two_email_customer_is_found_whole_from_any_identifier(ws, identifier):
    r = lookup(ws, identifier, audit_log=False)
    assert r.status == "found", r.candidates
    assert r.subject.ref == f"crm.customers:{JANIS['customer_id']}"
    records = got(r)
    expected = expected_for(ws, JANIS["customer_id"])
    for name, keys in expected.items():
        assert records.get(name, []) == keys, name
    # both addresses' accounts, and everything the issue lists, is there
    assert records["app.user_accounts"] == sorted(JANIS["account_ids"]) and len(JANIS["account_ids"]) == 2
    for name in ("support.tickets", "support.ticket_messages", "billing.invoices", "billing.invoice_lines",
                 "marketing.consent_events", "web.analytics_events", "app.login_events", "community.messages",
                 "crm.referrals", "crm.delivery_addresses"):
        assert records[name], name
    # the newsletter signup under his second address joins through the identity, not a foreign key
    signups = r.records["marketing.newsletter_signups"].rows
    assert [s["email"] for s in signups] == [JANIS["newsletter_email"]]
    # nobody else's rows
    assert set(records) == set(expected) | {"marketing.newsletter_signups"}


def test_shared_reference_data_is_context_only(ws):
    r = lookup(ws, JANIS["email"], audit_log=False)
    assert "catalog.products" not in r.records and "support.agents" not in r.records
    products = q(ws, "SELECT DISTINCT product_id FROM billing.invoice_lines WHERE invoice_id IN "
                     "(SELECT invoice_id FROM billing.invoices WHERE customer_id = ?) ORDER BY 1", [JANIS["customer_id"]])
    assert sorted(k[0] for k in r.context["catalog.products"].keys()) == products
    # other customers' lines with the same products never come in
    assert len(r.records["billing.invoice_lines"].rows) == len(expected_for(ws, JANIS["customer_id"])
                                                              ["billing.invoice_lines"])


def test_mentions_of_the_customer_in_other_peoples_tickets(ws):
    r = lookup(ws, JANIS["email"], audit_log=False)
    anna_tickets = set(q(ws, "SELECT ticket_id FROM support.tickets WHERE customer_id = ?",
                         [STORIES["closed"]["customer_id"]]))
    mentioned = {m.key[0] for m in r.mentions if m.dataset == "support.ticket_messages"}
    anna_messages = set(q(ws, "SELECT message_id FROM support.ticket_messages WHERE ticket_id IN (SELECT unnest(?)) "
                              "AND contains(lower(body), ?)", [sorted(anna_tickets), JANIS["email"]]))
    assert anna_messages and anna_messages <= mentioned
    own = set(k[0] for k in r.records["support.ticket_messages"].keys())
    assert not mentioned & own


def test_family_sharing_an_email_gives_candidates_and_picking_keeps_them_apart(ws):
    r = lookup(ws, FAM_A["email"], audit_log=False)
    assert r.status == "ambiguous" and not r.records
    assert sorted(c.ref for c in r.candidates) == [f"crm.customers:{FAM_A['customer_id']}",
                                                   f"crm.customers:{FAM_B['customer_id']}"]
    picked = lookup(ws, pick=f"crm.customers:{FAM_B['customer_id']}", audit_log=False)
    records = got(picked)
    for name, keys in expected_for(ws, FAM_B["customer_id"]).items():
        assert records.get(name, []) == keys, name
    assert FAM_A["customer_id"] not in records["crm.customers"]


@pytest.mark.parametrize("query, first", [("Jānis Bērziņš", JANIS), ("Janis Berzins", VARIANT),
                                          ("Berzins Janis", VARIANT), ("jānis bērziņš", JANIS)])
def test_names_return_ranked_candidates(ws, query, first):
    r = lookup(ws, query, audit_log=False)
    assert r.status == "ambiguous" and not r.records
    refs = [c.ref for c in r.candidates]
    assert refs[0] == f"crm.customers:{first['customer_id']}"
    assert {f"crm.customers:{JANIS['customer_id']}", f"crm.customers:{VARIANT['customer_id']}"} <= set(refs[:2])
    assert [c.score for c in r.candidates] == sorted((c.score for c in r.candidates), reverse=True)


def test_a_surname_lists_everyone_bearing_it(ws):
    r = lookup(ws, "Bērziņš", audit_log=False)
    bearers = q(ws, "SELECT customer_id FROM crm.customers WHERE strip_accents(full_name) ILIKE '%berzins%'")
    assert r.status == "ambiguous"
    got_ids = {c.key[0] for c in r.candidates}
    assert JANIS["customer_id"] in got_ids
    if len(bearers) <= 20:  # candidates are capped at 20, best first
        assert set(bearers) <= got_ids
    else:
        assert len(got_ids) == 20


def test_prospect_and_closed_customer(ws):
    prospect = lookup(ws, STORIES["prospect"]["email"], audit_log=False)
    assert prospect.status == "found" and prospect.subject is None
    assert list(prospect.records) == ["marketing.newsletter_signups"]
    closed = lookup(ws, STORIES["closed"]["email"], audit_log=False)
    assert closed.records["crm.customers"].rows[0]["status"] == "closed"


def test_cli_json_for_the_two_email_customer(ws):
    out = subprocess.run([sys.executable, "-m", "privacyops.cli", "lookup", JANIS["account_emails"][1], "--json",
                          "--workspace", str(ws.root)], capture_output=True, text=True, timeout=120,
                         env={"PRIVACYOPS_ACTOR": "test", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "found"
    expected = expected_for(ws, JANIS["customer_id"])
    assert {n: d["count"] for n, d in data["records"].items() if n in expected} == \
        {n: len(v) for n, v in expected.items() if v}
    for row in data["records"]["billing.invoices"]["rows"]:
        assert row["customer_id"] == JANIS["customer_id"]
