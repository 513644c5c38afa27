"""The request inbox panel, driven in-process like a kernel drives it (no browser): the list, its filters and order,
the per-request buttons and recording who a request is about. Expectations come from SQL on the ledger."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from privacyops.ledger import close_case, extend_case, open_case
from privacyops.ui.erasure_panel import ErasurePanel
from privacyops.ui.export_panel import ExportPanel
from privacyops.ui.inbox_panel import InboxPanel
from privacyops.ui.lookup_panel import LookupPanel

TODAY = dt.date(2026, 3, 20)
EMAIL = "janis@mini.example"


def ledger(ws, sql, params=()):
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture()
def cases(mini_ws):
    """Five requests: overdue access, a fresh erasure, an extended rectification, a closed complaint, an access
    due today. The access one came with an e-mail (kept only as a keyed hash)."""
    got = {"late": open_case(mini_ws, "access", "2026-01-10", subject=EMAIL).case_id,
           "erasure": open_case(mini_ws, "erasure", "2026-03-12").case_id,
           "extended": open_case(mini_ws, "rectification", "2026-02-01").case_id,
           "closed": open_case(mini_ws, "complaint", "2026-01-05").case_id,
           "today": open_case(mini_ws, "access", "2026-02-20").case_id}
    extend_case(mini_ws, got["extended"], 2, "several systems", informed="2026-02-10", today=dt.date(2026, 2, 10))
    close_case(mini_ws, got["closed"], "answered", at=dt.date(2026, 1, 20))
    return got


def expected(ws, where: str = "status = 'open'", params=(), order="COALESCE(extended_due, due), case_id"):
    """(case_id, deadline, days left, overdue) straight from the ledger, for TODAY."""
    rows = ledger(ws, f"SELECT case_id, COALESCE(extended_due, due), status FROM cases WHERE {where} ORDER BY {order}",
                  params)
    return [(c, d, (d - TODAY).days if s == "open" else None, s == "open" and d < TODAY) for c, d, s in rows]


def shown(panel: InboxPanel):
    return [(r.case_id, r.due, r.days_left, r.overdue) for r in panel.rows]


def lines_html(panel: InboxPanel) -> str:
    return "\n".join(line.children[0].value for line in panel.list_box.children[1:])


def test_the_inbox_lists_the_open_requests_most_urgent_first(mini_ws, cases):
    panel = InboxPanel(mini_ws, today=TODAY)
    assert panel.error is None
    want = expected(mini_ws)
    assert shown(panel) == want and len(want) == 4
    assert [c for c, _d, _n, late in want if late] == [cases["late"]]
    assert cases["closed"] not in [r.case_id for r in panel.rows]
    extended = next(r for r in panel.rows if r.case_id == cases["extended"])
    assert extended.due == ledger(mini_ws, "SELECT extended_due FROM cases WHERE case_id = ?", [cases["extended"]])[0][0]
    assert extended.extended and extended.due > extended.first_due
    html = lines_html(panel)
    assert html.count("OVERDUE") == 1 and "po-inbox-late" in html
    assert "1 overdue" in panel.status.value
    assert EMAIL not in panel.widget.children[0].value + html  # the identifier is kept only as a keyed hash
    today = next(r for r in panel.rows if r.case_id == cases["today"])
    assert today.days_left == 0 and not today.overdue  # due today is not overdue yet


def test_filters_and_sort_follow_the_ledger(mini_ws, cases):
    panel = InboxPanel(mini_ws, today=TODAY)
    panel.type_filter.value = "access"
    assert shown(panel) == expected(mini_ws, "status = 'open' AND type = ?", ["access"])
    panel.type_filter.value = ""
    panel.overdue_only.value = True
    assert shown(panel) == expected(mini_ws, "status = 'open' AND COALESCE(extended_due, due) < ?", [TODAY])
    panel.overdue_only.value = False
    panel.status_filter.value = "all"
    assert shown(panel) == expected(mini_ws, "TRUE", order="status <> 'open', COALESCE(extended_due, due), case_id")
    assert panel.rows[-1].case_id == cases["closed"]  # open requests first, even one due later
    assert next(r for r in panel.rows if r.case_id == cases["closed"]).days_left is None
    panel.sort.value = "newest"
    assert [r.case_id for r in panel.rows] == [c for c, in ledger(mini_ws, "SELECT case_id FROM cases "
                                                                            "ORDER BY received DESC, case_id DESC")]
    panel.status_filter.value = "closed"
    assert [r.case_id for r in panel.rows] == [cases["closed"]]


def test_recording_the_subject_shows_the_reference(mini_ws, cases):
    panel = InboxPanel(mini_ws, today=TODAY)
    panel.ref_case.value = cases["late"]
    panel.ref_text.value = "nonsense"
    panel.ref_button.click()
    assert "po-error" in panel.status.value and "DATASET:KEY" in panel.status.value
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [cases["late"]]) == [(None,)]

    panel.ref_text.value = "people.person:1"
    panel.ref_button.click()
    assert panel.error is None
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [cases["late"]]) == [("people.person:1",)]
    assert "people.person:1" in lines_html(panel)
    (action,) = ledger(mini_ws, "SELECT action FROM audit_log WHERE case_id = ? ORDER BY seq DESC LIMIT 1",
                       [cases["late"]])
    assert action == ("case.subject",)


def test_buttons_open_the_panel_answering_the_request_under_its_case(mini_ws, cases):
    panel = InboxPanel(mini_ws, today=TODAY)
    panel.ref_case.value = cases["late"]
    panel.ref_text.value = "people.person:1"
    panel.ref_button.click()
    assert set(panel.buttons(cases["late"])) == {"lookup", "export"}
    assert set(panel.buttons(cases["erasure"])) == {"lookup", "erasure"}
    assert set(panel.buttons(cases["extended"])) == {"lookup", "rectify"}

    before = ledger(mini_ws, "SELECT count(*) FROM audit_log WHERE action = 'lookup' AND case_id = ?",
                    [cases["late"]])[0][0]
    panel.buttons(cases["late"])["lookup"].click()
    assert isinstance(panel.opened, LookupPanel) and panel.selected == cases["late"]
    assert panel.opened.result.subject.ref == "people.person:1"  # the recorded reference, picked
    assert panel.detail.children == (panel.opened.widget,)
    assert ledger(mini_ws, "SELECT count(*) FROM audit_log WHERE action = 'lookup' AND case_id = ?",
                  [cases["late"]])[0][0] == before + 1  # the lookup is attached to the case

    panel.buttons(cases["late"])["export"].click()
    assert isinstance(panel.opened, ExportPanel) and panel.opened.case.value == cases["late"]
    assert "02_access_export.ipynb" in panel.detail_title.value

    panel.buttons(cases["erasure"])["erasure"].click()
    assert isinstance(panel.opened, ErasurePanel) and panel.opened.case.value == cases["erasure"]
    assert "subject not recorded yet" in panel.detail_title.value

    assert panel.open_case(cases["erasure"], "export") is None  # not how an erasure request is answered
    assert "po-error" in panel.status.value and isinstance(panel.opened, ErasurePanel)


def test_a_workspace_that_cannot_be_opened_is_a_red_line(tmp_path):
    panel = InboxPanel(tmp_path / "nowhere")
    assert panel.rows == [] and "po-error" in panel.status.value and "no workspace" in panel.title.value


def test_record_subject_takes_whom_the_opened_lookup_found(mini_ws, cases):
    panel = InboxPanel(mini_ws, today=TODAY)
    panel.ref_case.value = cases["erasure"]
    panel.ref_button.click()  # nothing typed, no lookup open: says what to do
    assert "po-error" in panel.status.value
    panel.buttons(cases["erasure"])["lookup"].click()
    panel.opened.query.value = EMAIL
    panel.opened.search_button.click()
    (person,) = [r for r, in duckdb.connect(str(mini_ws.root / "main.duckdb"), read_only=True).execute(
        "SELECT pid FROM people.person WHERE lower(trim(mail)) = ? OR lower(trim(mail2)) = ?", [EMAIL, EMAIL]).fetchall()]
    panel.ref_case.value = cases["erasure"]
    panel.ref_button.click()
    assert panel.error is None
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [cases["erasure"]]) == \
        [(f"people.person:{person}",)]


def test_notebook_00_headless_writes_the_inbox(mini_ws, cases, tmp_path):
    import json

    from privacyops.jobs import inbox

    job = inbox(mini_ws.root, today=TODAY, interactive=False, output_dir=tmp_path / "out")
    data = json.loads((tmp_path / "out" / "inbox.json").read_text(encoding="utf-8"))
    want = expected(mini_ws)
    assert [(d["case_id"], d["deadline"], d["days_left"], d["overdue"]) for d in data] == \
        [(c, str(d), n, late) for c, d, n, late in want]
    assert job.text().splitlines()[0] == f"{len(want)} request(s), {sum(w[3] for w in want)} overdue"
    assert job.panel is None and len(job.headless_views()[0]) == len(want)
