"""Lookup indexes: created idempotently in DuckDB sources, used by lookups, and never change an answer."""

from __future__ import annotations

import duckdb

from privacyops.lookup import lookup
from privacyops.workspace import check as check_mod
from privacyops.workspace import create_indexes
from tests.support.mini import QUERIES


def answer(ws, q):
    r = lookup(ws, q, audit_log=False)
    return (r.status, r.subject.ref if r.subject else None,
            {n: sorted(map(str, recs.keys())) for n, recs in r.records.items()},
            sorted(c.ref for c in r.candidates), [(m.dataset, m.key) for m in r.mentions],
            {n: sorted(map(str, recs.keys())) for n, recs in r.shared.items()})


def index_count(ws):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM duckdb_indexes() WHERE index_name LIKE 'privacyops_ix_%'").fetchone()[0]
    finally:
        con.close()


def test_indexes_do_not_change_any_answer(mini_ws):
    before = {q: answer(mini_ws, q) for q in QUERIES}
    report = create_indexes(mini_ws, progress=False)
    assert report.created and index_count(mini_ws) == len(report.created)
    assert report.skipped == ["shop.order_events"]  # Parquet: no indexes
    after = {q: answer(mini_ws, q) for q in QUERIES}
    assert after == before
    assert before["+371 2000 1111"][1] == "people.person:1"


def test_index_creation_is_idempotent_and_reversible(mini_ws):
    first = create_indexes(mini_ws, progress=False)
    again = create_indexes(mini_ws, progress=False)
    assert not again.created and len(again.existing) == len(first.created)
    dropped = create_indexes(mini_ws, progress=False, drop=True)
    assert len(dropped.dropped) == len(first.created)
    assert index_count(mini_ws) == 0


def test_lookups_use_the_index_for_emails_and_phones(mini_ws):
    create_indexes(mini_ws, progress=False, lookup_index=False)  # without index.duckdb: the stores' own
    ds = mini_ws.datamap.datasets["people.person"]
    con = mini_ws.connector("main")
    try:
        seen = []
        original = con.execute
        con.execute = lambda sql, params=(): (seen.append(sql), original(sql, params))[1]
        con.select_identity(ds, "email", ["mail"], ["janis@mini.example"], mini_ws.datamap.settings)
        con.select_identity(ds, "phone", ["tel"], ["20001111"], mini_ws.datamap.settings)
    finally:
        mini_ws.close()
    # the indexed forms: an equality on the normalised e-mail, a range on the reversed digits, no pre-filter
    email_sql, phone_sql = [s for s in seen if s.startswith("SELECT * FROM")]
    assert 'lower(trim("mail")) = ?' in email_sql
    assert ">= ? AND" in phone_sql and "contains" not in phone_sql


def test_check_suggests_indexes_for_large_tables(mini_ws, monkeypatch):
    monkeypatch.setattr(check_mod, "INDEX_WARN_ROWS", 2)
    warnings = check_mod.check_workspace(mini_ws).warnings
    assert any("people.person" in w and "privacyops index" in w for w in warnings)
    create_indexes(mini_ws, progress=False)
    assert not any("privacyops index" in w for w in check_mod.check_workspace(mini_ws).warnings)


def test_index_refresh_and_check_name_the_datasets_changed_outside_privacyops(mini_ws):
    from click.testing import CliRunner

    from privacyops.cli import main

    runner = CliRunner(env={"PRIVACYOPS_WORKSPACE": None})
    built = runner.invoke(main, ["index", "-w", str(mini_ws.root)])
    assert built.exit_code == 0 and "Lookup index" in built.output, built.output
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    try:  # a change no privacyops command made
        con.execute("UPDATE people.person SET mail = 'someone.else@mini.example' WHERE pid = 1")
    finally:
        con.close()
    checked = runner.invoke(main, ["check", "-w", str(mini_ws.root)])
    assert "lookup index stale for people.person" in checked.output, checked.output
    refreshed = runner.invoke(main, ["index", "--refresh", "-w", str(mini_ws.root)])
    assert refreshed.exit_code == 0 and "stale: people.person" in refreshed.output, refreshed.output
    assert "stale" not in runner.invoke(main, ["check", "-w", str(mini_ws.root)]).output
    r = lookup(mini_ws, "someone.else@mini.example", audit_log=False)
    assert r.subject.ref == "people.person:1" and r.notes == []


