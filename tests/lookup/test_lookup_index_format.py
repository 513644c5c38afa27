"""The lookup index's format 2 (hashed identity keys, one phone key): probes answer as the stores compare, an index
of another format or hash is reported stale (never misread), and a refresh keeps names and map changes exact."""

from __future__ import annotations

import random
import shutil

import duckdb
import pytest

from privacyops.lookup import lookup
from privacyops.workspace import create_indexes, open_workspace
from privacyops.workspace import lookup_entries as le
from privacyops.workspace import lookup_index as li
from tests.support.demo import demo_workspace

SEPARATORS = " -()+./\u00a0\t"  # written out here: the test's own statement of what a phone's digits are


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A 2,000-subject demo with its lookup indexes (a private copy: tests change its data and its index)."""
    root = tmp_path_factory.mktemp("format") / "demo"
    shutil.copytree(demo_workspace(tmp_path_factory, subjects=2000, seed=7), root,
                    ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.head", "keys", "index.duckdb"))
    ws = open_workspace(root)
    create_indexes(ws, progress=False)
    return ws


def phone_truth(ws, tail: str) -> set[tuple[str, str, tuple]]:
    """(dataset, column, key) of every phone value whose reversed digits start with `tail` and then hold a digit,
    a separator-free character below ":" or nothing: the stores' range, computed on the sources with plain SQL."""
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    out = set()
    try:
        for ds in ws.datamap.datasets.values():
            for col in ds.identity_columns("phone"):
                expr = f'"{col}"'
                for sep in SEPARATORS:
                    expr = f"replace({expr}, '{sep}', '')"
                pk = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in ds.primary_key)
                rows = con.execute(f"SELECT {pk} FROM {ds.table} WHERE reverse({expr}) >= ? AND reverse({expr}) < ?",
                                   [tail, tail + ":"]).fetchall()
                out |= {(ds.name, col, tuple(r)) for r in rows}
    finally:
        con.close()
    return out


def test_phone_probes_of_six_seven_and_eight_digits_find_what_the_stores_range_finds(indexed):
    con = duckdb.connect(str(indexed.root / "company.duckdb"), read_only=True)
    try:
        phones = [r[0] for r in con.execute("SELECT phone FROM crm.customers WHERE phone IS NOT NULL "
                                            "ORDER BY customer_id").fetchall()]
    finally:
        con.close()
    idx = li.open_lookup_index(indexed)
    checked = 0
    for phone in random.Random(3).sample(phones, 40):
        digits = "".join(ch for ch in phone if ch.isdigit())
        for n in (6, 7, 8, 11):
            query = digits[-n:]
            k = min(8, len(query))
            got = {(d, c, key) for _, d, c, key in idx.identity_hits("phone", [query], 8)}
            assert got == phone_truth(indexed, query[-k:][::-1]), (phone, n)
            checked += bool(got)
    assert checked == 160  # every probe found at least its own customer
    assert idx.identity_hits("phone", ["12345"], 8) == []  # fewer than 6 digits: the index does not answer
    indexed.close()


def test_a_probe_is_an_index_scan_of_the_hash_and_the_file_holds_one_phone_entry_per_value(indexed):
    ix = duckdb.connect(str(indexed.root / "index.duckdb"), read_only=True)
    try:
        plan = "\n".join(r[1] for r in ix.execute("EXPLAIN ANALYZE SELECT value, c, k FROM ident WHERE h IN "
                                                   "(hash(?::VARCHAR), hash(?::VARCHAR))", ["a", "b"]).fetchall())
        per_kind = dict(ix.execute("SELECT kind, count(*) FROM ident JOIN ident_cols USING (c) GROUP BY kind")
                        .fetchall())
    finally:
        ix.close()
    assert "Index Scan" in plan  # (the plan as run: EXPLAIN alone shows the scan before the index is chosen)
    con = duckdb.connect(str(indexed.root / "company.duckdb"), read_only=True)
    try:
        expected = 0
        for ds in indexed.datamap.datasets.values():
            for col in ds.identity_columns("phone"):
                expr = f'"{col}"'
                for sep in SEPARATORS:
                    expr = f"replace({expr}, '{sep}', '')"
                expected += con.execute(f"SELECT count(*) FROM {ds.table} WHERE length({expr}) >= 6").fetchone()[0]
    finally:
        con.close()
    assert per_kind["phone"] == expected


def _edit_index(ws, sql: str, params=None) -> None:
    ws.close()
    ix = duckdb.connect(str(ws.root / "index.duckdb"))
    try:
        ix.execute(sql, params or [])
    finally:
        ix.close()


