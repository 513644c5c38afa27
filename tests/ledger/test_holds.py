"""Legal holds: placed on a subject (matched by keyed hashes of any of their identifiers) or a dataset, with
reason, owner, since and review; released once; the ledger never holds the identifier."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from privacyops.ledger import HoldError, add_hold, audit, get_hold, list_holds, open_ledger, release_hold
from privacyops.ledger.holds import DATASET, SUBJECT, identifier_forms, key_hashes, matching_holds


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
