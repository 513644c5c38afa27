"""Access and rectification on the company spread over five kinds of store: one request, every store.

Expectations are counted in the plain DuckDB demo of the same seed, or read straight from PostgreSQL."""

from __future__ import annotations

import json

import duckdb
import pytest

from privacyops.access import export_subject, read_archive
from privacyops.demo import STORIES
from privacyops.ledger import open_case
from privacyops.rectify import apply_rectification, plan_rectification
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver
from tests.support.demo import cross_store_copy

pytestmark = pytest.mark.slow  # the demo spread over PostgreSQL and four other stores

JANIS = STORIES["two_emails"]


@pytest.fixture()
def xs(small_demo, tmp_path, postgres_dsn, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "analyst")
    return open_workspace(cross_store_copy(small_demo, tmp_path / "xs", postgres_dsn))


def plain_count(small_demo, sql, params=()):
    con = duckdb.connect(str(small_demo / "company.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchone()[0]
    finally:
        con.close()


def test_the_access_archive_holds_rows_from_every_store(xs, small_demo):
    case = open_case(xs, "access", "2026-11-20")
    result = export_subject(xs, case.case_id, JANIS["email"])
    data = json.loads(read_archive(result.path, result.password)["data.json"])
    datasets = data["datasets"] if "datasets" in data else data
    sources = {xs.datamap.datasets[name].source for name in result.datasets}
    assert {"company", "billing_db", "newsletter_app", "consent_exports", "lake"} <= sources
    cid = JANIS["customer_id"]
    assert result.datasets["billing.invoices"] == plain_count(
        small_demo, "SELECT count(*) FROM billing.invoices WHERE customer_id = ?", [cid])
    assert result.datasets["billing.invoice_lines"] == plain_count(
        small_demo, "SELECT count(*) FROM billing.invoice_lines WHERE invoice_id IN "
                    "(SELECT invoice_id FROM billing.invoices WHERE customer_id = ?)", [cid])
    assert result.datasets["marketing.consent_events"] == plain_count(
        small_demo, "SELECT count(*) FROM marketing.consent_events WHERE customer_id = ?", [cid])
    assert result.datasets["marketing.newsletter_signups"] == 1
    assert "billing.invoices" in json.dumps(datasets)


def test_rectification_changes_postgresql_rows_in_one_transaction(xs):
    case = open_case(xs, "rectification", "2026-11-20")
    new_address = "Brīvības iela 1, Rīga, LV-1010"
    plan = plan_rectification(xs, case.case_id, JANIS["email"],
                              changes={"billing.invoices.billing_address": new_address}, propagate=False)
    apply_rectification(xs, plan)
    dsn = (xs.root / "keys" / "billing.dsn").read_text().strip()
    with pgserver.connect(dsn) as con:
        rows = con.execute("SELECT DISTINCT billing_address FROM billing.invoices WHERE customer_id = %s",
                           [JANIS["customer_id"]]).fetchall()
        others = con.execute("SELECT count(*) FROM billing.invoices WHERE billing_address = %s "
                             "AND customer_id <> %s", [new_address, JANIS["customer_id"]]).fetchone()[0]
    assert rows == [(new_address,)]
    assert others == 0
