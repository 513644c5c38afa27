"""A lookup under a case records whom the case is about (the inbox shows it), once: never replacing a reference
already recorded, never from an ambiguous or empty lookup. Checked by SQL on the ledger and the mini sources."""

from __future__ import annotations

import json

import duckdb

from privacyops.ledger import open_case
from privacyops.ledger.inbox import set_subject_ref
from privacyops.lookup import lookup

EMAIL = "janis@mini.example"


def ledger(ws, sql, params=()):
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def person_of(ws, email: str) -> int:
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute("SELECT pid FROM people.person WHERE lower(trim(mail)) = ? OR lower(trim(mail2)) = ?", [email, email]).fetchone()[0]
    finally:
        con.close()


def test_a_lookup_under_a_case_records_its_subject_once(mini_ws):
    case = open_case(mini_ws, "access", "2026-11-20", subject=EMAIL)
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [case.case_id]) == [(None,)]
    lookup(mini_ws, EMAIL, case_id=case.case_id)
    ref = f"people.person:{person_of(mini_ws, EMAIL)}"
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [case.case_id]) == [(ref,)]
    # Recorded in the lookup's own transaction, and its audit entry says so (no identifier in clear).
    entries = ledger(mini_ws, "SELECT details FROM audit_log WHERE action = 'lookup' AND case_id = ? ORDER BY seq",
                     [case.case_id])
    assert [json.loads(d[0])["case_subject_recorded"] for d in entries] == [True]
    assert EMAIL not in entries[0][0] and ref not in entries[0][0]
    # A recorded subject is kept: a second lookup (even of someone else) does not replace it.
    set_subject_ref(mini_ws, case.case_id, "people.person:2")
    lookup(mini_ws, EMAIL, case_id=case.case_id)
    last = ledger(mini_ws, "SELECT details FROM audit_log WHERE action = 'lookup' ORDER BY seq DESC LIMIT 1")
    assert json.loads(last[0][0])["case_subject_recorded"] is False
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [case.case_id]) == [
        ("people.person:2",)]


def test_a_lookup_that_finds_nobody_records_nothing(mini_ws):
    case = open_case(mini_ws, "access", "2026-11-20")
    lookup(mini_ws, "nobody@nowhere.example", case_id=case.case_id)
    assert ledger(mini_ws, "SELECT subject_ref FROM cases WHERE case_id = ?", [case.case_id]) == [(None,)]
    assert "case_subject_recorded" not in ledger(mini_ws, "SELECT details FROM audit_log WHERE action = 'lookup'")[0][0]
