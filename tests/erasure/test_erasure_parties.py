"""Erasure on rows with several people (tests/support/club.py): an erasure for one party changes only that party's
fields unless they own the row; a row whose own reference names another person is never in the plan; a row other
people own too is never erased for one of them. Checked with SQL on the club's tables after execution."""

from __future__ import annotations

import datetime as dt

import pytest

from privacyops.erasure import DELETE, MASK, RETAIN, approve_plan, execute_plan, plan_erasure
from privacyops.ledger import open_case
from privacyops.workspace import open_workspace
from tests.support.club import build_club, club_sql, copy_club

AS_OF = dt.date(2026, 11, 15)


@pytest.fixture(scope="module")
def club_template(tmp_path_factory):
    return build_club(tmp_path_factory.mktemp("club") / "club")


@pytest.fixture()
def club(club_template, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return open_workspace(copy_club(club_template, tmp_path / "club"))


def plan_for(ws, subject):
    return plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, subject, as_of=AS_OF)


def run(ws, monkeypatch, plan):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return execute_plan(ws, plan.plan_id)


def table(ws, name):
    return {r[0]: r for r in club_sql(ws.root, f"SELECT * FROM club.{name} ORDER BY 1")}


def test_the_plan_masks_only_the_subjects_fields_where_they_only_appear(club):
    plan = plan_for(club, "ilze@club.example")
    acts = {(r.dataset, r.key[0]): r for r in plan.rows}
    received = acts[("club.messages", 301)]  # Anna wrote it to Ilze: Ilze's part is the recipient's id only
    assert received.action == MASK and set(received.masks) == {"recipient_id"} and not received.owner
    assert set(received.withheld) == {"sender_id", "body"}
    referred = [r for r in plan.rows if r.dataset == "club.referrals"]
    assert [(r.key[0], r.action) for r in referred] == [(400, DELETE)]  # she referred Anna: her row
    assert acts[("club.visits", 200)].action == DELETE and acts[("club.visits", 201)].action == DELETE
    # Payments she made are kept under the accounting law; the one Peteris made on her kayak is not hers at all.
    theirs = {p for (p,) in club_sql(club.root, "SELECT payment_id FROM club.payments WHERE member_id <> 1")}
    mine = {p for (p,) in club_sql(club.root, "SELECT payment_id FROM club.payments WHERE member_id = 1")}
    planned = {r.key[0] for r in plan.rows if r.dataset == "club.payments"}
    assert planned == mine and not planned & theirs
    assert all(acts[("club.payments", p)].action == RETAIN for p in mine)
    # The address she shares with Maris is his too: not erased, listed for review.
    assert ("club.addresses", 10) not in acts
    assert any(n.dataset == "club.addresses" and tuple(n.key) == (10,) for n in plan.not_erased)


def test_executed_erasure_changes_only_the_subjects_fields(club, monkeypatch):
    before = {t: table(club, t) for t in ("members", "addresses", "visits", "messages", "referrals", "payments")}
    result = run(club, monkeypatch, plan_for(club, "ilze@club.example"))
    assert result.ok, result.verification.problems
    after = {t: table(club, t) for t in before}
    # The message Anna sent Ilze stays, with Anna's part untouched and Ilze's id gone.
    assert after["messages"][301] == before["messages"][301][:2] + (None,) + before["messages"][301][3:]
    # Messages between other people are untouched; Ilze's own are gone.
    assert {k: v for k, v in after["messages"].items() if k != 301} == {
        k: v for k, v in before["messages"].items() if 1 not in (v[1], v[2])}
    assert after["addresses"] == before["addresses"]  # shared with Maris
    assert 1 not in after["members"] and after["members"][2] == before["members"][2]
    assert after["payments"][601] == before["payments"][601]  # Peteris's payment on her kayak: his
    assert {k for k in after["visits"]} == {k for k, v in before["visits"].items() if v[1] != 1}
    assert after["referrals"] == {k: v for k, v in before["referrals"].items() if v[1] != 1}


def test_a_guest_known_only_by_e_mail_has_only_their_fields_erased(club, monkeypatch):
    before = table(club, "visits")
    plan = plan_for(club, "outsider@mail.example")
    assert {(r.dataset, r.action) for r in plan.rows} == {("club.visits", MASK)}
    assert all(set(r.masks) == {"guest_email", "guest_name"} for r in plan.rows)
    result = run(club, monkeypatch, plan)
    assert result.ok, result.verification.problems
    after = table(club, "visits")
    for vid, row in before.items():
        if row[3] == "outsider@mail.example":  # guest columns gone, the host's untouched
            assert after[vid][:3] == row[:3] and after[vid][3:5] == (None, None) and after[vid][5:] == row[5:]
        else:
            assert after[vid] == row


def test_the_recipient_of_a_message_keeps_it_when_the_sender_is_not_erased(club, monkeypatch):
    before = table(club, "messages")
    result = run(club, monkeypatch, plan_for(club, "peteris@club.example"))
    assert result.ok, result.verification.problems
    after = table(club, "messages")
    sent_to_him = [k for k, v in before.items() if v[2] == 4]
    assert sent_to_him and all(after[k][:2] == before[k][:2] and after[k][2] is None and
                               after[k][3:] == before[k][3:] for k in sent_to_him)
    assert all(k not in after for k, v in before.items() if v[1] == 4)  # what he wrote goes
