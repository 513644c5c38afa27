"""Legal holds: placed on a subject (matched by keyed hashes of any of their identifiers) or a dataset, with
reason, owner, since and review; released once; the ledger never holds the identifier. A subject hold is placed on
a person who exists: the identifier is looked up first (a name or a shared identifier lists the people to choose
from, a reference stands for its stored row, nobody found is refused) — on the mini workspace and the demo, with
expectations from SQL."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import BLOCKED, plan_erasure
from privacyops.erasure.holds_resolve import place_hold
from privacyops.ledger import HoldError, add_hold, audit, get_hold, list_holds, open_case, open_ledger, release_hold
from privacyops.ledger.holds import DATASET, SUBJECT, identifier_forms, key_hashes, matching_holds
from tests.support.demo import dq

AS_OF = dt.date(2026, 11, 15)


def test_identifier_forms_normalise_like_the_lookup():
    assert "email:janis@mini.example" in identifier_forms(" Janis@Mini.Example ")
    assert "phone:20001111" in identifier_forms("+371 2000 1111")
    assert "phone:20001111" in identifier_forms("(00371) 2000-1111")
    assert identifier_forms("people.person:1") == {"ref:people.person:1", "id:people.person:1"}
    assert identifier_forms("M-001") == {"id:M-001"}
    assert identifier_forms("  ") == set()


def test_a_subject_hold_matches_any_form_of_its_identifier_and_stores_only_hashes(mini_ws):
    hold = add_hold(mini_ws, subject="Janis@Mini.example", reason="litigation 2026-C-114", owner="legal",
                    review_on="2027-06-30")
    assert hold.scope == SUBJECT and hold.active and hold.since == dt.date.today()
    assert hold.review_on == dt.date(2027, 6, 30) and hold.created_by == "test-analyst"
    on_subject, on_ds = matching_holds(mini_ws, key_hashes(mini_ws, {"email:janis@mini.example"}), [])
    assert [h.hold_id for h in on_subject] == [hold.hold_id] and on_ds == {}
    assert matching_holds(mini_ws, key_hashes(mini_ws, {"email:other@mini.example"}), [])[0] == []
    with open_ledger(mini_ws) as con:
        stored = json.dumps(con.execute("SELECT * FROM legal_holds").fetchall() +
                            con.execute("SELECT * FROM legal_hold_keys").fetchall(), default=str)
    assert "janis" not in stored.lower()
    [entry] = audit.entries(mini_ws, action="hold.add")
    assert entry.details["hold_id"] == hold.hold_id and "janis" not in json.dumps(entry.details).lower()


def test_dataset_holds_and_release(mini_ws):
    hold = add_hold(mini_ws, dataset="shop.orders", reason="tax audit 2026", owner="cfo", since="2026-01-05")
    assert hold.scope == DATASET and hold.since == dt.date(2026, 1, 5)
    assert matching_holds(mini_ws, set(), ["shop.orders", "people.person"])[1] == {"shop.orders": hold}
    assert "shop.orders" in hold.describe() and "cfo" in hold.describe()
    released = release_hold(mini_ws, hold.hold_id, "audit closed")
    assert not released.active and released.released_by == "test-analyst" and released.release_note == "audit closed"
    assert matching_holds(mini_ws, set(), ["shop.orders"]) == ([], {})
    assert list_holds(mini_ws) == [] and [h.hold_id for h in list_holds(mini_ws, active_only=False)] == [hold.hold_id]
    with pytest.raises(HoldError, match="already released"):
        release_hold(mini_ws, hold.hold_id)
    with pytest.raises(HoldError, match="unknown hold"):
        get_hold(mini_ws, "HOLD-NOPE")


@pytest.mark.parametrize("kw, message", [
    ({"reason": "x", "owner": "y"}, "exactly one"),
    ({"subject": "a@b.example", "dataset": "shop.orders", "reason": "x", "owner": "y"}, "exactly one"),
    ({"subject": "a@b.example", "reason": " ", "owner": "y"}, "needs its reason"),
    ({"subject": "a@b.example", "reason": "x", "owner": ""}, "needs an owner"),
    ({"dataset": "nope", "reason": "x", "owner": "y"}, "unknown dataset"),
    ({"dataset": "shop.orders", "reason": "x", "owner": "y", "since": "2026-13-01"}, "not a date"),
    ({"dataset": "shop.orders", "reason": "x", "owner": "y", "since": "2026-02-01", "review_on": "2026-01-01"},
     "before the hold starts"),
])
def test_bad_holds_are_refused(mini_ws, kw, message):
    with pytest.raises(HoldError, match=message):
        add_hold(mini_ws, **kw)
    assert list_holds(mini_ws, active_only=False) == []


# ---------------------------------------------------------------------------------------------------------------
# A hold is placed on a person who exists, looked up first (regressions: a hold given by a name or as a reference
# with a leading zero was accepted and protected nothing).


def mq(ws, sql: str, params=()) -> list:
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return [r[0] if len(r) == 1 else r for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def nothing_stored(ws) -> bool:
    if list_holds(ws, active_only=False):
        return False
    with open_ledger(ws) as con:
        return con.execute("SELECT count(*) FROM legal_hold_keys").fetchone()[0] == 0


def mini_rows_of(ws, pid: int) -> set[tuple[str, tuple]]:
    """Every record of a mini person, from SQL: their row, orders, the orders' events, their newsletter rows."""
    orders = mq(ws, "SELECT oid FROM shop.orders WHERE pid = ?", [pid])
    events = duckdb.connect().execute(
        f"SELECT eid FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}') WHERE oid IN "
        f"(SELECT unnest(?::INTEGER[]))", [orders]).fetchall()
    mails = mq(ws, "SELECT sid FROM mail.subscribers WHERE lower(trim(address)) IN (SELECT lower(trim(m)) FROM "
                   "(SELECT mail AS m FROM people.person WHERE pid = ? UNION SELECT mail2 FROM people.person "
                   "WHERE pid = ?) WHERE m IS NOT NULL)", [pid, pid])
    return ({("people.person", (pid,))} | {("shop.orders", (o,)) for o in orders}
            | {("shop.order_events", (e,)) for (e,) in events} | {("mail.subscribers", (s,)) for s in mails})


