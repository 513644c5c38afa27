"""The lookup index (index.duckdb): probes give the very answers of the scans, and a stale index never hides a row."""

from __future__ import annotations

import random
import shutil

import duckdb
import pytest

from privacyops.lookup import lookup, reader
from privacyops.sources import scored
from privacyops.workspace import create_indexes, open_workspace
from privacyops.workspace import lookup_index as li
from tests.support.demo import demo_workspace


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A 2,000-subject demo with its lookup indexes (a private copy: some tests change its data)."""
    root = tmp_path_factory.mktemp("indexed") / "demo"
    shutil.copytree(demo_workspace(tmp_path_factory, subjects=2000, seed=7), root,
                    ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.head", "keys", "index.duckdb"))
    ws = open_workspace(root)
    report = create_indexes(ws, progress=False)
    assert report.lookup_index is not None and report.lookup_index.identities > 0
    return ws


def answer(r) -> dict:
    """Everything a lookup says about whose rows are whose, in comparable form."""
    def recs(d):
        return {n: sorted(zip(map(str, x.keys()), x.roles or [None] * x.count, x.owner or [None] * x.count))
                for n, x in d.items()}
    return {"status": r.status, "subject": r.subject.ref if r.subject else None, "records": recs(r.records),
            "shared": recs(r.shared), "context": recs(r.context),
            "mentions": sorted((m.dataset, str(m.key), m.field, m.matched, m.snippet) for m in r.mentions),
            "candidates": sorted(c.ref for c in r.candidates), "via": {n: sorted(x.via) for n, x in r.records.items()}}


def customers(ws, n: int, seed: int) -> list[tuple]:
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT customer_id, email, phone FROM crm.customers ORDER BY customer_id").fetchall()
    finally:
        con.close()
    return random.Random(seed).sample(rows, n)


@pytest.mark.slow
def test_indexed_and_scanned_lookups_answer_alike_for_200_random_subjects(indexed, monkeypatch):
    probes = []
    real = li.LookupIndex.identity_hits_many  # (identity_hits asks through it too)
    monkeypatch.setattr(li.LookupIndex, "identity_hits_many",
                        lambda self, asks, *a: probes.extend(k for k, _ in asks) or real(self, asks, *a))
    mentioned = 0
    for i, (cid, email, phone) in enumerate(customers(indexed, 200, seed=2026)):
        ident, kind = [(email, "auto"), (phone, "phone"), (str(cid), "customer_id")][i % 3]
        if not ident:
            continue
        fast = lookup(indexed, ident, kind=kind, audit_log=False)
        slow = lookup(indexed, ident, kind=kind, audit_log=False, use_index=False)
        assert fast.notes == [], fast.notes
        assert answer(fast) == answer(slow), ident
        mentioned += len(slow.mentions)
    assert {"email", "phone", "customer_id"} <= set(probes)  # the index answered (not a silent scan)
    assert mentioned > 0  # the mention comparison was not vacuous


@pytest.mark.slow
@pytest.mark.parametrize("path", ["spelled", "joined", "read"])
def test_name_search_over_the_indexed_spellings_ranks_as_the_scan(indexed, monkeypatch, path):
    """The same candidates, all of their fields, as the scan: whether the rows bearing the spellings are read with
    a filter per spelling (DuckDB files), by their keys joined in the store (many spellings) or by key."""
    con = duckdb.connect(str(indexed.root / "company.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT full_name FROM crm.customers WHERE full_name IS NOT NULL "
                                           "ORDER BY customer_id").fetchall()]
        agents = [r[0] for r in con.execute("SELECT full_name FROM support.agents").fetchall()]
    finally:
        con.close()
    rng = random.Random(31)
    queries = rng.sample(names, 12) + agents[:2] + [n[:3] + n[4:] for n in rng.sample(names, 6)]  # typos too
    used = []
    real = li.LookupIndex.name_spellings if path == "spelled" else li.LookupIndex.name_matches
    monkeypatch.setattr(li.LookupIndex, real.__name__, lambda self, *a, **k: used.append(1) or real(self, *a, **k))
    if path != "spelled":
        monkeypatch.setattr(scored, "MAX_SPELLINGS", -1)  # never a filter per spelling
    if path == "read":
        monkeypatch.setattr(reader, "select_scored", lambda *a, **k: None)
    for q in queries:
        fast = lookup(indexed, q, kind="name", audit_log=False)
        slow = lookup(indexed, q, kind="name", audit_log=False, use_index=False)
        assert [c.to_dict() for c in fast.candidates] == [c.to_dict() for c in slow.candidates], q
        assert fast.candidates_total == slow.candidates_total and fast.status == slow.status
    assert used


def test_mentions_found_through_the_index_are_the_texts_that_hold_the_email(indexed):
    """Ground truth by SQL: the messages whose body holds the customer's e-mail (case-blind)."""
    con = duckdb.connect(str(indexed.root / "company.duckdb"), read_only=True)
    try:
        email, cid = con.execute(
            "SELECT c.email, c.customer_id FROM crm.customers c JOIN support.ticket_messages m "
            "ON contains(lower(m.body), lower(c.email)) ORDER BY c.customer_id LIMIT 1").fetchone()
        truth = {r[0] for r in con.execute("SELECT message_id FROM support.ticket_messages WHERE "
                                           "contains(lower(body), lower(?))", [email]).fetchall()}
    finally:
        con.close()
    r = lookup(indexed, email, audit_log=False)
    own = {k[0] for k in r.records["support.ticket_messages"].keys()} if "support.ticket_messages" in r.records \
        else set()
    got = {m.key[0] for m in r.mentions if m.dataset == "support.ticket_messages"}
    assert got == truth - own and cid


