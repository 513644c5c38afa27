"""Property: on random two-party data (visits with a host and a guest, messages with a sender and a recipient), no
lookup, export plan or erasure plan ever includes or changes a field owned only by another party, and every row
the person is a party of is found. Expectations are computed from the generated rows, not from privacyops."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacyops.access import plan_export
from privacyops.erasure import MASK, plan_erasure
from privacyops.ledger import open_case
from privacyops.lookup import WITHHELD, lookup
from privacyops.workspace import open_workspace

pytestmark = pytest.mark.slow  # hypothesis: generated parties exported and erased end to end

MAP = """
version: 1
organisation: {name: P, contact: privacy@p.example, authority: {name: DVI, country: LV}}
purposes: {club: {description: Club, legal_basis: contract}}
sources: {db: {kind: duckdb, path: p.duckdb, location: LV}}
datasets:
  m.members:
    source: db
    subject: member
    primary_key: mid
    identities: {email: email}
    purposes: [club]
    fields: {mid: user.unique_id, email: user.contact.email}
  m.visits:
    source: db
    primary_key: vid
    references: {host: m.members.mid}
    parties:
      host: {reference: host, fields: [note]}
      guest: {identities: {email: guest_email}}
    owner: host
    purposes: [club]
    fields: {vid: system.operations, host: user.unique_id, note: user.content, guest_email: user.contact.email}
  m.messages:
    source: db
    primary_key: msg
    references: {sender: m.members.mid, recipient: m.members.mid}
    parties:
      sender: {reference: sender, fields: [body]}
      recipient: {reference: recipient}
    owner: sender
    purposes: [club]
    fields: {msg: system.operations, sender: user.unique_id, recipient: user.unique_id, body: user.content}
"""
OTHERS = {"m.visits": {"host": {"guest_email"}, "guest": {"host", "note"}},
          "m.messages": {"sender": {"recipient"}, "recipient": {"sender", "body"}}}


@st.composite
def club(draw):
    n = draw(st.integers(2, 5))
    outsiders = [f"o{j}@p.example" for j in range(draw(st.integers(0, 2)))]
    emails = [f"m{i}@p.example" for i in range(1, n + 1)]
    visits = []
    for vid in range(draw(st.integers(0, 8))):
        host = draw(st.integers(1, n))
        guest = draw(st.sampled_from([e for i, e in enumerate(emails, 1) if i != host] + outsiders))
        visits.append((vid + 1, host, draw(st.sampled_from(["cake", None, "late"])), guest))
    messages = []
    for msg in range(draw(st.integers(0, 8))):
        sender = draw(st.integers(1, n))
        recipient = draw(st.sampled_from([i for i in range(1, n + 1) if i != sender]))
        messages.append((msg + 1, sender, recipient, f"text {msg}"))
    who = draw(st.sampled_from(emails + outsiders))
    return emails, visits, messages, who


def build(root: Path, emails, visits, messages) -> None:
    (root / "privacyops.yaml").write_text(MAP)
    con = duckdb.connect(str(root / "p.duckdb"))
    con.execute("CREATE SCHEMA m")
    con.execute("CREATE TABLE m.members (mid INTEGER, email VARCHAR)")
    con.execute("CREATE TABLE m.visits (vid INTEGER, host INTEGER, note VARCHAR, guest_email VARCHAR)")
    con.execute("CREATE TABLE m.messages (msg INTEGER, sender INTEGER, recipient INTEGER, body VARCHAR)")
    con.executemany("INSERT INTO m.members VALUES (?, ?)", list(enumerate(emails, 1)))
    if visits:
        con.executemany("INSERT INTO m.visits VALUES (?, ?, ?, ?)", visits)
    if messages:
        con.executemany("INSERT INTO m.messages VALUES (?, ?, ?, ?)", messages)
    con.close()


def expected_roles(emails, visits, messages, who) -> dict[tuple[str, int], str]:
    """Every row the person is a party of, and as whom (the owner's role wins)."""
    mid = emails.index(who) + 1 if who in emails else None
    out = {}
    for vid, host, _, guest in visits:
        if host == mid:
            out[("m.visits", vid)] = "host"
        elif guest == who:
            out[("m.visits", vid)] = "guest"
    for msg, sender, recipient, _ in messages:
        if sender == mid:
            out[("m.messages", msg)] = "sender"
        elif recipient == mid:
            out[("m.messages", msg)] = "recipient"
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(club())
def test_nobody_sees_or_loses_another_partys_fields(data):
    emails, visits, messages, who = data
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, emails, visits, messages)
        os.environ["PRIVACYOPS_ACTOR"] = "alice"
        ws = open_workspace(root)
        want = expected_roles(emails, visits, messages, who)
        result = lookup(ws, who, audit_log=False)
        got = {}
        for name in ("m.visits", "m.messages"):
            recs = result.records.get(name)
            for i, (k, row) in enumerate(zip(recs.keys(), recs.rows) if recs else []):
                got[(name, k[0])] = recs.roles[i]
                for col in OTHERS[name][recs.roles[i]]:
                    assert row[col] in (WITHHELD, None), (name, k, col)
        assert got == want

        export = plan_export(ws, None, who)
        for name, d in export.datasets.items():
            if name in OTHERS:
                hidden = set().union(*OTHERS[name].values())
                assert all(row.get(c) in (WITHHELD, None) or c not in hidden or
                           c not in OTHERS[name][got[(name, row[ws.datamap.datasets[name].primary_key[0]])]]
                           for row in d.rows for c in row)

        if not want and who not in emails:
            return
        plan = plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, who)
        for pr in plan.rows:
            if pr.dataset not in OTHERS:
                continue
            role = want[(pr.dataset, pr.key[0])]
            assert not set(pr.masks) & OTHERS[pr.dataset][role]
            if role in ("guest", "recipient"):  # they appear in the row: it stays, only their fields change
                assert pr.action == MASK and set(pr.masks) <= {"guest": {"guest_email"},
                                                               "recipient": {"recipient"}}[role]
        assert {(pr.dataset, pr.key[0]) for pr in plan.rows if pr.dataset in OTHERS} == set(want)