def planned(ws, **kw):
    return plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, as_of=AS_OF, save=False, **kw)


def test_a_hold_by_name_is_refused_with_the_people_to_choose_from(mini_ws):
    namesakes = mq(mini_ws, "SELECT pid FROM people.person WHERE strip_accents(lower(full_name)) = 'janis berzins' "
                            "ORDER BY 1")
    assert len(namesakes) == 2
    with pytest.raises(HoldError) as err:
        place_hold(mini_ws, subject="Janis Berzins", reason="litigation", owner="legal")
    message = str(err.value)
    assert message.startswith(f"{len(namesakes)} people match 'Janis Berzins': give one of ")
    assert message.endswith(" with --subject REF")
    assert all(f"people.person:{pid} (" in message for pid in namesakes)
    assert nothing_stored(mini_ws)


def test_a_reference_with_a_leading_zero_holds_the_stored_row_and_every_record_of_the_person(mini_ws):
    [pid] = mq(mini_ws, "SELECT pid FROM people.person WHERE pid = 1")  # the key is an integer: 01 is row 1
    hold, person = place_hold(mini_ws, subject="people.person:01", reason="litigation 2026-C-7", owner="legal")
    assert person.ref == f"people.person:{pid}" and f"ref:people.person:{pid}" in person.forms
    assert matching_holds(mini_ws, key_hashes(mini_ws, {f"ref:people.person:{pid}"}), [])[0] == [hold]
    expected = mini_rows_of(mini_ws, pid)
    [member_no, tel] = mq(mini_ws, "SELECT member_no, tel FROM people.person WHERE pid = ?", [pid])[0]
    for kw in ({"identifier": member_no}, {"identifier": tel}, {"pick": f"people.person:{pid}"}):
        plan = planned(mini_ws, **kw)  # a later plan of the person by any identifier
        assert {(r.dataset, r.key) for r in plan.rows} == expected, kw
        assert all(r.action == BLOCKED and r.hold_id == hold.hold_id for r in plan.rows), kw