def test_data_changed_outside_privacyops_is_scanned_and_said_until_refreshed(indexed):
    cid, _, _ = customers(indexed, 1, seed=99)[0]
    new = f"changed.{cid}@elsewhere.example"
    con = duckdb.connect(str(indexed.root / "company.duckdb"))
    try:
        con.execute("UPDATE crm.customers SET email = ? WHERE customer_id = ?", [new, cid])
        assert con.execute("SELECT count(*) FROM crm.customers WHERE email = ?", [new]).fetchone() == (1,)
    finally:
        con.close()
    status = li.index_status(indexed)
    assert status["crm.customers"] and "changed" in status["crm.customers"]
    r = lookup(indexed, new, audit_log=False)
    assert r.status == "found" and r.subject.ref == f"crm.customers:{cid}"
    assert any(n.startswith("crm.customers:") for n in r.notes)
    create_indexes(indexed, progress=False)
    assert li.index_status(indexed)["crm.customers"] is None
    again = lookup(indexed, new, audit_log=False)
    assert again.notes == [] and answer(again) == answer(r)


def test_without_an_index_file_lookups_scan_and_agree(indexed, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(indexed.root, root, ignore=shutil.ignore_patterns("index.duckdb", "ledger.duckdb*", "keys",
                                                                      "audit.head"))
    plain = open_workspace(root)
    _, email, _ = customers(indexed, 1, seed=5)[0]
    assert li.index_status(plain)["crm.customers"].startswith("no lookup index")
    assert answer(lookup(plain, email, audit_log=False)) == answer(lookup(indexed, email, audit_log=False))


def test_refreshing_the_rows_privacyops_changed_purges_the_old_identifiers(indexed):
    (gone, gone_email, _), (moved, old_email, _) = customers(indexed, 2, seed=123)
    new = f"renamed.{moved}@elsewhere.example"
    con = indexed.writer("company")  # privacyops's own writer, as an erasure and a rectification write
    try:  # one row deleted, one e-mail changed
        con.execute("DELETE FROM crm.customers WHERE customer_id = ?", [gone])
        con.execute("UPDATE crm.customers SET email = ? WHERE customer_id = ?", [new, moved])
    finally:
        indexed.close()
    assert li.index_status(indexed)["crm.customers"]
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(gone,), (moved,)]}) == ["crm.customers"]
    assert not any(li.index_status(indexed).values())
    ix = duckdb.connect(str(indexed.root / "index.duckdb"), read_only=True)
    try:
        left = ix.execute("SELECT count(*) FROM ident JOIN ident_cols USING (c) WHERE dataset = 'crm.customers' "
                          "AND value IN (?, ?) AND k IN (?, ?)", [gone_email.strip().lower(), old_email.strip().lower(),
                                             str(gone), str(moved)]).fetchone()[0]
    finally:
        ix.close()
    assert left == 0
    for q in (new, old_email, gone_email, str(moved)):
        fast = lookup(indexed, q, audit_log=False)
        assert fast.notes == [] and answer(fast) == answer(lookup(indexed, q, audit_log=False, use_index=False))
    assert lookup(indexed, new, audit_log=False).subject.ref == f"crm.customers:{moved}"


