"""After an erasure the lookup index certifies the DuckDB file again without a checksum of every dataset in it only
when every change since it last held is one this process made and refreshed (sources/write_chain.py); a change made
elsewhere, before the erasure or between its writes and the refresh, still leaves its dataset stale."""

from __future__ import annotations

import duckdb
import pytest

from privacyops.erasure import approve_plan, execute_plan, plan_erasure
from privacyops.ledger import open_case
from privacyops.lookup import lookup
from privacyops.sources import open_source
from privacyops.workspace import create_indexes, open_workspace
from privacyops.workspace import lookup_index as li
from privacyops.workspace.lookup_index import index_status

AS_OF = "2026-11-20"


@pytest.fixture()
def indexed(demo):
    create_indexes(demo, progress=False)
    assert not any(index_status(demo).values())
    return demo


def customer(ws, offset: int) -> tuple[int, str]:
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        return con.execute("SELECT customer_id, email FROM crm.customers WHERE email IS NOT NULL ORDER BY customer_id "
                           "LIMIT 1 OFFSET ?", [offset]).fetchone()
    finally:
        con.close()


def erase(ws, monkeypatch, email: str):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_erasure(ws, open_case(ws, "erasure", AS_OF).case_id, email, as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    assert execute_plan(ws, plan.plan_id).ok
    return plan


def edit_elsewhere(ws, cid: int) -> None:
    """A change privacyops does not make: another customer's e-mail, by plain SQL."""
    con = duckdb.connect(str(ws.root / "company.duckdb"))
    try:
        con.execute("UPDATE crm.customers SET email = 'changed.elsewhere@example.org' WHERE customer_id = ?", [cid])
    finally:
        con.close()


def counting(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = li.fingerprint
    monkeypatch.setattr(li, "fingerprint", lambda con, ds: seen.append(ds.name) or real(con, ds))
    return seen


def recorded(ws) -> dict[str, str]:
    con = duckdb.connect(str(ws.root / "index.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT dataset, fingerprint FROM datasets").fetchall())
    finally:
        con.close()


def scanned(ws, name: str) -> str:
    """A DuckDB dataset's checksum computed here in SQL: rows, and the sum of the hashes of its key, identity and
    free-text columns (in that order, as the index defines it)."""
    ds = ws.datamap.datasets[name]
    cols = list(dict.fromkeys([*ds.primary_key, *(c for _, cs in sorted(ds.identities.items()) for c in cs),
                               *ds.free_text_fields]))
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        n, total = con.execute(f"SELECT count(*), coalesce(sum(hash({', '.join(cols)})), 0) FROM {ds.table}").fetchone()
    finally:
        con.close()
    return f"{n}:{total}"


def test_an_erasure_alone_is_certified_without_checksumming_a_dataset(indexed, monkeypatch):
    """The datasets it wrote get their fingerprints moved by the written rows' checksums (before and after), the
    others keep theirs: no dataset of the DuckDB file is scanned, and every fingerprint is what a scan gives."""
    seen = counting(monkeypatch)
    before = recorded(indexed)
    plan = erase(indexed, monkeypatch, customer(indexed, 10)[1])
    company = {d.name for d in indexed.datamap.datasets.values() if d.source == "company"}
    assert not set(seen) & company
    after = recorded(indexed)
    moved = {n for n in company & set(after) if after[n] != before[n]}
    deleted = {r.dataset for r in plan.rows if r.action == "delete"}
    masked = {r.dataset for r in plan.rows if r.action in ("mask", "retain") and r.masks} - deleted
    assert "crm.customers" in deleted and masked and moved <= deleted | masked
    assert deleted & company & set(after) <= moved  # (a mask of columns the index does not read moves nothing)
    for name in company & set(after):
        assert after[name] == scanned(indexed, name), name
    assert not any(index_status(open_workspace(indexed.root)).values())  # and the index holds for all of them
    other = customer(indexed, 11)[1]
    fast, slow = lookup(indexed, other, audit_log=False), lookup(indexed, other, audit_log=False, use_index=False)
    assert fast.notes == [] and fast.summary()["datasets"] == slow.summary()["datasets"]


def test_a_change_made_before_the_erasure_stays_stale(indexed, monkeypatch):
    victim, bystander = customer(indexed, 20), customer(indexed, 21)
    edit_elsewhere(indexed, bystander[0])
    erase(indexed, monkeypatch, victim[1])
    stale = index_status(open_workspace(indexed.root))
    assert stale.get("crm.customers"), stale
    found = lookup(open_workspace(indexed.root), "changed.elsewhere@example.org", audit_log=False)
    assert found.subject is not None and found.subject.key == (bystander[0],)  # scanned: the new e-mail is found


def test_a_change_made_between_the_writes_and_the_refresh_stays_stale(indexed, monkeypatch):
    victim, bystander = customer(indexed, 30), customer(indexed, 31)
    real = li._refresh

    def meddle(ws, path, changed, checksums):
        assert checksums  # (the rows' checksums are not taken for a file someone else wrote)
        ws.close()  # (a writer elsewhere waits for the readers to let go)
        edit_elsewhere(ws, bystander[0])
        return real(ws, path, changed, checksums)

    monkeypatch.setattr(li, "_refresh", meddle)
    erase(indexed, monkeypatch, victim[1])
    stale = index_status(open_workspace(indexed.root))
    assert stale.get("crm.customers"), stale
    found = lookup(open_workspace(indexed.root), "changed.elsewhere@example.org", audit_log=False)
    assert found.subject is not None and found.subject.key == (bystander[0],)


def test_a_copied_workspace_checked_by_a_lookup_stays_indexed_after_its_first_erasure(indexed, monkeypatch, tmp_path):
    """A byte copy has other file stats than the index recorded; once a lookup of this process has found every
    dataset as recorded, its erasure's refresh holds the index without marking anything stale."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(indexed.root, copy)
    ws = open_workspace(copy)
    victim, other = customer(ws, 40), customer(ws, 41)
    assert lookup(ws, other[1], audit_log=False).notes == []  # checked by checksums: the data is as indexed
    erase(ws, monkeypatch, victim[1])
    assert not any(index_status(open_workspace(copy)).values())
    again = lookup(open_workspace(copy), other[1], audit_log=False)
    assert again.notes == [] and again.subject.key == (other[0],)


@pytest.mark.parametrize("change", ["UPDATE crm.customers SET email = lower(email) || '.x', full_name = NULL",
                                    "DELETE FROM crm.customers"])
def test_a_fingerprint_moved_by_the_changed_rows_is_the_scanned_one(demo, change):
    """`moved_fingerprint` from the rows' `key_checksum` before and after a change of identity columns (or their
    deletion) equals the checksum of the whole dataset computed in SQL afterwards."""
    ds = demo.datamap.datasets["crm.customers"]
    con = duckdb.connect(str(demo.root / "company.duckdb"))
    try:
        ids = [r[0] for r in con.execute("SELECT customer_id FROM crm.customers ORDER BY customer_id LIMIT 3 OFFSET 5")
               .fetchall()]
    finally:
        con.close()
    keys = [[str(i)] for i in ids]
    whole = scanned(demo, "crm.customers")
    src = open_source(demo.datamap.sources["company"], demo.root, read_only=False)
    try:
        before = li.key_checksum(src, ds, keys)
        assert before[0] == 3
        src.execute(f"{change} WHERE customer_id IN (?, ?, ?)", ids)
        after = li.key_checksum(src, ds, keys)
        assert after != before
    finally:
        src.close()
    assert li.moved_fingerprint(whole, before, after) == scanned(demo, "crm.customers")
    assert li.moved_fingerprint(li.UNVERIFIED, before, after) is None
