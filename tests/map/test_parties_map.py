"""Parties, owners, owned references and context fields in the map: what they resolve to, and every mistake
reported with its line and how to fix it."""

from __future__ import annotations

import pytest

from privacyops.errors import DataMapError
from privacyops.map import IMPLICIT_PARTY, parse_datamap
from tests.support.club import CLUB_MAP


def problems(text: str) -> list[str]:
    with pytest.raises(DataMapError) as info:
        parse_datamap(text, file="club.yaml")
    return [str(p) for p in info.value.problems]


def test_the_club_resolves_parties_fields_and_owners():
    dm = parse_datamap(CLUB_MAP)
    visits = dm.datasets["club.visits"]
    assert [p.name for p in visits.parties] == ["host", "guest"] and visits.owner_party.name == "host"
    assert set(visits.party("host").fields) == {"host_id", "host_note"}
    assert set(visits.party("guest").fields) == {"guest_email", "guest_name"}
    assert visits.identity_columns("email") == ("guest_email",)  # a party's identities are the dataset's too
    assert set(visits.withheld_from(visits.party("guest"))) == {"host_id", "host_note"}
    members = dm.datasets["club.members"]
    assert [p.name for p in members.parties] == [IMPLICIT_PARTY] and not members.named_parties
    assert members.owned_references[0].to_dataset == "club.addresses"
    assert [r.column for r in dm.owners_of("club.addresses")] == ["address_id"]
    assert dm.children("club.addresses") == []  # owned is not belongs-to: an address never owns the member
    assert dm.datasets["club.staff"].context_fields == ("first_name",)
    assert [r.column for r in dm.person_references(dm.datasets["club.payments"])] == ["member_id"]


@pytest.mark.parametrize("old, new, expected", [
    ("    owner: host\n", "    owner: hostess\n", "owner must be one of the parties (host, guest), got 'hostess'"),
    ("      guest: {identities: {email: guest_email, name: guest_name}}\n",
     "      guest: {identities: {email: guest_email, name: guest_name}, fields: [host_note]}\n",
     "'host_note' is already a field of party host; a field belongs to one person"),
    ("      host: {reference: host_id, fields: [host_note]}\n", "      host: {reference: staff_id}\n",
     "'staff_id' is a shared reference; a party is found through a belongs-to reference"),
    ("      host: {reference: host_id, fields: [host_note]}\n", "      host: {reference: hostid}\n",
     "'hostid' is not a reference of this dataset"),
    ("      guest: {identities: {email: guest_email, name: guest_name}}\n", "      guest: {fields: [guest_email]}\n",
     "a party is found by a reference (reference: COLUMN) or by its own identities"),
    ("    context_fields: [first_name]\n", "    context_fields: [password_hash]\n",
     "'password_hash' holds credentials; they are never shown"),
    ("      address_id: {to: club.addresses.address_id, owned: true}\n",
     "      address_id: {to: club.addresses.address_id, owned: true, shared: true}\n",
     "a reference is either shared (reference data, context only) or owned"),
    ("      address_id: {to: club.addresses.address_id, owned: true}\n",
     "      address_id: {to: club.addresses.address_id, owned: yes please}\n", "expected true or false"),
])
def test_mistakes_are_reported_with_line_and_fix(old, new, expected):
    assert old in CLUB_MAP
    found = problems(CLUB_MAP.replace(old, new))
    assert any(expected in p and "club.yaml:" in p for p in found), found


def test_personal_fields_of_nobody_need_an_owner():
    text = CLUB_MAP.replace("    owner: host\n", "", 1).replace("{reference: host_id, fields: [host_note]}",
                                                                 "{reference: host_id}")
    found = problems(text)
    assert any("personal field(s) host_note belong to no party" in p and "owner: PARTY" in p for p in found), found
    # with an owner, the owner takes them
    dm = parse_datamap(CLUB_MAP.replace("{reference: host_id, fields: [host_note]}", "{reference: host_id}"))
    assert "host_note" in dm.datasets["club.visits"].party("host").fields


def test_an_owner_without_parties_is_refused():
    text = CLUB_MAP.replace("    primary_key: rental_id\n", "    primary_key: rental_id\n    owner: member\n")
    assert any("this dataset has no parties" in p for p in problems(text))