def test_an_unknown_subject_is_refused(mini_ws):
    assert mq(mini_ws, "SELECT count(*) FROM people.person WHERE pid = 9") == [0]
    with pytest.raises(HoldError, match=r"^nobody found for 'people.person:9' .*a hold must protect someone who "
                                        r"exists: check the key with `privacyops lookup --pick people.person:9`"):
        place_hold(mini_ws, subject="people.person:9", reason="x", owner="y")
    assert mq(mini_ws, "SELECT count(*) FROM people.person WHERE mail = 'nobody@mini.example'") == [0]
    with pytest.raises(HoldError, match=r"^nobody found for 'nobody@mini.example'; a hold must protect someone "
                                        r"who exists"):
        place_hold(mini_ws, subject="nobody@mini.example", reason="x", owner="y")
    assert nothing_stored(mini_ws)


def test_a_shared_identifier_is_refused_and_left_out_of_the_persons_hold(mini_ws):
    sharing = mq(mini_ws, "SELECT pid FROM people.person WHERE lower(trim(mail)) = 'home@mini.example' ORDER BY 1")
    assert len(sharing) == 2
    with pytest.raises(HoldError, match=r"^2 people match 'home@mini.example': give one of "):
        place_hold(mini_ws, subject="home@mini.example", reason="x", owner="y")
    _, person = place_hold(mini_ws, subject=f"people.person:{sharing[0]}", reason="litigation", owner="legal")
    assert person.left_out == 1 and "email:home@mini.example" not in person.forms  # the family e-mail
    [mine_no, other_no] = [mq(mini_ws, "SELECT member_no FROM people.person WHERE pid = ?", [p])[0]
                           for p in sharing]
    assert {r.action for r in planned(mini_ws, identifier=mine_no).rows} == {BLOCKED}
    assert BLOCKED not in {r.action for r in planned(mini_ws, identifier=other_no).rows}  # not their hold


def test_a_record_that_is_not_a_person_is_refused(mini_ws):
    for ref, dataset in (("shop.orders:100", "shop.orders"), ("shop.items:10", "shop.items")):
        with pytest.raises(HoldError, match=rf"^{ref} is not a person and holds no identifier .* hold the whole "
                                            rf"dataset with --dataset {dataset}$"):
            place_hold(mini_ws, subject=ref, reason="x", owner="y")
    assert nothing_stored(mini_ws)


def test_the_ledger_refuses_a_name_or_a_reference_it_cannot_look_up(mini_ws):
    with pytest.raises(HoldError, match="looks like a name.*privacyops hold add"):
        add_hold(mini_ws, subject="Janis Berzins", reason="x", owner="y")
    with pytest.raises(HoldError, match="is a DATASET:KEY reference.*read from people.person first"):
        add_hold(mini_ws, subject="people.person:01", reason="x", owner="y")
    with pytest.raises(HoldError, match="without the subject"):
        add_hold(mini_ws, dataset="shop.orders", forms={"ref:people.person:1"}, reason="x", owner="y")
    assert nothing_stored(mini_ws)


def test_a_looked_up_hold_stores_only_keyed_hashes_of_every_identifier(mini_ws):
    hold, person = place_hold(mini_ws, subject="M-001", reason="litigation", owner="legal")
    with open_ledger(mini_ws) as con:
        keys = con.execute("SELECT key_hash FROM legal_hold_keys WHERE hold_id = ?", [hold.hold_id]).fetchall()
        stored = json.dumps(con.execute("SELECT * FROM legal_holds").fetchall() + keys, default=str).lower()
    assert {k for (k,) in keys} == key_hashes(mini_ws, person.forms)
    emails = mq(mini_ws, "SELECT lower(trim(mail)) FROM people.person WHERE pid = 1 UNION "
                         "SELECT lower(trim(mail2)) FROM people.person WHERE pid = 1")
    assert {f"email:{e}" for e in emails} <= person.forms
    assert not any(word in stored for word in ("janis", "m-001", "2000 1111", "people.person:1"))
    entry = audit.entries(mini_ws, action="hold.add")[-1]
    assert entry.details["looked_up"] is True and entry.details["keys"] == len(person.forms)
    assert entry.subject_hash == audit.subject_hash(mini_ws, "people.person:1")


