"""The record of processing activities (Art. 30(1)) from the demo map: every item, as HTML and CSV, through the
API and `privacyops ropa`; security measures from the map when it has them."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.demo import MAP_SOURCE
from privacyops.map import load_datamap
from privacyops.reports import ropa
from privacyops.reports.ropa import NOT_DESCRIBED
from privacyops.workspace import open_workspace


@pytest.fixture()
def demo_map_ws(tmp_path, monkeypatch):
    """A workspace holding only the demo map (the record needs no data)."""
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "dpo")
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copyfile(MAP_SOURCE, root / "privacyops.yaml")
    return open_workspace(root)


def rows(record) -> dict[str, dict[str, str]]:
    return {r["activity (purpose)"]: r for r in csv.DictReader(io.StringIO(record.to_csv()))}


def test_every_purpose_is_an_activity_with_every_article_30_item(demo_map_ws):
    record = ropa(demo_map_ws)
    dm = load_datamap(MAP_SOURCE)
    got = rows(record)
    assert list(got) == list(dm.purposes)
    for r in got.values():  # (a) on every row
        assert r["controller"] == "Baltic Software Factory" and r["dpo"] == "dpo@example.lv"
        assert "privacy@example.lv" in r["controller_contact"]
        assert r["security measures"] == NOT_DESCRIBED  # (g): the demo map describes none
    support = got["support"]
    assert support["legal basis"] == "contract"  # (b)
    assert support["categories of data subjects"] == "customer; employee"  # (c) tickets belong to customers
    assert "User Contact Email (user.contact.email)" in support["categories of personal data"]
    assert "helpdesk" in support["categories of recipients"]
    assert "(third country)" in support["categories of recipients"]
    assert support["third-country transfers and safeguards"].startswith("helpdesk (US): EU-US Data Privacy Framework")
    assert "support.tickets: 2 years from closed_at" in support["time limits for erasure"]  # (f)
    assert "support.agents: NO TIME LIMIT SET" in support["time limits for erasure"]
    legal = got["legal"]
    assert "tax_authority" in legal["categories of recipients"] and legal["third-country transfers and safeguards"] \
        == "none"
    assert "billing.invoices: 5 years from end_of_fiscal_year(issued_at)" in legal["time limits for erasure"]
    marketing = got["marketing"]
    assert "people identified only by their contact details" in marketing["categories of data subjects"]
    assert "marketing.newsletter_signups" in marketing["categories of data subjects"]


def test_security_measures_and_the_page(demo_map_ws, tmp_path):
    path = demo_map_ws.root / "privacyops.yaml"
    path.write_text(path.read_text().replace(
        "  dpo: dpo@example.lv\n",
        "  dpo: dpo@example.lv\n  security_measures:\n    - Encryption at rest (AES-256)\n    - MFA for all staff\n",
        1))
    record = ropa(open_workspace(demo_map_ws.root))
    assert record.security_measures == ["Encryption at rest (AES-256)", "MFA for all staff"]
    assert rows(record)["service"]["security measures"] == "Encryption at rest (AES-256); MFA for all staff"
    page, table = record.write(tmp_path)
    html = page.read_text()
    assert "<script" not in html.lower()
    for item in ("(a) Controller", "(b) Purpose", "(c) Categories of data subjects", "(c) Categories of personal data",
                 "(d) Categories of recipients", "(e) Transfers to third countries", "(f) Time limits for erasure",
                 "(g) Technical and organisational security measures", "MFA for all staff",
                 "Datu valsts inspekcija"):
        assert item in html, item
    assert table.read_text().splitlines()[0].startswith("controller,controller_contact,dpo,activity (purpose)")


def test_cli_ropa(demo_map_ws, tmp_path):
    res = CliRunner().invoke(main, ["ropa", "-w", str(demo_map_ws.root), "--out", str(tmp_path / "r")],
                             env={"PRIVACYOPS_ACTOR": "dpo", "PRIVACYOPS_WORKSPACE": None})
    assert res.exit_code == 0, res.output
    assert "8 activities" in res.output and "security measures (Art. 30(1)(g)) are not described" in res.output
    assert (tmp_path / "r" / "ropa.html").is_file() and (tmp_path / "r" / "ropa.csv").is_file()