@pytest.mark.slow
def test_an_executed_erasure_and_an_applied_rectification_leave_no_old_identifier_in_the_index(indexed,
                                                                                             monkeypatch):
    """The package's own writes keep the index exact at once: the erased customer's e-mail and the corrected
    customer's old e-mail are gone from index.duckdb (SQL on it), the new e-mail is found through the index."""
    from privacyops.erasure import approve_plan, execute_plan, plan_erasure
    from privacyops.ledger import open_case
    from privacyops.rectify import apply_rectification, plan_rectification

    (erased, erased_email, _), (fixed, old_email, _) = customers(indexed, 2, seed=321)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "preparer")
    case = open_case(indexed, "erasure", "2026-11-02")
    plan = plan_erasure(indexed, case.case_id, erased_email)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "approver")
    approve_plan(indexed, plan.plan_id)
    assert execute_plan(indexed, plan.plan_id).ok
    new = f"corrected.{fixed}@elsewhere.example"
    rcase = open_case(indexed, "rectification", "2026-11-02")
    apply_rectification(indexed, plan_rectification(indexed, rcase.case_id, old_email,
                                                    changes={"crm.customers.email": new}))
    ix = duckdb.connect(str(indexed.root / "index.duckdb"), read_only=True)
    try:
        left = ix.execute("SELECT value FROM ident WHERE value IN (?, ?)",
                          [erased_email.strip().lower(), old_email.strip().lower()]).fetchall()
    finally:
        ix.close()
    assert left == []
    assert not any(li.index_status(indexed).values())  # still current: nothing falls back to a scan
    found = lookup(indexed, new, audit_log=False)
    assert found.notes == [] and found.subject.ref == f"crm.customers:{fixed}"


def test_an_interrupted_refresh_leaves_the_dataset_stale_never_hiding(indexed, monkeypatch):
    """A refresh stopped part way changes nothing of the index (one transaction): the dataset whose data changed
    stays stale (its recorded fingerprint no longer matches) and lookups scan it, finding the new e-mail."""
    (_, _, _), (moved, old_email, _) = customers(indexed, 2, seed=77)
    new = f"again.{moved}@elsewhere.example"
    con = indexed.writer("company")  # privacyops's own write (a rectification's)
    try:
        con.execute("UPDATE crm.customers SET email = ? WHERE customer_id = ?", [new, moved])
    finally:
        indexed.close()

    def broken(*a, **kw):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(li, "identity_sql", broken)
    with pytest.raises(RuntimeError):
        li.refresh_lookup_index(indexed, {"crm.customers": [(moved,)]})
    monkeypatch.undo()
    assert li.index_status(indexed)["crm.customers"]  # stale: scanned
    got = lookup(indexed, new, audit_log=False)
    assert got.subject is not None and got.subject.ref == f"crm.customers:{moved}"
    assert answer(got) == answer(lookup(indexed, new, audit_log=False, use_index=False))
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(moved,)]}) == ["crm.customers"]
    assert li.index_status(indexed)["crm.customers"] is None


def test_a_batch_refresh_drops_first_on_its_own_and_a_stop_after_it_leaves_the_dataset_stale(indexed, monkeypatch):
    """Over FEW_KEYS changed rows (a batch) the old entries go in a transaction of their own that marks the dataset
    unverified (its commit loads the identity table's index parts; the handle is closed after it). Stopped before the
    refresh proper, the dataset is stale and scanned, never hiding a row; refreshed, the index holds exactly the
    customers' new e-mails and none of the old (SQL on index.duckdb)."""
    picked = customers(indexed, li.FEW_KEYS + 50, seed=909)
    new = {cid: f"batch.{cid}@elsewhere.example" for cid, _, _ in picked}
    con = indexed.writer("company")  # privacyops's own writer, as a batch erasure's
    try:
        for cid, mail in new.items():
            con.execute("UPDATE crm.customers SET email = ? WHERE customer_id = ?", [mail, cid])
    finally:
        indexed.close()
    first = []
    real = li._drop_first
    monkeypatch.setattr(li, "_drop_first", lambda *a: first.append(1) or real(*a))
    monkeypatch.setattr(li, "identity_sql", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("interrupted")))
    with pytest.raises(RuntimeError):
        li.refresh_lookup_index(indexed, {"crm.customers": [(cid,) for cid in new]})
    monkeypatch.undo()
    assert first == [1]
    assert li.index_status(indexed)["crm.customers"]  # stale: scanned
    (cid, old, _), (cid2, old2, _) = picked[0], picked[1]
    for q in (new[cid], old, old2):
        got = lookup(indexed, q, audit_log=False)
        assert answer(got) == answer(lookup(indexed, q, audit_log=False, use_index=False))
    assert lookup(indexed, new[cid], audit_log=False).subject.ref == f"crm.customers:{cid}"
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(cid,) for cid in new]}) == ["crm.customers"]
    assert li.index_status(indexed)["crm.customers"] is None
    ix = duckdb.connect(str(indexed.root / "index.duckdb"), read_only=True)
    try:
        held = ix.execute("SELECT value FROM ident JOIN ident_cols USING (c) WHERE dataset = 'crm.customers' "
                          "AND col = 'email' AND k IN (SELECT unnest(?::VARCHAR[]))",
                          [[str(c) for c in new]]).fetchall()
    finally:
        ix.close()
    assert sorted(v for (v,) in held) == sorted(new.values())
    fast = lookup(indexed, new[cid2], audit_log=False)
    assert fast.notes == [] and fast.subject.ref == f"crm.customers:{cid2}"