def test_cli_hold_add_looks_the_person_up(mini_ws):
    runner = CliRunner()
    base = ["hold", "add", "-w", str(mini_ws.root), "--reason", "litigation", "--owner", "legal"]
    got = runner.invoke(main, base + ["--subject", "Janis Berzins"])
    assert got.exit_code == 2 and "2 people match 'Janis Berzins'" in got.output and "--subject REF" in got.output
    got = runner.invoke(main, base + ["--subject", "nobody@mini.example"])
    assert got.exit_code == 2 and "nobody found for 'nobody@mini.example'" in got.output
    assert nothing_stored(mini_ws)
    got = runner.invoke(main, base + ["--subject", "people.person:01"])
    assert got.exit_code == 0, got.output
    assert "on this subject: litigation" in got.output and "protects people.person:1 (" in got.output
    got = runner.invoke(main, base + ["--subject", "people.person:3", "--json"])
    assert got.exit_code == 0, got.output
    member_no, tel = mq(mini_ws, "SELECT member_no, tel FROM people.person WHERE pid = 3")[0]  # its e-mail is shared
    forms = {"ref:people.person:3"} | identifier_forms(member_no) | identifier_forms(tel)
    assert json.loads(got.output)["subject"] == {"ref": "people.person:3", "identifiers": len(forms),
                                                 "shared_left_out": 1}


def test_demo_holds_by_name_are_refused_and_a_leading_zero_reference_blocks_every_record(demo_ws):
    ws = demo_ws
    [name] = dq(ws, "SELECT strip_accents(lower(full_name)) n FROM crm.customers GROUP BY 1 HAVING count(*) "
                    "BETWEEN 2 AND 5 ORDER BY count(*) DESC, n LIMIT 1")
    namesakes = dq(ws, "SELECT customer_id FROM crm.customers WHERE strip_accents(lower(full_name)) = ? ORDER BY 1",
                   [name])
    [written] = dq(ws, "SELECT full_name FROM crm.customers WHERE customer_id = ?", [namesakes[0]])
    with pytest.raises(HoldError) as err:
        place_hold(ws, subject=written, reason="litigation", owner="legal")
    assert "match" in str(err.value) and str(err.value).endswith(" with --subject REF")
    assert all(f"crm.customers:{c} (" in str(err.value) for c in namesakes)
    assert list_holds(ws, active_only=False) == []
    # The customer with the most tickets and invoices, given with a leading zero.
    cid, email = dq(ws, "SELECT c.customer_id, c.email FROM crm.customers c ORDER BY (SELECT count(*) FROM "
                        "support.tickets t WHERE t.customer_id = c.customer_id) + (SELECT count(*) FROM "
                        "billing.invoices i WHERE i.customer_id = c.customer_id) DESC, 1 LIMIT 1")[0]
    hold, person = place_hold(ws, subject=f"crm.customers:0{cid}", reason="litigation", owner="legal")
    assert person.ref == f"crm.customers:{cid}"
    plan = planned(ws, identifier=email)
    keys = {(r.dataset, r.key) for r in plan.rows}
    tickets = dq(ws, "SELECT ticket_id FROM support.tickets WHERE customer_id = ?", [cid])
    invoices = dq(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ?", [cid])
    assert ("crm.customers", (cid,)) in keys and tickets and invoices
    assert {("support.tickets", (t,)) for t in tickets} | {("billing.invoices", (i,)) for i in invoices} <= keys
    assert {r.action for r in plan.rows} == {BLOCKED} and {r.hold_id for r in plan.rows} == {hold.hold_id}


def test_place_hold_refuses_what_the_ledger_refuses_before_looking_anyone_up(mini_ws):
    for kw, message in (({"subject": "M-001", "dataset": "shop.orders"}, "exactly one"), ({}, "exactly one"),
                        ({"subject": "M-001", "reason": " "}, "needs its reason"),
                        ({"subject": "M-001", "owner": ""}, "needs an owner")):
        with pytest.raises(HoldError, match=message):
            place_hold(mini_ws, **({"reason": "x", "owner": "y"} | kw))
    assert nothing_stored(mini_ws) and audit.entries(mini_ws, action="lookup") == []
