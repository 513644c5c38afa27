"""lookup_many: many identifiers answered together give, item by item, the answers of lookup() one at a time, with
far fewer statements than subjects."""

from __future__ import annotations

import random
import shutil

import duckdb
import pytest

from privacyops.errors import LookupInputError
from privacyops.lookup import lookup, lookup_many
from privacyops.sources import DuckDBConnector
from privacyops.workspace import create_indexes, open_workspace
from privacyops.workspace import lookup_index as li


@pytest.fixture(scope="module")
def indexed(small_demo, tmp_path_factory):
    """The small demo with its lookup index, in a private copy."""
    root = tmp_path_factory.mktemp("many") / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.head", "keys",
                                                                     "index.duckdb"))
    ws = open_workspace(root)
    assert create_indexes(ws, progress=False).lookup_index is not None
    return ws


def full(r) -> object:
    """Everything a lookup answers, rows sorted within each dataset (the only thing a batch may order otherwise)."""
    if isinstance(r, Exception):
        return ("error", type(r).__name__, str(r))
    d = r.to_dict()
    d.pop("summary")
    for section in ("records", "context", "shared"):
        for recs in d[section].values():
            order = sorted(range(len(recs["rows"])), key=lambda i: repr(recs["rows"][i]))
            for k in ("rows", "roles", "withheld", "co_owned", "owner"):
                if k in recs:
                    recs[k] = [recs[k][i] for i in order]
    d["mentions"] = sorted(d["mentions"], key=repr)
    return d


def one_by_one(ws, items, **kw) -> list:
    out = []
    for it in items:
        try:
            out.append(lookup(ws, it[0], pick=it[1], kind=it[2] if len(it) > 2 else "auto", audit_log=False, **kw))
        except LookupInputError as exc:
            out.append(exc)
    return out


def sample(ws, n: int, seed: int) -> list[tuple]:
    """Random customers asked for by e-mail, phone, customer id and pick (independent SQL), and a few that are not
    single people: a name (always candidates), an unknown address, an invalid pick, a shared address."""
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT customer_id, email, phone, full_name FROM crm.customers ORDER BY 1").fetchall()
        shared = con.execute("SELECT email FROM crm.customers WHERE email IS NOT NULL GROUP BY email "
                             "HAVING count(*) > 1 LIMIT 1").fetchall()
    finally:
        con.close()
    items: list[tuple] = []
    for i, (cid, email, phone, name) in enumerate(random.Random(seed).sample(rows, n)):
        pick = [(email, None), (phone, None, "phone"), (str(cid), None, "customer_id"),
                (None, f"crm.customers:{cid}")][i % 4]
        items.append(pick if pick[0] or pick[1] else (None, f"crm.customers:{cid}"))
    items += [(rows[0][3], None), ("nobody-at-all@nowhere.example", None), (None, "crm.customers:0"),
              (None, "no.such.dataset:1"), ("", None)] + [(e, None) for (e,) in shared]
    return items


def test_lookup_many_answers_200_random_subjects_as_lookup_does_one_by_one(indexed, monkeypatch):
    items = sample(indexed, 200, seed=2026)
    statements = []
    real = DuckDBConnector.execute
    monkeypatch.setattr(DuckDBConnector, "execute", lambda self, sql, params=(): statements.append(sql) or
                        real(self, sql, params))
    probes = []
    real_hits = li.LookupIndex.identity_hits
    monkeypatch.setattr(li.LookupIndex, "identity_hits", lambda self, *a: probes.append(a[0]) or
                        real_hits(self, *a))
    stats: dict[str, int] = {}
    many = lookup_many(indexed, items, stats=stats)
    batch_statements = len(statements)
    singles = one_by_one(indexed, items)
    assert len(many) == len(items)
    for it, a, b in zip(items, many, singles):
        assert full(a) == full(b), it
    statuses = {getattr(r, "status", "error") for r in many}
    assert {"found", "ambiguous", "not_found", "error"} <= statuses  # every kind of answer was compared
    assert sum(len(r.mentions) for r in singles if not isinstance(r, Exception)) > 0  # mentions too
    assert {"email", "phone", "customer_id"} <= set(probes)  # the index answered (not a silent scan)
    # Set-based: fewer statements for the whole batch than subjects (one at a time: dozens per subject).
    assert batch_statements < len(items) < len(statements) - batch_statements
    assert 0 < stats["queries"] < len(items)


def test_lookup_many_without_the_index_and_in_small_chunks_answers_alike(indexed):
    items = sample(indexed, 40, seed=7)
    singles = [full(r) for r in one_by_one(indexed, items, use_index=False)]
    assert [full(r) for r in lookup_many(indexed, items, use_index=False)] == singles
    assert [full(r) for r in lookup_many(indexed, items, chunk=7)] == singles  # chunk edges change nothing


def test_lookup_many_on_parties_shared_addresses_and_picks_of_the_mini_workspace(mini_ws):
    items = [("Janis@Mini.example", None), ("jb@other.example", None), ("home@mini.example", None),
             ("+371 2000 1111", None), ("M-003", None), ("janis2@mini.example", None), (None, "people.person:4"),
             (None, "shop.orders:104"), (None, "mail.subscribers:2"), ("someone@else.example", None),
             ("Janis", None), ("20001111", None, "phone"), ("bad\x00value", None)]
    assert [full(r) for r in lookup_many(mini_ws, items)] == [full(r) for r in one_by_one(mini_ws, items)]
    assert [full(r) for r in lookup_many(mini_ws, items[::-1], chunk=3)] == \
        [full(r) for r in one_by_one(mini_ws, items[::-1])]


def test_lookup_many_with_threads_where_greenlet_is_missing_answers_alike(indexed, monkeypatch):
    from privacyops.lookup import batch

    items = sample(indexed, 40, seed=11)
    singles = [full(r) for r in one_by_one(indexed, items)]
    assert [full(r) for r in lookup_many(indexed, items)] == singles  # greenlets
    monkeypatch.setattr(batch, "_greenlet", None)
    assert [full(r) for r in lookup_many(indexed, items, chunk=9)] == singles  # the thread workers
