"""Readable panel tables, rendered for a demo subject and checked on the HTML: dates and ids never wrap, digests
show their first 12 characters (the rest on expanding), long texts expand, masked fields are said in words, the
plan's "not erased" rows are grouped per dataset and reason with counts, an erased person's kept records are shown,
and no panel message names a CLI command or an environment variable.

Expectations come from SQL on the demo stores and the ledger, or from the plan's own rows counted here.
"""

from __future__ import annotations

import ast
import datetime as dt
import html
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from privacyops.demo import STORIES
from privacyops.erasure import approve_plan, execute_plan, plan_erasure
from privacyops.ledger import open_case, open_ledger
from privacyops.lookup import NOT_FOUND, lookup
from privacyops.ui import ErasurePanel, ExportPanel, LookupPanel
from privacyops.ui.common import cell_view, masked_words, plain_words, table
from privacyops.ui.erasure_view import plan_html
from tests.support.demo import dq

JANIS = STORIES["two_emails"]
UI = Path(__file__).resolve().parents[2] / "privacyops" / "ui"
COMMAND = re.compile(r"privacyops [a-z]|PRIVACYOPS_")
ISO_CELL = re.compile(r"<td( class=\"[^\"]*\")?>\s*(\d{4}-\d{2}-\d{2}[^<]*)</td>")
AS_OF = dt.date(2026, 11, 15)


def outputs_html(panel_output) -> str:
    """The HTML an Output widget (or LookupResults) shows, accordion sections included."""
    parts = [o["data"].get("text/html", "") for o in panel_output.outputs]
    return "".join(parts)


def assert_dates_nowrap(text: str) -> int:
    """Every table cell holding a date is a no-wrap cell; returns how many there are."""
    cells = ISO_CELL.findall(text)
    for css, value in cells:
        assert "po-nowrap" in css, f"date cell {value!r} may wrap: {css!r}"
    return len(cells)


def test_cells_digests_dates_ids_and_long_text():
    digest = "0123456789abcdef" * 4
    long_text = "word " * 60
    frame = pd.DataFrame([{"case": "DSR-2026-0001", "sha256": digest, "note": long_text,
                           "issued": dt.date(2026, 1, 2), "at": pd.Timestamp("2026-01-02 10:30"), "n": 3,
                           "empty": None}])
    out = table(frame)
    assert '<td class="po-nowrap">DSR-2026-0001</td>' in out
    assert '<td class="po-nowrap">2026-01-02</td>' in out and '<td class="po-nowrap">2026-01-02 10:30</td>' in out
    assert f"<code>{digest[:12]}…</code>" in out and f'title="{digest}"' in out
    assert out.count(digest) == 2  # the title and the expanded value: never as a cell's plain text
    assert "<details class=\"po-long\">" in out and long_text.strip() in out
    assert "None" not in out and "<td></td>" in out
    assert '<td>3</td>' in out  # numbers never break: plain cells
    assert cell_view("<b>x</b>")["text"] == "<b>x</b>" and "&lt;b&gt;" in table(pd.DataFrame([{"a": "<b>x</b>"}]))
    assert masked_words("billing_name:hmac, billing_address:redact, note:null") == (
        "billing name: replaced by a keyed code; billing address: replaced by “[erased]”; note: emptied")


def test_lookup_view_shortens_digests_and_keeps_dates_on_one_line(demo_ws):
    accounts = dq(demo_ws, "SELECT password_hash FROM app.user_accounts WHERE customer_id = ?", [JANIS["customer_id"]])
    assert accounts and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in accounts)
    panel = LookupPanel(demo_ws, initial=JANIS["email"])
    assert panel.result is not None and panel.result.status == "found"
    text = outputs_html(panel.output) + "".join(c.value for c in panel._accordion.children)
    for h in accounts:
        assert f"<code>{h[:12]}…</code>" in text
        assert f">{h}</td>" not in text  # never the whole digest as a cell's text
    assert assert_dates_nowrap(text) > 0
    # The retention's start in words, as the map states it for the invoices (a function of a date column).
    rule = demo_ws.datamap.retention[demo_ws.datamap.datasets["billing.invoices"].retention]
    assert rule.anchor.function == "end_of_fiscal_year" and str(rule.anchor) not in text
    assert f"from the end of the fiscal year of {rule.anchor.column.replace('_', ' ')}" in text