def _art_bytes(idx) -> int:
    return idx.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                           "WHERE tag = 'ART_INDEX'").fetchone()[0]


def test_a_batch_of_probes_is_one_scan_answering_as_the_probes_one_by_one_and_loads_no_index_part(indexed):
    """A batch's identity and mention probes (over PROBE_JOIN_FROM keys) go through a joined scan: the same hits
    as each key probed alone (the ART path), the customers' own rows among them (ground truth by SQL), and no ART
    part loaded (they would stay in memory until the file is closed)."""
    picked = customers(indexed, 150, seed=31)
    emails = sorted({e.strip().lower() for _, e, _ in picked if e})
    assert len(emails) > li.PROBE_JOIN_FROM
    path = li.index_path(indexed)
    big = li.LookupIndex(path)
    try:
        hits = big.identity_hits("email", emails, 8)
        mentions = big.mention_hits(emails, [])
        assert _art_bytes(big) == 0
    finally:
        big.close()
    one = li.LookupIndex(path)
    try:
        alone = [h for e in emails for h in one.identity_hits("email", [e], 8)]
        alone_mentions: dict[str, set] = {}
        for e in emails:
            for name, keys in one.mention_hits([e], []).items():
                alone_mentions.setdefault(name, set()).update(keys)
        assert _art_bytes(one) > 0  # the probes one by one do load index parts: the check above can fail
    finally:
        one.close()
    assert sorted(hits) == sorted(alone) and mentions == alone_mentions
    truth = {(e.strip().lower(), (str(cid),)) for cid, e, _ in picked if e}  # keys as the index holds them
    assert truth <= {(v, k) for v, name, col, k in hits if name == "crm.customers" and col == "email"}


def test_a_large_index_drops_a_batch_s_entries_one_hash_range_at_a_time_and_ends_as_a_rebuild(indexed, monkeypatch,
                                                                                                 tmp_path):
    """An index over ENTRIES_PER_PART entries is emptied of a batch's old entries one hash range per commit (each
    range's handle closed: only that part of the ART held). Forced here into several ranges, the refreshed index
    holds exactly the e-mails the source holds now (SQL on both files) and the very entries a rebuild makes."""
    from privacyops.workspace import lookup_entries

    picked = customers(indexed, li.FEW_KEYS + 40, seed=4242)
    con = indexed.writer("company")
    try:
        for cid, _, _ in picked:
            con.execute("UPDATE crm.customers SET email = ? WHERE customer_id = ?", [f"ranged.{cid}@else.example", cid])
    finally:
        indexed.close()
    path = indexed.root / "index.duckdb"
    ix = duckdb.connect(str(path), read_only=True)
    entries = ix.execute("SELECT count(*) FROM ident").fetchone()[0]
    ix.close()
    monkeypatch.setattr(lookup_entries, "ENTRIES_PER_PART", entries // 5)
    assert len(lookup_entries.hash_ranges(entries)) == 6
    opened = []
    real = li.connect_duckdb
    monkeypatch.setattr(li, "connect_duckdb", lambda *a, **kw: opened.append(a[0]) or real(*a, **kw))
    assert li.refresh_lookup_index(indexed, {"crm.customers": [(cid,) for cid, _, _ in picked]}) == ["crm.customers"]
    assert len(opened) == 1 + 6  # the refresh's writer, then one fresh handle after each range's commit
    assert li.index_status(indexed)["crm.customers"] is None

    def emails_indexed(p):
        c = duckdb.connect(str(p), read_only=True)
        try:
            return sorted(c.execute("SELECT value, k FROM ident JOIN ident_cols USING (c) WHERE dataset = "
                                    "'crm.customers' AND col = 'email'").fetchall())
        finally:
            c.close()

    src = duckdb.connect(str(indexed.root / "company.duckdb"), read_only=True)
    try:
        truth = sorted(src.execute("SELECT lower(trim(email)), CAST(customer_id AS VARCHAR) FROM crm.customers "
                                   "WHERE email IS NOT NULL AND trim(email) <> ''").fetchall())
    finally:
        src.close()
    assert emails_indexed(path) == truth
    copy = tmp_path / "rebuilt"
    shutil.copytree(indexed.root, copy, ignore=shutil.ignore_patterns("index.duckdb"))
    li.build_lookup_index(open_workspace(copy), progress=False)
    both = []
    for p in (path, copy / "index.duckdb"):
        c = duckdb.connect(str(p), read_only=True)
        try:
            both.append(sorted(c.execute("SELECT dataset, col, kind, value, k FROM ident JOIN ident_cols USING (c)")
                               .fetchall()))
        finally:
            c.close()
    assert both[0] == both[1]
