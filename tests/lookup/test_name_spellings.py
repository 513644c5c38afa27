"""Name search through the lookup index reads the rows bearing the spellings it found (one equality filter per
spelling, over the name columns, a NULL part too), or by key when there are many spellings: either way the very
candidates of the scan, and every exact namesake (ground truth: names.name_key in Python, per row)."""

from __future__ import annotations

import random

import duckdb
import pytest

from privacyops.lookup import lookup, reader
from privacyops.sources import names, scored
from privacyops.workspace import create_indexes, open_workspace

MAP = """
version: 1
organisation:
  name: Names Org
  contact: privacy@names.example
  authority: {name: Test Authority, country: LV}
purposes:
  service: {description: Run the service, legal_basis: contract}
sources:
  main: {kind: duckdb, path: main.duckdb, location: LV}
datasets:
  people:
    source: main
    subject: person
    primary_key: pid
    identities: {name: [first_name, last_name], email: [email]}
    purposes: [service]
    fields: {first_name: user.name, last_name: user.name, email: user.contact.email, notes: user.content}
"""
# Ten spellings of one name (more than scored.MAX_SPELLINGS: read by key), a name with a NULL part, near names
MANY = [("Jānis", "Bērziņš"), ("JANIS", "BERZINS"), ("Berzins", "Janis"), ("jānis", "bērziņš"), ("BĒRZIŅŠ", "JĀNIS"),
        ("Janis", "Berzins"), ("Jānis", "Berzins"), ("Janis", "Bērziņš"), ("bērziņš", "jānis"), ("JĀNIS", "bērziņš")]
FEW = [("Anna", "Ozola"), ("ANNA", "OZOLA"), ("Anna", None), (None, "Ozola"), ("Anna", ""), ("Ana", "Ozola"),
       ("Anna", "Ozoliņa"), ("Oskars", "Kalns")]


@pytest.fixture()
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    root = tmp_path / "names"
    root.mkdir()
    (root / "privacyops.yaml").write_text(MAP)
    rnd = random.Random(5)
    rows = [(i, *rnd.choice(MANY if i % 3 == 0 else FEW), f"p{i}@example.com" if i % 4 else None, "x")
            for i in range(1, 400)]
    with duckdb.connect(str(root / "main.duckdb")) as con:
        con.execute("CREATE TABLE people (pid INTEGER, first_name VARCHAR, last_name VARCHAR, email VARCHAR, "
                    "notes VARCHAR)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", rows)
    w = open_workspace(root)
    assert create_indexes(w, progress=False).lookup_index is not None
    return w


def spied(monkeypatch, module, name) -> list:
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    return calls


@pytest.mark.parametrize("query", ["Anna Ozola", "Ozola Anna", "anna", "Ozola", "Ana Ozola", "Anna Ozoliņa",
                                   "Oskars Kalns", "Jānis Bērziņš", "Janis Berzins", "Jānis Bērzņš", "Zzyzx Qwv"])
def test_candidates_through_the_index_are_the_scans(ws, monkeypatch, query):
    by_spelling, by_key = spied(monkeypatch, reader, "select_spelled"), spied(monkeypatch, reader, "select_scored")
    fast = lookup(ws, query, kind="name", audit_log=False)
    slow = lookup(ws, query, kind="name", audit_log=False, use_index=False)
    assert [c.to_dict() for c in fast.candidates] == [c.to_dict() for c in slow.candidates]
    assert (fast.status, fast.candidates_total, fast.notes) == (slow.status, slow.candidates_total, [])
    assert by_spelling  # the index answered (not a silent scan)
    if query in ("Jānis Bērziņš", "Janis Berzins"):  # ten exact spellings: read by key
        assert by_spelling[-1] is None and by_key and by_key[-1] is not None
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT pid, first_name, last_name FROM people").fetchall()
    finally:
        con.close()
    key = names.name_key(query)
    exact = {f"people:{pid}" for pid, *parts in rows
             if key and names.name_key(" ".join(p for p in parts if p is not None)) == key}
    assert {c.ref for c in fast.candidates if c.score >= names.EXACT} == exact
    assert exact or query in ("Jānis Bērzņš", "Zzyzx Qwv")


def test_a_filter_per_spelling_reads_only_the_columns_a_candidate_needs(ws, monkeypatch):
    got = spied(monkeypatch, reader, "select_spelled")
    lookup(ws, "Anna Ozola", kind="name", audit_log=False)
    rows = got[-1]
    assert rows is not None and rows.columns == ["pid", "first_name", "last_name", "email", scored.SCORE]
    assert len(rows.rows) == len({r[0] for r in rows.rows})  # each row once
