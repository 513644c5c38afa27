"""The lookup panel, driven in-process (no browser): it calls lookup() and shows what comes back."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from privacyops.cli import main as cli
from privacyops.ui import LookupPanel


def shown(panel: LookupPanel) -> str:
    """Everything the output area shows, as text: its HTML/plain outputs and the per-dataset accordion."""
    parts = []
    for out in panel.output.outputs:
        data = out.get("data", {})
        parts.append(data.get("text/html") or data.get("text/plain", ""))
    acc = panel._accordion
    if acc is not None:
        parts.extend(acc.titles)
        parts.extend(child.value for child in acc.children)
    return "\n".join(parts)


def search(panel: LookupPanel, text: str, kind: str = "auto") -> None:
    panel.query.value = text
    panel.kind.value = kind
    panel.search_button.click()


def accordion_titles(panel: LookupPanel) -> list[str]:
    return [re.sub(r" \(\d+\)$", "", t) for t in panel._accordion.titles] if panel._accordion else []


def test_email_finds_the_person_and_shows_every_dataset(mini_ws):
    panel = LookupPanel(mini_ws)
    assert panel.result is None and panel.query.placeholder == "e-mail, phone, customer id or name"
    search(panel, "janis@mini.example")

    r = panel.result
    assert r.status == "found" and r.subject.ref == "people.person:1"
    assert set(r.records) == {"people.person", "shop.orders", "shop.order_events", "mail.subscribers"}
    assert accordion_titles(panel) == list(r.records)
    assert panel._accordion.titles[1] == "shop.orders (2)"
    text = shown(panel)
    for name in r.records:
        assert name in text
    assert "shop.items" in text  # context: shared reference data, shown apart
    assert "Records per dataset" in text and "By data category" in text and "user.contact.email" in text
    assert "3 years from the end of the fiscal year of ordered at" in text  # retention of shop.orders, in words
    assert "janis2@mini.example" not in text  # person 2 is not merged in
    assert "Found" in panel.status.value and "Error" not in panel.status.value
    assert panel.picker.layout.display == "none"


def test_output_has_summary_mentions_and_first_rows(mini_ws):
    panel = LookupPanel(mini_ws, rows=1)
    search(panel, "janis@mini.example")
    text = shown(panel)
    assert "6 records in 4 datasets" in text
    assert "first 1 of 2 rows" in text  # shop.orders has 2 rows, only 1 shown
    orders_html = panel._accordion.children[accordion_titles(panel).index("shop.orders")].value
    assert ("2020-03-01" in orders_html) != ("2025-01-05" in orders_html)
    assert "gift for janis@mini.example" in text  # person 2's order note mentions person 1
    assert "Mentions in other people" in text


def test_shared_email_shows_the_candidate_picker_and_pick_shows_only_that_person(mini_ws):
    panel = LookupPanel(mini_ws)
    search(panel, "home@mini.example")

    assert panel.result.status == "ambiguous"
    assert panel.picker.layout.display != "none"
    assert [ref for _label, ref in panel.candidates.options] == ["people.person:3", "people.person:4"]
    assert "Oskars Kalns" in panel.candidates.options[1][0]
    assert panel._accordion is None and "Candidates" in shown(panel)

    panel.candidates.value = "people.person:4"
    panel.pick_button.click()

    r = panel.result
    assert r.status == "found" and r.subject.ref == "people.person:4"
    assert r.records["people.person"].frame()["pid"].tolist() == [4]
    assert r.records["shop.orders"].frame()["oid"].tolist() == [104]
    text = shown(panel)
    assert "Oskars Kalns" in text and "deliver to neighbour" in text
    assert "Ieva Kalna" not in text  # the other family member's rows are not shown
    assert "Showing Oskars Kalns" in panel.status.value


def test_name_gives_ranked_candidates(mini_ws):
    panel = LookupPanel(mini_ws)
    search(panel, "Janis Berzins")
    assert panel.result.status == "ambiguous"
    refs = [ref for _label, ref in panel.candidates.options]
    assert sorted(refs) == ["people.person:1", "people.person:2"]
    assert all("score" in label for label, _ref in panel.candidates.options)
    assert "people" in panel.status.value and "Janis Berzins" in panel.status.value
    panel.pick_button.click()  # the first (best) candidate is preselected
    assert panel.result.subject.ref == refs[0]


def test_kind_dropdown_offers_the_maps_identity_kinds(mini_ws):
    panel = LookupPanel(mini_ws)
    assert list(panel.kind.options[:5]) == ["auto", "email", "phone", "name", "id"]
    assert "member_no" in panel.kind.options
    search(panel, "M-003", kind="member_no")
    assert panel.result.status == "found" and panel.result.subject.ref == "people.person:3"
    search(panel, "M-003", kind="email")  # the same text as an e-mail finds nobody
    assert panel.result.status == "not_found"
    assert "No records found" in panel.status.value and panel.output.outputs == ()


def test_empty_query_shows_a_clear_error_and_clears_the_previous_person(mini_ws):
    panel = LookupPanel(mini_ws)
    search(panel, "janis@mini.example")
    assert panel.output.outputs
    search(panel, "   ")
    assert "po-error" in panel.status.value and "give an identifier" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert panel.result is None and panel.output.outputs == () and panel._accordion is None


def test_unknown_case_is_an_error_message_not_a_traceback(mini_ws):
    panel = LookupPanel(mini_ws, case_id="NO-SUCH-CASE")
    search(panel, "janis@mini.example")
    assert panel.result is None
    assert "po-error" in panel.status.value and "NO-SUCH-CASE" in panel.status.value


def test_missing_workspace_shows_an_error(tmp_path):
    panel = LookupPanel(tmp_path / "missing")
    assert "po-error" in panel.status.value and "does not exist" in panel.status.value
    search(panel, "janis@mini.example")
    assert panel.result is None and "does not exist" in panel.status.value


def test_invalid_map_shows_its_problems(tmp_path):
    (tmp_path / "privacyops.yaml").write_text("version: 1\norganisation: {name: X}\n")
    panel = LookupPanel(tmp_path)
    assert "po-error" in panel.status.value and "problem" in panel.status.value
    assert panel.ws is None


def test_initial_search_runs_and_the_panel_displays_as_its_widget(mini_ws):
    panel = LookupPanel(mini_ws, initial="+371 2000 1111")
    assert panel.query.value == "+371 2000 1111"
    assert panel.result.status == "found" and panel.result.subject.ref == "people.person:1"
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    assert not LookupPanel(mini_ws, initial="janis@mini.example", run=False).result


def test_initial_pick_and_unknown_kind(mini_ws):
    panel = LookupPanel(mini_ws, initial="home@mini.example", pick="people.person:3")
    assert panel.result.subject.ref == "people.person:3"
    bad = LookupPanel(mini_ws, initial="home@mini.example", kind="shoe_size")
    assert bad.result is None and "shoe_size" in bad.status.value


def test_panel_shows_what_the_cli_finds(mini_ws):
    """The panel calls the same lookup() the CLI calls: same subject, same rows."""
    panel = LookupPanel(mini_ws)
    search(panel, "janis@mini.example")
    res = CliRunner().invoke(cli, ["lookup", "janis@mini.example", "--workspace", str(mini_ws.root), "--json"])
    assert res.exit_code == 0, res.output
    cli_result = json.loads(res.output)
    mine = panel.result.to_dict()
    assert mine["subject"] == cli_result["subject"]
    assert mine["records"] == cli_result["records"]
    assert mine["mentions"] == cli_result["mentions"]


@pytest.mark.parametrize("text", ["janis@mini.example", "home@mini.example", "nobody@mini.example"])
def test_every_search_is_audited_once(mini_ws, text):
    from privacyops.ledger import audit

    before = len(audit.entries(mini_ws, action="lookup"))
    search(LookupPanel(mini_ws), text)
    assert len(audit.entries(mini_ws, action="lookup")) == before + 1


def test_a_bug_is_reported_in_the_panel_and_the_buttons_stay_usable(mini_ws, monkeypatch):
    import privacyops.ui.lookup_panel as lp

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lp, "lookup", broken)
    panel = LookupPanel(mini_ws)
    search(panel, "janis@mini.example")  # the click handler re-raises; ipywidgets logs it
    assert "unexpected RuntimeError: boom" in panel.status.value
    assert not panel.search_button.disabled and not panel.pick_button.disabled


def test_rows_under_a_shared_identifier_are_shown_apart(mini_ws):
    from privacyops.ui import LookupPanel

    panel = LookupPanel(mini_ws, run=False)
    panel.query.value = "home@mini.example"
    panel.search_button.click()
    panel.candidates.value = "people.person:3"
    panel.pick_button.click()
    assert "mail.subscribers" in panel.result.shared
    text = " ".join(str(o.get("data", {}).get("text/html", "")) for o in panel.output.outputs)
    assert "shared with another person" in text


def test_enter_in_the_search_box_searches_the_new_person_once(mini_ws):
    """Typing a new identifier and pressing Enter (the box reports its value only then) shows that person; the
    Search button pressed right after does not search again (one audit entry per search)."""
    import duckdb

    panel = LookupPanel(mini_ws)
    panel.query.value = "janis@mini.example"  # Enter
    assert panel.result is not None and panel.result.subject.ref == "people.person:1"
    panel.query.value = "+371 2000 4444"  # Enter, another person
    assert panel.result.subject.ref == "people.person:4"
    panel.search_button.click()  # pressed right after Enter: the same search is not run twice
    con = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM audit_log WHERE action = 'lookup'").fetchone()[0]
    finally:
        con.close()
    assert n == 2
