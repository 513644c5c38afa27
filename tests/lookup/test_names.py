"""Name search as the lookup answers it: every exact folded match among the candidates (however many namesakes),
ranked above every near name; and, as a property, DuckDB's SQL ranks exactly as privacyops.sources.names does in
Python (the scorer PostgreSQL and SQLite use) for random names with accents."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacyops.lookup import lookup
from privacyops.map import Dataset
from privacyops.sources import names
from privacyops.workspace import open_workspace
from tests.support.stores import _DuckNames

NAMES_MAP = """
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
    identities: {name: [first_name, last_name]}
    purposes: [service]
    fields: {first_name: user.name, last_name: user.name}
"""
SPELLINGS = [("Jānis", "Bērziņš"), ("JANIS", "BERZINS"), ("Berzins", "Janis"), ("jānis", "bērziņš"),
             ("BĒRZIŅŠ", "JĀNIS")]
P = Dataset(name="p", source="s", table="p", primary_key=("id",), fields={}, identities={"name": ("first", "last")})


NEAR = [(100 + i, "Jāniss", "Bērziņš") for i in range(6)] + [(110 + i, "Jānis", "Bērziņa") for i in range(6)]
OTHERS = [(200, "Anna", "Ozola"), (201, "Oskars", "Kalns")]


@pytest.fixture()
def make_ws(tmp_path, monkeypatch):
    """make_ws(rows) -> a workspace whose one dataset, people (first and last name), holds rows (pid, first, last)."""
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")

    def make(rows: list[tuple]):
        root = tmp_path / "names"
        root.mkdir()
        (root / "privacyops.yaml").write_text(NAMES_MAP)
        with duckdb.connect(str(root / "main.duckdb")) as con:
            con.execute("CREATE TABLE people (pid INTEGER, first_name VARCHAR, last_name VARCHAR)")
            con.executemany("INSERT INTO people VALUES (?, ?, ?)", rows)
        return open_workspace(root)
    return make


def test_every_namesake_is_a_candidate_and_exact_matches_come_first(make_ws):
    # 30 namesakes of Jānis Bērziņš, spelled five ways; 12 people one letter off; two others
    ws = make_ws([(i, *SPELLINGS[i % len(SPELLINGS)]) for i in range(1, 31)] + NEAR + OTHERS)
    r = lookup(ws, "Jānis Bērziņš", audit_log=False)
    assert r.status == "ambiguous"
    refs = [c.ref for c in r.candidates]
    exact = {f"people:{i}" for i in range(1, 31)}
    assert set(refs[:30]) == exact  # all 30, not the first 20; before every one-letter-off name
    assert all(c.score >= names.EXACT for c in r.candidates[:30])
    assert all(c.score < names.EXACT for c in r.candidates[30:])
    assert {f"people:{i}" for i in range(100, 106)} <= set(refs[30:])  # "Jāniss" (spelled like the query) after
    assert r.candidates[0].ref in {f"people:{i}" for i in range(5, 31, 5)}  # exact spelling breaks ties: Jānis Bērziņš
    assert "people:200" not in refs


def test_a_typo_finds_every_namesake(make_ws):
    ws = make_ws([(i, "Jānis", "Bērziņš") for i in range(1, 31)] + NEAR + OTHERS)
    r = lookup(ws, "Jānis Bērzņš", audit_log=False)  # one letter dropped: no exact match
    refs = {c.ref for c in r.candidates}
    assert {f"people:{i}" for i in range(1, 31)} <= refs  # 30 rows tied with the best score: none cut at 20
    assert all(c.score < names.EXACT for c in r.candidates)


LETTERS = "aāAĀbcčČeēĒgģiīĪİıjkķlļnņŅoóöøØsšŠuūüzžŽßłŁ-'"
word = st.text(alphabet=LETTERS, min_size=1, max_size=9)
name = st.one_of(st.none(), st.lists(word, min_size=1, max_size=3).map(" ".join), st.sampled_from(["", "  "]))


def _variant(first: str | None, last: str | None, how: int) -> str:
    """A query for a person: their name as written, surname first, upper case, or without accents."""
    full = " ".join(v for v in (first, last) if v)
    return [full, " ".join(v for v in (last, first) if v), full.upper(), names.strip_accents(full)][how]


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(st.tuples(name, name), min_size=1, max_size=25), pick=st.integers(0, 24),
       how=st.integers(0, 4), other=st.lists(word, min_size=1, max_size=3).map(" ".join),
       threshold=st.sampled_from([0.5, 0.7, 0.82, 0.9, 0.97]), limit=st.integers(0, 6))
def test_duckdb_ranks_names_exactly_as_the_python_scorer(people, pick, how, other, threshold, limit):
    first, last = people[pick % len(people)]
    query = other if how == 4 or not (first or last) else _variant(first, last, how)
    rows = [(i, a, b) for i, (a, b) in enumerate(people)]
    duck = _DuckNames(people)
    got = duck.name_matches(P, ["first", "last"], query, threshold, limit)
    ranked, total = names.ranked_matches(rows, [1, 2], query, threshold, limit)
    # the same rows, the same scores to the last bit, the same order (ties by key), the same total
    assert [(r[0], r[-1]) for r in got.rows.rows] == [(row[0], s) for s, row in ranked]
    assert got.total == total
    # every exact folded match is returned and scores at least EXACT (so at least any threshold), no other row does
    key = names.name_key(query)
    exact = {row[0] for row in rows if key and names.name_key(" ".join(v for v in row[1:] if v is not None)) == key}
    assert {r[0] for r in got.rows.rows if r[-1] >= names.EXACT} == exact


def test_more_namesakes_than_shown_say_top_n_of_m(tmp_path):
    """The heading never hides a cap: fewer shown than matched says "the best N of M"."""
    from privacyops.lookup import AMBIGUOUS, SubjectRecords
    from privacyops.lookup.subject import Candidate

    people = [Candidate(f"p:{i}", "p", (i,), "person", f"Anna Ozola {i}") for i in range(30)]
    r = SubjectRecords(query="Anna Ozola", kind="name", status=AMBIGUOUS, candidates=people, candidates_total=62)
    assert r.candidates_heading(20) == ("the best 20 of 62 matches for 'Anna Ozola' — add an e-mail, a phone number "
                                        "or an id to narrow the search")
    r.candidates_total = 30
    assert r.candidates_heading(30) == "30 people match 'Anna Ozola'"
    assert r.summary()["candidates_total"] == 30
