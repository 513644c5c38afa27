"""Rectification under four-eyes (`settings.four_eyes_rectify: true`): a planned correction is submitted, pending,
and written only when another person approves it; the ledger holds no values in clear. Expectations come from SQL
on the source and on the ledger file."""

from __future__ import annotations

import duckdb
import pytest

from privacyops.ledger import open_case
from privacyops.rectify import (
    RectificationError,
    apply_rectification,
    approve_rectification,
    pending_plan,
    plan_rectification,
    rectification_inbox,
    reject_rectification,
    submit_rectification,
)
from privacyops.ui import RectificationPanel
from privacyops.workspace import open_workspace


def four_eyes(ws):
    path = ws.root / "privacyops.yaml"
    path.write_text(path.read_text().replace("purposes:\n", "settings: {four_eyes_rectify: true}\npurposes:\n", 1))
    return open_workspace(ws.root)


def db(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def ledger(ws, sql, params=()):
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture()
def ws4(mini_ws, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return four_eyes(mini_ws)


def test_map_setting(mini_ws, ws4):
    assert mini_ws.datamap.settings.four_eyes_rectify is False
    assert ws4.datamap.settings.four_eyes_rectify is True


def test_submit_then_another_person_approves(ws4, monkeypatch):
    ws = ws4
    case = open_case(ws, "rectification", "2025-01-10").case_id
    before = db(ws, "SELECT mail2 FROM people.person WHERE pid = 1")
    plan = plan_rectification(ws, case, "janis@mini.example", changes={"people.person.mail2": "jb@new.example"})
    with pytest.raises(RectificationError, match="four-eyes"):
        apply_rectification(ws, plan)  # not without a second person
    item = submit_rectification(ws, plan)
    assert item.status == "pending" and item.prepared_by == "alice" and item.changes == len(plan.changes)
    assert db(ws, "SELECT mail2 FROM people.person WHERE pid = 1") == before  # nothing written yet
    stored = ledger(ws, "SELECT * FROM rectification_pending")
    assert len(stored) == 1 and "jb@new.example" not in repr(stored) and before[0][0] not in repr(stored)
    assert "janis" not in repr(stored)  # no identifier in clear either

    assert [p.pending_id for p in rectification_inbox(ws, "bob").awaiting_approval] == [item.pending_id]
    assert rectification_inbox(ws, "alice").awaiting_approval == []
    assert [p.pending_id for p in rectification_inbox(ws, "alice").mine] == [item.pending_id]
    with pytest.raises(RectificationError, match="another person approves it"):
        approve_rectification(ws, item.pending_id)  # alice prepared it

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    _item, again = pending_plan(ws, item.pending_id)
    assert [(c.place, c.proposed) for c in again.changes] == [(c.place, c.proposed) for c in plan.changes]
    result = approve_rectification(ws, item.pending_id)
    assert result.verified
    assert db(ws, "SELECT mail2 FROM people.person WHERE pid = 1") == [("jb@new.example",)]
    assert db(ws, "SELECT address FROM mail.subscribers WHERE sid = 1") == [("jb@new.example",)]
    assert ledger(ws, "SELECT status, prepared_by, decided_by FROM rectification_pending") == [
        ("applied", "alice", "bob")]
    assert rectification_inbox(ws, "bob").awaiting_approval == []
    with pytest.raises(RectificationError, match="applied"):
        approve_rectification(ws, item.pending_id)


def test_stale_pending_is_refused_and_reject_needs_a_reason(ws4, monkeypatch):
    ws = ws4
    case = open_case(ws, "rectification", "2025-01-10").case_id
    plan = plan_rectification(ws, case, "janis@mini.example", changes={"people.person.mail2": "jb@new.example"})
    item = submit_rectification(ws, plan)
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    con.execute("UPDATE mail.subscribers SET address = 'other@x.example' WHERE sid = 1")  # the data moves on
    con.close()
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    with pytest.raises(RectificationError, match="data changed since"):
        approve_rectification(ws, item.pending_id)
    assert db(ws, "SELECT mail2 FROM people.person WHERE pid = 1") == [("jb@other.example",)]
    with pytest.raises(RectificationError, match="say why"):
        reject_rectification(ws, item.pending_id, " ")
    assert reject_rectification(ws, item.pending_id, "stale").status == "rejected"
    assert ledger(ws, "SELECT status, decided_by, note FROM rectification_pending") == [("rejected", "bob", "stale")]


def test_panel_submits_and_another_panel_approves(ws4, monkeypatch):
    case = open_case(ws4, "rectification", "2025-01-10").case_id
    panel = RectificationPanel(ws4.root, case_id=case, initial="janis@mini.example")
    assert panel.apply_button.description == "Submit for approval"
    panel.field.value = "people.person.mail2"
    panel.new_value.value = "jb@new.example"
    panel.plan_button.click()
    panel.apply_button.click()
    assert panel.error is None, panel.status.value
    assert "another person" in panel.status.value
    pid = ledger(ws4, "SELECT pending_id FROM rectification_pending WHERE status = 'pending'")[0][0]
    assert db(ws4, "SELECT mail2 FROM people.person WHERE pid = 1") == [("jb@other.example",)]
    assert pid in panel.inbox.mine_html.value

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    other = RectificationPanel(ws4.root)  # a fresh panel: everything comes from the ledger
    assert other.inbox.choice.options and other.inbox.choice.value == pid
    other.inbox.open_button.click()
    assert other.inbox.approve_button.disabled is False, other.status.value
    assert "jb@new.example" in other.inbox.view.value and "mail.subscribers" in other.inbox.view.value
    other.inbox.approve_button.click()
    assert other.error is None, other.status.value
    assert db(ws4, "SELECT mail2 FROM people.person WHERE pid = 1") == [("jb@new.example",)]
    assert ledger(ws4, "SELECT status, decided_by FROM rectification_pending") == [("applied", "bob")]

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    mine = RectificationPanel(ws4.root)
    assert "applied" in mine.inbox.mine_html.value and mine.inbox.choice.options == ()


def test_map_setting_must_be_true_or_false(mini_ws):
    from privacyops.errors import DataMapError

    path = mini_ws.root / "privacyops.yaml"
    path.write_text(path.read_text().replace("purposes:\n", "settings: {four_eyes_rectify: maybe}\npurposes:\n", 1))
    with pytest.raises(DataMapError, match="four_eyes_rectify"):
        open_workspace(mini_ws.root)