def test_plan_view_groups_not_erased_rows_says_masks_in_words_and_dates_nowrap(demo, monkeypatch):
    ws = demo
    case_id = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, case_id, JANIS["email"], as_of=AS_OF)
    out = plan_html(plan)
    assert ":hmac" not in out and ":redact" not in out
    assert "billing name: replaced by a keyed code" in out
    # Grouped: one line per dataset and reason, its count as the plan counts it.
    groups = Counter((n.dataset, n.why.removeprefix("not erased: ")) for n in plan.not_erased)
    rows = re.findall(r'<tr class="po-group"><td class="po-nowrap">([^<]+)</td><td class="po-nowrap po-count">'
                      r"(\d+)</td><td class=\"po-text\"><details><summary>([^<]+)</summary>", out)
    assert {(d, html.unescape(w)): int(c) for d, c, w in rows} == dict(groups)
    assert len(rows) == len(groups) and sum(groups.values()) == len(plan.not_erased)
    assert f"({len(plan.not_erased)} records)" in out
    # The mention of Jānis in another customer's ticket message: its record and field inside the group.
    mentions = [n for n in plan.not_erased if n.field]
    assert mentions and all(f"{','.join(map(str, n.key))} ({n.field})" in out for n in mentions)
    assert assert_dates_nowrap(out) > 0
    for token in (plan.plan_id, plan.as_of.isoformat()):  # in the heading's running text too
        assert f'<span class="po-nowrap">{token}</span>' in out
    until = [r.until for r in plan.rows if r.until]
    assert until and any(f'<td class="po-nowrap">{d.isoformat()}' in out for d in until)


def test_erased_person_in_the_lookup_panel_shows_what_is_kept(demo, monkeypatch):
    ws = demo
    cid = JANIS["customer_id"]
    case_id = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, case_id, JANIS["email"], as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    assert execute_plan(ws, plan.plan_id).ok
    kept_invoices = dq(ws, "SELECT count(*) FROM billing.invoices WHERE customer_id = ?", [cid])[0]
    with open_ledger(ws) as con:
        (cert, executed_at), = con.execute("SELECT certificate, executed_at FROM erasure_plans WHERE plan_id = ?",
                                           [plan.plan_id]).fetchall()
    panel = LookupPanel(ws, initial=JANIS["email"])
    r = panel.result
    assert r is not None and r.status == NOT_FOUND and r.erasures
    assert "were erased" in panel.status.value and "No records found" not in panel.status.value
    out = outputs_html(panel.output)
    assert cert in out and case_id in out and f"{executed_at:%Y-%m-%d}" in out
    rows = re.findall(r'<tr><td class="po-nowrap">billing\.invoices</td><td class="po-nowrap po-count">(\d+)</td>',
                      out)  # one line per rule and until-date
    assert rows and sum(int(n) for n in rows) == kept_invoices
    for k in r.erasures[0].kept:
        assert f'<td class="po-nowrap po-date">{k.until.isoformat()}</td>' in out
    assert not COMMAND.search(panel.status.value)


def test_panel_messages_name_buttons_not_commands(demo_ws):
    export = ExportPanel(demo_ws, subject=JANIS["email"])
    export.export_button.click()  # no case: the engine's message names `privacyops case open`; the panel a button
    assert "po-error" in export.status.value and "open a case first (button above)" in export.status.value
    lookup_panel = LookupPanel(demo_ws)
    lookup_panel.search()  # an empty box: the engine asks for an identifier "or a pick"
    assert "choose the person" in lookup_panel.status.value and "or a pick" not in lookup_panel.status.value
    erasure = ErasurePanel(demo_ws, subject="Janis Berzins")
    for panel in (export, lookup_panel, erasure):
        assert not COMMAND.search(panel.status.value), panel.status.value
    assert lookup(demo_ws, JANIS["email"], audit_log=False).status == "found"


def _message_strings(path: Path):
    """The string literals of a module that can reach a panel (docstrings and regular expressions aside); an
    f-string's fixed parts joined."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "compile":
            skip |= {id(a) for a in node.args}
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and id(node) not in skip:
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def test_no_command_or_variable_names_in_the_ui_package_or_after_plain_words():
    ui_hits = [(p.name, line, s) for p in sorted(UI.glob("*.py")) for line, s in _message_strings(p)
               if COMMAND.search(s)]
    assert ui_hits == []
    # Every engine message that names a command or variable reads in plain words once a panel shows it.
    engine = [(p, line, s) for p in sorted(UI.parent.rglob("*.py")) if UI not in p.parents
              for line, s in _message_strings(p) if COMMAND.search(s)]
    assert len(engine) > 20  # the scan sees the messages (the CLI's hints, the engines' fixes)
    left = [(p.name, line, plain_words(s)) for p, line, s in engine if COMMAND.search(plain_words(s))]
    assert left == []
    # Several people match: the panels list them, so no command-line flag is suggested.
    picks = [(p, line, s) for p, line, s in ((p, line, s) for p in sorted(UI.parent.rglob("*.py")) if UI not in p.parents
                                              for line, s in _message_strings(p)) if "people match" in s and "--pick" in s]
    assert picks and all("--pick" not in plain_words(s) for _p, _line, s in picks)
