"""After an erasure the lookup index certifies the DuckDB file again without a checksum of every dataset in it only
when every change since it last held is one this process made and refreshed (sources/write_chain.py); a change made
elsewhere, before the erasure or between its writes and the refresh, still leaves its dataset stale."""

from __future__ import annotations

import duckdb
import pytest

from privacyops.erasure import approve_plan, execute_plan, plan_erasure
from privacyops.ledger import open_case
from privacyops.lookup import lookup
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


def erase(ws, monkeypatch, email: str) -> None:
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_erasure(ws, open_case(ws, "erasure", AS_OF).case_id, email, as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    assert execute_plan(ws, plan.plan_id).ok


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


def test_an_erasure_alone_is_certified_without_checksumming_the_other_datasets(indexed, monkeypatch):
    seen = counting(monkeypatch)
    erase(indexed, monkeypatch, customer(indexed, 10)[1])
    company = {d.name for d in indexed.datamap.datasets.values() if d.source == "company"}
    assert seen and set(seen) & company  # the refreshed datasets were checksummed ...
    assert len([n for n in seen if n in company]) < len([d for d in company if li.index_applies(indexed,
                                                         indexed.datamap.datasets[d])])  # ... not every one
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

    def meddle(ws, path, changed):
        ws.close()  # (a writer elsewhere waits for the readers to let go)
        edit_elsewhere(ws, bystander[0])
        return real(ws, path, changed)

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
