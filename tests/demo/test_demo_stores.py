"""`privacyops demo --postgres DSN`: the company spread over five kinds of store, looked up in one request."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.demo import STORIES
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver

pytestmark = pytest.mark.slow  # builds the demo and spreads it over PostgreSQL


def test_demo_command_spreads_the_company_and_keeps_the_dsn_out_of_the_map(tmp_path, postgres_dsn):
    dsn = pgserver.create_database(postgres_dsn, "democli")
    ws_dir = tmp_path / "xdemo"
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "test"})
    res = runner.invoke(main, ["demo", "-w", str(ws_dir), "--subjects", "60", "--postgres", dsn])
    assert res.exit_code == 0, res.output
    kinds = {s.kind for s in open_workspace(ws_dir).datamap.sources.values()}
    assert kinds == {"duckdb", "parquet", "postgres", "sqlite", "csv"}
    text = (ws_dir / "privacyops.yaml").read_text()
    assert dsn not in text and "dsn_file: keys/billing.dsn" in text
    dsn_file = ws_dir / "keys" / "billing.dsn"
    assert stat.S_IMODE(os.stat(dsn_file).st_mode) == 0o600
    out = runner.invoke(main, ["lookup", STORIES["two_emails"]["email"], "--json", "-w", str(ws_dir)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    sources = {d["source"] for d in data["records"].values()}
    assert {"company", "billing_db", "newsletter_app", "consent_exports", "lake"} <= sources
    with pgserver.connect(dsn) as con:
        invoices = con.execute("SELECT count(*) FROM billing.invoices WHERE customer_id = %s",
                               [STORIES["two_emails"]["customer_id"]]).fetchone()[0]
    assert data["records"]["billing.invoices"]["count"] == invoices > 0
