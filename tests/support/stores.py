"""The mini workspace in other stores: comparable answers (structure), its tables, name-scoring samples."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import duckdb
import pytest

from privacyops.errors import SourceError
from privacyops.lookup import lookup
from privacyops.sources import Connector, Rows, names

DUCKDB_SOURCE = "  main: {kind: duckdb, path: main.duckdb, location: LV}"

NAME_QUERIES = ["Jānis Bērziņš", "Janis Berzins", "berzins janis", "BĒRZIŅŠ", "Kalns", "Kalna", "Ieva", "Oskars",
                "Oskars Kalns", "Jans", "Ozola"]

def _plain(v):
    if isinstance(v, (datetime.date, Decimal)):
        return str(v)
    return v

def structure(ws, query: str | None = None, **kwargs) -> dict:
    """Everything a lookup answers, in a form that compares across stores: status, subject, record rows (values
    included), shared, context, candidates with their scores (in order), mentions."""
    r = lookup(ws, query, audit_log=False, **kwargs)

    def rows(part):
        return {name: sorted(tuple(sorted((k, repr(_plain(v))) for k, v in row.items())) for row in recs.rows)
                for name, recs in part.items()}

    return {
        "status": r.status, "kind": r.kind, "subject": r.subject.ref if r.subject else None,
        "records": rows(r.records), "shared": rows(r.shared), "context": rows(r.context),
        "candidates": [(c.ref, round(c.score, 12), c.matched_on) for c in r.candidates],
        "mentions": [(m.dataset, m.key, m.field, m.matched, m.snippet) for m in r.mentions],
    }

def mini_tables(duck_path) -> list[tuple[str, str, list[tuple[str, str]], list[tuple]]]:
    """(schema, table, [(column, DuckDB type)], rows) of every table of a DuckDB file."""
    con = duckdb.connect(str(duck_path), read_only=True)
    try:
        out = []
        for schema, table in con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                                         "ORDER BY 1, 2").fetchall():
            cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema "
                               "= ? AND table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()
            out.append((schema, table, cols, con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()))
        return out
    finally:
        con.close()

class _DuckNames(Connector):
    """base.Connector's SQL name scoring, run by DuckDB on an in-memory table of names."""

    def __init__(self, people):
        self.con = duckdb.connect()
        self.con.execute("CREATE TABLE p (id INTEGER, first VARCHAR, last VARCHAR)")
        self.con.executemany("INSERT INTO p VALUES (?, ?, ?)", [(i, a, b) for i, (a, b) in enumerate(people)])

    def execute(self, sql, params=()):
        cur = self.con.execute(sql, list(params))
        return Rows([d[0] for d in cur.description], cur.fetchall())

    def relation(self, dataset):
        return "p"

    def describe(self, dataset):
        return {}

def _people_and_queries():
    from faker import Faker

    rnd = random.Random(11)
    people = [("Jānis", "Bērziņš"), ("Janis", "Berzins"), (None, "Kalns"), ("Ieva", None), ("Anna-Marija", "Ozola"),
              ("Luís", "Gonçalves"), ("João", "Fernandes")]
    for loc in ("lv_LV", "lt_LT", "et_EE", "de_DE", "pl_PL", "fr_FR", "pt_BR", "cs_CZ", "tr_TR", "en_GB"):
        fake = Faker(loc)
        fake.seed_instance(5)
        people += [(fake.first_name(), fake.last_name()) for _ in range(35)]

    def typo(s: str) -> str:
        i = rnd.randrange(len(s))
        return s[:i] + s[i + 1:] if rnd.random() < 0.5 else s[:i] + rnd.choice("aeiounrst") + s[i + 1:]

    queries = ["Jānis Bērziņš", "janis berzins", "Berzins Janis", "KALNS", "Goncalves Luis", "Ozola Anna"]
    for _ in range(50):
        first, last = rnd.choice(people[7:])
        queries.append(rnd.choice([f"{first} {last}", f"{last} {first}", last, names.strip_accents(f"{first} {last}"),
                                   f"{typo(first)} {typo(last)}", typo(last), f"{first} {last}".upper()]))
    return people, queries

def check_writes(ws) -> None:
    """Shared with test_sqlite.py: delete/update counts as on DuckDB; a failure inside a transaction undoes it."""
    orders, person = ws.datamap.datasets["shop.orders"], ws.datamap.datasets["people.person"]
    with ws.session():
        con = ws.writer("main")
        with pytest.raises(RuntimeError):
            with con.transaction():
                assert con.delete_in(orders, "pid", [1, 2]) == 3
                raise RuntimeError("power cut")
        assert con.count(orders) == 5
        with con.transaction():
            assert con.delete_in(orders, "pid", [1]) == 2
            assert con.update_in(person, "pid", [1], {"mail": None, "full_name": "[erased]"}) == 1
            assert con.update_rows(person, "pid", [(2, {"tel": "x-2"}), (3, {"tel": "x-3"})]) == 2
    with ws.session():
        con = ws.connector("main")
        assert con.count(orders) == 3
        assert [r["full_name"] for r in con.select_in(person, "pid", [1]).dicts()] == ["[erased]"]
        with pytest.raises(SourceError, match="read-only"):
            con.delete_in(orders, "pid", [3])
