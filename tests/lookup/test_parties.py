"""Who a row belongs to, on the club (tests/support/club.py): parties, the owner wins, owned references, minimal
context. Every expectation is computed from the club's tables with SQL in the test, never from privacyops."""

from __future__ import annotations

import json

import pytest

from privacyops.lookup import WITHHELD, lookup
from privacyops.workspace import open_workspace
from tests.support.club import build_club, club_sql, copy_club


@pytest.fixture(scope="module")
def club_template(tmp_path_factory):
    return build_club(tmp_path_factory.mktemp("club") / "club")


@pytest.fixture()
def club(club_template, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(copy_club(club_template, tmp_path / "club"))


def keys(result, dataset):
    recs = result.records.get(dataset)
    return sorted(k[0] for k in recs.keys()) if recs else []


def rows_by_key(result, dataset):
    recs = result.records[dataset]
    return {k[0]: (row, recs.roles[i], recs.owner[i], recs.withheld[i], recs.co_owned[i])
            for i, (k, row) in enumerate(zip(recs.keys(), recs.rows))}


def member(ws, member_id):
    return club_sql(ws.root, "SELECT email FROM club.members WHERE member_id = ?", [member_id])[0][0]


@pytest.mark.parametrize("member_id", [1, 2, 3, 4])
def test_each_member_gets_exactly_their_rows_as_sql_says(club, member_id):
    r = lookup(club, member(club, member_id), audit_log=False)
    assert r.status == "found" and r.subject.ref == f"club.members:{member_id}"
    q = lambda sql: sorted(x[0] for x in club_sql(club.root, sql, [member_id] * sql.count("?")))  # noqa: E731
    email = member(club, member_id)
    expected = {
        "club.members": [member_id],
        "club.addresses": q("SELECT address_id FROM club.members WHERE member_id = ?"),
        "club.visits": sorted(set(q("SELECT visit_id FROM club.visits WHERE host_id = ?"))
                              | {x[0] for x in club_sql(club.root, "SELECT visit_id FROM club.visits WHERE "
                                                                   "lower(guest_email) = ?", [email])}),
        "club.messages": q("SELECT message_id FROM club.messages WHERE sender_id = ? OR recipient_id = ?"),
        "club.referrals": q("SELECT referral_id FROM club.referrals WHERE referrer_id = ? OR referred_id = ?"),
        "club.rentals": q("SELECT rental_id FROM club.rentals WHERE member_id = ?"),
        "club.payments": q("SELECT payment_id FROM club.payments WHERE member_id = ?"),  # the payer, never others
    }
    assert {n: keys(r, n) for n in expected} == {n: v for n, v in expected.items()}


def test_a_payment_by_someone_else_on_my_rental_is_theirs_not_mine(club):
    ilze = lookup(club, "ilze@club.example", audit_log=False)
    peteris = lookup(club, "peteris@club.example", audit_log=False)
    (theirs,) = club_sql(club.root, "SELECT p.payment_id FROM club.payments p JOIN club.rentals r USING (rental_id) "
                                    "WHERE r.member_id = 1 AND p.member_id <> 1")
    assert theirs[0] not in keys(ilze, "club.payments") and theirs[0] in keys(peteris, "club.payments")


def test_other_parties_fields_are_withheld_and_roles_say_who_the_subject_is(club):
    r = lookup(club, "ilze@club.example", audit_log=False)
    visits = rows_by_key(r, "club.visits")
    row, role, owner, withheld, _ = visits[200]
    assert (role, owner) == ("host", True) and set(withheld) == {"guest_email", "guest_name"}
    assert row["guest_email"] == WITHHELD and row["guest_name"] == WITHHELD and row["host_note"] == "brought cake"
    msgs = rows_by_key(r, "club.messages")
    row, role, owner, withheld, _ = msgs[301]  # Anna wrote it to Ilze
    assert (role, owner) == ("recipient", False) and set(withheld) == {"sender_id", "body"}
    assert row["body"] == WITHHELD and row["recipient_id"] == 1
    row, role, owner, withheld, _ = msgs[300]  # Ilze wrote it
    assert (role, owner) == ("sender", True) and row["recipient_id"] == WITHHELD and "see you" in row["body"]
    refs = rows_by_key(r, "club.referrals")
    assert refs[400][1:3] == ("referrer", True) and refs[400][0]["referred_id"] == WITHHELD


def test_no_other_persons_personal_value_anywhere_in_the_result(club):
    r = lookup(club, "ilze@club.example", audit_log=False)
    text = json.dumps({"records": {n: d.to_dict() for n, d in r.records.items()},
                       "context": {n: d.to_dict() for n, d in r.context.items()}}, default=str)
    others = club_sql(club.root, "SELECT full_name, email, phone FROM club.members WHERE member_id <> 1 "
                                 "AND address_id <> (SELECT address_id FROM club.members WHERE member_id = 1)")
    others += club_sql(club.root, "SELECT guest_name, guest_email, NULL FROM club.visits")
    others += club_sql(club.root, "SELECT body, NULL, NULL FROM club.messages WHERE sender_id <> 1")
    others += club_sql(club.root, "SELECT first_name || '', email, password_hash FROM club.staff")
    leaked = [v for row in others for v in row if v and v in text and v not in ("Laura", "Janis")]
    assert leaked == []


def test_a_guest_known_only_by_e_mail_gets_the_visits_and_never_the_hosts_data(club):
    r = lookup(club, "outsider@mail.example", audit_log=False)
    assert r.status == "found" and r.subject is None
    expected = [x[0] for x in club_sql(club.root, "SELECT visit_id FROM club.visits WHERE guest_email = ? "
                                                  "ORDER BY 1", ["outsider@mail.example"])]
    assert list(r.records) == ["club.visits"] and keys(r, "club.visits") == expected
    for row, role, owner, withheld, _ in rows_by_key(r, "club.visits").values():
        assert (role, owner) == ("guest", False)
        assert row["host_id"] == WITHHELD and row["guest_email"] == "outsider@mail.example"
        assert row["host_note"] in (WITHHELD, None)


def test_a_member_who_was_a_guest_sees_that_visit_with_the_host_withheld(club):
    r = lookup(club, "anna@club.example", audit_log=False)
    row, role, owner, withheld, _ = rows_by_key(r, "club.visits")[201]
    assert (role, owner) == ("guest", False) and row["host_id"] == WITHHELD and row["guest_name"] == "Anna Ozola"


def test_an_owned_address_is_the_members_record_and_shared_addresses_say_so(club):
    ilze = lookup(club, "ilze@club.example", audit_log=False)
    anna = lookup(club, "anna@club.example", audit_log=False)
    shared = {a for (a,) in club_sql(club.root, "SELECT address_id FROM club.members GROUP BY 1 HAVING count(*) > 1")}
    for r in (ilze, anna):
        for key, (row, _, owner, _, co_owned) in rows_by_key(r, "club.addresses").items():
            assert owner and co_owned == (key in shared) and row["street"]
    assert "club.addresses" not in ilze.context


def test_a_phone_in_an_owned_row_leads_back_to_the_people_who_own_it(club):
    for phone, address_id in club_sql(club.root, "SELECT landline, address_id FROM club.addresses "
                                                 "WHERE landline IS NOT NULL"):
        owners = sorted(f"club.members:{m}" for (m,) in club_sql(
            club.root, "SELECT member_id FROM club.members WHERE address_id = ?", [address_id]))
        r = lookup(club, phone, audit_log=False)
        if len(owners) > 1:  # a shared home: the people who live there, never merged
            assert r.status == "ambiguous" and sorted(c.ref for c in r.candidates) == owners
        else:
            assert r.status == "found" and [r.subject.ref] == owners
            assert keys(r, "club.addresses") == [address_id]


def test_context_rows_show_key_and_non_personal_fields_only_never_credentials(club):
    r = lookup(club, "ilze@club.example", audit_log=False)
    staff = r.context["club.staff"]
    assert set(staff.columns) == {"staff_id", "first_name", "team"}  # first_name: the map's context_fields
    assert all("password_hash" not in row and "email" not in row for row in staff.rows)
    staff_ids = sorted({x[0] for x in club_sql(club.root, "SELECT staff_id FROM club.visits WHERE host_id = 1 "
                                                          "AND staff_id IS NOT NULL")})
    assert sorted(k[0] for k in staff.keys()) == staff_ids