def test_an_index_of_another_format_or_hash_is_stale_and_lookups_scan_until_rebuilt(indexed):
    _, email, _ = random.Random(8).choice(_customers(indexed))
    truth = lookup(indexed, email, audit_log=False, use_index=False)
    for sql, says in (("UPDATE meta SET value = '1' WHERE name = 'format'", "another version of privacyops"),
                      ("UPDATE meta SET value = '12345' WHERE name = 'hash_check'", "another DuckDB version"),
                      ("DROP TABLE meta", "another version of privacyops")):
        _edit_index(indexed, sql)
        status = li.index_status(indexed)
        assert status and all(says in why and "privacyops index" in why for why in status.values()), status
        got = lookup(indexed, email, audit_log=False)
        assert got.subject.ref == truth.subject.ref and sorted(got.records) == sorted(truth.records)
        assert li.refresh_lookup_index(indexed, {"crm.customers": [(got.subject.ref.split(":")[1],)]}) == []
        create_indexes(indexed, progress=False)
        assert not any(li.index_status(indexed).values())


def _customers(ws) -> list[tuple]:
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        return con.execute("SELECT customer_id, email, full_name FROM crm.customers ORDER BY customer_id").fetchall()
    finally:
        con.close()


def test_a_refreshed_name_is_found_under_its_new_spelling_and_counted_once(indexed):
    rows = _customers(indexed)
    (moved, _, old_name), (gone, _, _) = random.Random(21).sample(rows, 2)
    con = indexed.writer("company")
    try:  # a rectification of a name and an erasure, through privacyops's writer
        con.execute("UPDATE crm.customers SET full_name = 'Zephyrine Quillfeather' WHERE customer_id = ?", [moved])
        con.execute("DELETE FROM crm.customers WHERE customer_id = ?", [gone])
        truth = con.execute("SELECT count(*) FROM crm.customers WHERE full_name IS NOT NULL").rows[0][0]
    finally:
        indexed.close()
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(moved,), (gone,)]}) == ["crm.customers"]
    assert li.index_status(indexed)["crm.customers"] is None
    ix = duckdb.connect(str(indexed.root / "index.duckdb"), read_only=True)
    try:
        table = ix.execute("SELECT name_table FROM name_tables WHERE dataset = 'crm.customers'").fetchone()[0]
        total = ix.execute(f"SELECT sum(_privacyops_n) FROM {table}").fetchone()[0]
        keys = ix.execute(f"SELECT list(k) FROM (SELECT unnest(_privacyops_k) AS k FROM {table})").fetchone()[0]
        stale = ix.execute(f"SELECT count(*) FROM {table} WHERE list_contains(_privacyops_k, ?) AND full_name = ?",
                           [[str(moved)], old_name]).fetchone()[0]
        listed = set(ix.execute(f"SELECT k[1], _privacyops_g FROM (SELECT unnest(_privacyops_k) AS k, _privacyops_g "
                                f"FROM {table})").fetchall())
        where = ix.execute(f"SELECT k, g FROM {table}_keys").fetchall()  # the refresh's map: key -> spelling row
    finally:
        ix.close()
    assert total == truth == len(keys) == len(set(map(tuple, keys)))
    assert stale == 0 and [str(gone)] not in keys
    assert len(where) == len(set(where)) and set(where) == listed
    for query in ("Zephyrine Quillfeather", old_name):
        fast = lookup(indexed, query, kind="name", audit_log=False)
        slow = lookup(indexed, query, kind="name", audit_log=False, use_index=False)
        assert sorted(c.ref for c in fast.candidates) == sorted(c.ref for c in slow.candidates)
    found = lookup(indexed, "Zephyrine Quillfeather", kind="name", audit_log=False)
    assert f"crm.customers:{moved}" in {c.ref for c in found.candidates}


def test_a_refresh_leaves_a_dataset_whose_map_changed_stale(indexed, monkeypatch):
    cid, _, _ = _customers(indexed)[5]
    ds = indexed.datamap.datasets["crm.customers"]
    monkeypatch.setattr(li, "dataset_spec", lambda ws, d: "changed" if d.name == ds.name else
                        le.dataset_spec(ws, d))
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(cid,)]}) == []
    monkeypatch.undo()
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(cid,)]}) == ["crm.customers"]


def test_a_key_of_several_columns_is_one_text_that_reads_back_as_its_columns():
    con = duckdb.connect()
    try:
        keys = [["7"], ["a,b", 'say "hi"'], ["Zoë", "x\\y", ""], ["[1]", "2"]]
        texts = con.execute(f"SELECT list_transform(?::VARCHAR[][], x -> {le.key_text_sql('x')})", [keys]).fetchone()[0]
    finally:
        con.close()
    assert texts[0] == "7" and len(set(texts)) == len(keys)
    assert [le.key_of_text(t, len(k)) for t, k in zip(texts, keys)] == [tuple(k) for k in keys]