def _source_indexes(ws):
    """(table, index sql) of privacyops' indexes in the mini workspace's DuckDB source, read from DuckDB itself."""
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute("SELECT schema_name || '.' || table_name, sql FROM duckdb_indexes() "
                           "WHERE index_name LIKE 'privacyops_ix_%' ORDER BY 1, 2").fetchall()
    finally:
        con.close()


def _on(sql):
    return sql.split(" ON ", 1)[1].split("(", 1)[1].rstrip(");").lower()  # the indexed expression


def test_with_the_lookup_index_identity_columns_get_no_store_index(mini_ws):
    """index.duckdb answers identity probes: the stores keep the key and reference indexes only (every index of a
    table is updated when an erasure deletes or masks rows), and of the references only those into datasets a walk
    reaches (not the catalogue's); those made before are dropped; no answer changes, and the scan a stale lookup
    index falls back to answers the same."""
    from privacyops.workspace.indexes import walked

    before = {q: answer(mini_ws, q) for q in QUERIES}
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"), read_only=True)
    try:
        item = con.execute("SELECT min(item_id) FROM shop.items").fetchone()[0]
    finally:
        con.close()
    picked = lookup(mini_ws, pick=f"shop.items:{item}", audit_log=False)  # a catalogue row (no index into it)
    assert picked.status == "found" and picked.records
    create_indexes(mini_ws, progress=False, lookup_index=False)
    with_identity = _source_indexes(mini_ws)
    assert any("lower(" in sql for _, sql in with_identity)  # the e-mail expression, without the lookup index
    report = create_indexes(mini_ws, progress=False)
    now = _source_indexes(mini_ws)
    assert report.lookup_index is not None and report.dropped
    assert not any("lower(" in sql or "reverse(" in sql for _, sql in now)
    indexed = {(t, _on(sql)) for t, sql in now}
    reach = walked(mini_ws.datamap)
    assert "shop.items" not in reach and {"people.person", "shop.orders"} <= reach
    for ds in mini_ws.datamap.datasets.values():
        if mini_ws.datamap.sources[ds.source].kind != "duckdb":
            continue
        for r in ds.references:  # none into the catalogue: no walk goes down from it
            assert ((ds.table, r.column.lower()) in indexed) == (r.to_dataset in reach), (ds.name, r.column)
        if len(ds.primary_key) == 1:
            assert (ds.table, ds.primary_key[0].lower()) in indexed, ds.name
    assert {q: answer(mini_ws, q) for q in QUERIES} == before
    again_picked = lookup(mini_ws, pick=f"shop.items:{item}", audit_log=False)
    assert {n: r.keys() for n, r in again_picked.records.items()} == {n: r.keys() for n, r in picked.records.items()}
    assert {n: r.keys() for n, r in again_picked.context.items()} == {n: r.keys() for n, r in picked.context.items()}
    scanned = {q: lookup(mini_ws, q, audit_log=False, use_index=False) for q in QUERIES}
    assert {q: (r.status, r.subject.ref if r.subject else None) for q, r in scanned.items()} == \
        {q: before[q][:2] for q in QUERIES}
    again = create_indexes(mini_ws, progress=False)
    assert not again.created and not again.dropped and _source_indexes(mini_ws) == now


def test_one_index_per_column_expression(mini_ws):
    """An id column that is also the key gets one index, not two (a delete updates each); the lookup by it still
    finds the person."""
    from privacyops.workspace import open_workspace

    path = mini_ws.root / "privacyops.yaml"
    text = path.read_text()
    assert "member_no: member_no}" in text and "      member_no: user.unique_id\n" in text
    text = text.replace("member_no: member_no}", "member_no: member_no, person_no: pid}", 1)
    path.write_text(text.replace("      member_no: user.unique_id\n",
                                 "      member_no: user.unique_id\n      pid: user.unique_id\n", 1))
    ws = open_workspace(mini_ws.root)
    create_indexes(ws, progress=False, lookup_index=False)
    got = [(t, _on(sql)) for t, sql in _source_indexes(ws)]
    assert ("people.person", "pid") in got and len(got) == len(set(got))
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        pid = con.execute("SELECT min(pid) FROM people.person").fetchone()[0]
    finally:
        con.close()
    r = lookup(ws, str(pid), kind="person_no", audit_log=False, use_index=False)
    assert r.subject is not None and r.subject.ref == f"people.person:{pid}"
