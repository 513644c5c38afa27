"""The audit log: hash chain, head file, tamper detection, and no personal data in the ledger."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacyops.ledger import audit
from privacyops.lookup import lookup
from privacyops.map import parse_datamap
from privacyops.workspace import Workspace
from tests.support.mini import MINI_MAP

N = 5
POSITIONS = {"first": 1, "middle": 3, "last": 5}
EDITS = {
    "details": ("details", '{"rows":999}'),
    "actor": ("actor", "mallory"),
    "action": ("action", "erasure.cancel"),
}


def ledger_sql(ws, sql: str, params=()) -> None:
    """Change the ledger behind privacyops' back (the workspace closed it after each operation)."""
    con = duckdb.connect(str(ws.ledger_path))
    try:
        con.execute(sql, list(params))
    finally:
        con.close()


def fill(ws, n: int = N) -> list[audit.AuditEntry]:
    return [audit.record(ws, f"test.step{i}", {"i": i, "rows": i * 10}, case_id=f"DSR-2026-{i:04d}")
            for i in range(1, n + 1)]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """N entries recorded once through audit.record (opening the ledger N times is the slow part)."""
    root = tmp_path_factory.mktemp("audit-template")
    ws = Workspace(root=root, datamap=parse_datamap(MINI_MAP))
    return root, fill(ws)


@pytest.fixture()
def filled(mini_ws, template):
    """mini_ws holding a copy of the template's ledger, head file and key: N intact entries."""
    root, made = template
    shutil.copy(root / "ledger.duckdb", mini_ws.ledger_path)
    shutil.copy(root / audit.HEAD_FILE, mini_ws.root / audit.HEAD_FILE)
    shutil.copy(root / "audit.checkpoints", mini_ws.root / "audit.checkpoints")
    shutil.copytree(root / "keys", mini_ws.keys_dir)
    assert audit.verify(mini_ws).ok
    assert audit.entries(mini_ws) == made
    return mini_ws, made


def test_fresh_workspace_verifies(mini_ws):
    result = audit.verify(mini_ws)
    assert result.ok
    assert result.entries == 0
    assert audit.entries(mini_ws) == []


def test_records_chain_and_verify(mini_ws):
    made = fill(mini_ws)
    result = audit.verify(mini_ws)
    assert result.ok, str(result)
    assert result.entries == N
    assert result.first_broken is None
    assert str(result) == f"audit log intact: {N} entries, {N} checkpoints"
    got = audit.entries(mini_ws)
    assert got == made
    assert [e.seq for e in got] == list(range(1, N + 1))
    assert got[0].prev_hash == audit.GENESIS
    for prev, cur in zip(got, got[1:]):
        assert cur.prev_hash == prev.hash
    for e in got:
        assert e.hash == audit.entry_hash(e.seq, e.at, e.actor, e.action, e.case_id, e.subject_hash,
                                          json.dumps(e.details, sort_keys=True, separators=(",", ":")),
                                          e.prev_hash)
    head = json.loads((mini_ws.root / audit.HEAD_FILE).read_text())
    assert (head["seq"], head["hash"], head["number"]) == (N, got[-1].hash, N)
    lines = [json.loads(x) for x in (mini_ws.root / "audit.checkpoints").read_text().splitlines()]
    assert [(c["number"], c["seq"], c["hash"]) for c in lines] == [(e.seq, e.seq, e.hash) for e in got]


def test_entries_limit_and_action_filter(filled):
    mini_ws, _ = filled
    assert [e.seq for e in audit.entries(mini_ws, limit=2)] == [4, 5]
    assert [e.seq for e in audit.entries(mini_ws, action="test.step3")] == [3]
    assert audit.entries(mini_ws, action="nothing") == []


def test_record_returns_what_was_stored(mini_ws):
    e = audit.record(mini_ws, "export", {"datasets": ["a", "b"], "n": 2}, case_id="DSR-2026-0007",
                     subject="Someone@Example.com ")
    (stored,) = audit.entries(mini_ws)
    assert stored == e
    assert (e.action, e.case_id, e.details) == ("export", "DSR-2026-0007", {"datasets": ["a", "b"], "n": 2})
    # the identifier is normalised (trim, lower case) before hashing
    assert e.subject_hash == audit.subject_hash(mini_ws, "someone@example.com")


@pytest.mark.parametrize("position", list(POSITIONS), ids=list(POSITIONS))
@pytest.mark.parametrize("field", list(EDITS), ids=list(EDITS))
def test_editing_an_entry_is_detected_at_that_entry(filled, field, position):
    mini_ws, _ = filled
    assert audit.verify(mini_ws).ok
    column, value = EDITS[field]
    seq = POSITIONS[position]
    ledger_sql(mini_ws, f"UPDATE audit_log SET {column} = ? WHERE seq = ?", [value, seq])
    result = audit.verify(mini_ws)
    assert not result.ok
    assert result.first_broken == seq
    assert result.entries == N
    assert "edited" in result.reason
    assert f"BROKEN at entry {seq}" in str(result)


@pytest.mark.parametrize("column", ["recorded_at", "case_id", "subject_hash"])
def test_editing_other_columns_is_detected(filled, column):
    mini_ws, _ = filled
    ledger_sql(mini_ws, f"UPDATE audit_log SET {column} = 'forged' WHERE seq = 2")
    result = audit.verify(mini_ws)
    assert (result.ok, result.first_broken) == (False, 2)


def test_editing_a_link_is_detected(filled):
    mini_ws, _ = filled
    ledger_sql(mini_ws, "UPDATE audit_log SET prev_hash = ? WHERE seq = 4", ["f" * 64])
    result = audit.verify(mini_ws)
    assert (result.ok, result.first_broken) == (False, 4)
    assert "link" in result.reason


def test_deleting_a_middle_entry_is_detected(filled):
    mini_ws, _ = filled
    ledger_sql(mini_ws, "DELETE FROM audit_log WHERE seq = 3")
    result = audit.verify(mini_ws)
    assert not result.ok
    assert result.first_broken == 3
    assert "missing" in result.reason
    assert result.entries == N - 1


def test_deleting_the_first_entry_is_detected(filled):
    mini_ws, _ = filled
    ledger_sql(mini_ws, "DELETE FROM audit_log WHERE seq = 1")
    result = audit.verify(mini_ws)
    assert (result.ok, result.first_broken) == (False, 1)


def test_deleting_the_last_entry_is_detected_via_the_head(filled):
    mini_ws, _ = filled
    ledger_sql(mini_ws, "DELETE FROM audit_log WHERE seq = ?", [N])
    result = audit.verify(mini_ws)
    assert not result.ok
    assert result.first_broken == N
    assert "removed from the end" in result.reason


def test_deleting_every_entry_is_detected_via_the_head(filled):
    mini_ws, _ = filled
    ledger_sql(mini_ws, "DELETE FROM audit_log")
    result = audit.verify(mini_ws)
    assert (result.ok, result.first_broken, result.entries) == (False, 1, 0)


def test_rewriting_an_entry_and_rehashing_the_chain_is_detected_by_its_mac(filled):
    """Without the signing key a forger can recompute the public chain, but not the entries' MACs."""
    mini_ws, _ = filled
    rows = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    got = rows.execute("SELECT seq, recorded_at, actor, action, case_id, subject_hash, details FROM audit_log "
                       "ORDER BY seq").fetchall()
    rows.close()
    con = duckdb.connect(str(mini_ws.ledger_path))
    prev = audit.GENESIS
    for seq, at, actor, action, case_id, s_hash, details in got:
        if seq == 2:
            details = '{"rows":0}'
        h = audit.entry_hash(seq, at, actor, action, case_id, s_hash, details, prev)
        con.execute("UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [details, prev, h, seq])
        prev = h
    con.close()
    result = audit.verify(mini_ws)
    assert not result.ok
    assert result.first_broken == 2
    assert "MAC" in result.reason


def test_truncation_with_a_forged_head_is_detected(filled):
    mini_ws, made = filled
    ledger_sql(mini_ws, "DELETE FROM audit_log WHERE seq = ?", [N])
    head = mini_ws.root / audit.HEAD_FILE
    old = json.loads(head.read_text())
    head.write_text(json.dumps({**old, "seq": N - 1, "entries": N - 1, "hash": made[N - 2].hash}))
    result = audit.verify(mini_ws)
    assert not result.ok
    assert "signature" in result.reason


@pytest.mark.parametrize("change", ["seq", "hash", "signature"])
def test_tampering_with_the_head_is_detected(filled, change):
    mini_ws, _ = filled
    head = mini_ws.root / audit.HEAD_FILE
    data = json.loads(head.read_text())
    data[change] = 2 if change == "seq" else "0" * 64
    head.write_text(json.dumps(data))
    result = audit.verify(mini_ws)
    assert not result.ok
    assert audit.HEAD_FILE in result.reason


def test_unreadable_head_is_detected(filled):
    mini_ws, _ = filled
    (mini_ws.root / audit.HEAD_FILE).write_text("not json")
    result = audit.verify(mini_ws)
    assert not result.ok
    assert "unreadable" in result.reason


def test_actor_comes_from_privacyops_actor(mini_ws, monkeypatch):
    assert audit.record(mini_ws, "a").actor == "test-analyst"  # set by the mini_ws fixture
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "  dpo@mini.example  ")
    assert audit.record(mini_ws, "b").actor == "dpo@mini.example"
    assert audit.record(mini_ws, "c", actor="explicit").actor == "explicit"
    assert [e.actor for e in audit.entries(mini_ws)] == ["test-analyst", "dpo@mini.example", "explicit"]
    assert audit.verify(mini_ws).ok


PERSONAL = ["janis@mini.example", "Janis@Mini.example", "Jānis Bērziņš", "Bērziņš", "Janis Berzins",
            "2000 1111", "20001111", "M-001", "jb@other.example"]


def ledger_bytes(ws) -> bytes:
    return b"".join(p.read_bytes() for p in ws.root.glob("ledger.duckdb*"))


def test_raw_ledger_bytes_show_stored_text(mini_ws):
    """Control for the test below: text written to the ledger is visible in the raw file bytes."""
    audit.record(mini_ws, "control", {"marker": "canary-7f3a@marker.example"})
    assert b"canary-7f3a@marker.example" in ledger_bytes(mini_ws)


def test_entries_hold_no_personal_data(mini_ws):
    result = lookup(mini_ws, "janis@mini.example")
    assert result.status == "found"  # the lookup really saw the person's data
    assert result.subject.ref == "people.person:1"
    (entry,) = audit.entries(mini_ws)
    assert entry.action == "lookup"
    assert entry.subject_hash == audit.subject_hash(mini_ws, "janis@mini.example")
    assert entry.details["status"] == "found"
    assert entry.details["datasets"]["people.person"] == 1
    raw = ledger_bytes(mini_ws)
    head = (mini_ws.root / audit.HEAD_FILE).read_bytes()
    for value in PERSONAL:
        assert value.encode("utf-8") not in raw, value
        assert value.encode("utf-8") not in head, value
    text = json.dumps(audit.as_dict(entry), ensure_ascii=False, default=str).lower()
    for value in PERSONAL:
        assert value.lower() not in text, value


def test_subject_hash_is_keyed_per_workspace(mini_ws, tmp_path):
    other = Workspace(root=tmp_path / "other", datamap=mini_ws.datamap)
    (tmp_path / "other").mkdir()
    h = audit.subject_hash(mini_ws, "janis@mini.example")
    assert h == audit.subject_hash(mini_ws, " JANIS@mini.example ")
    assert h != audit.subject_hash(other, "janis@mini.example")
    assert "janis" not in h


def test_deleting_the_whole_ledger_is_detected(filled):
    mini_ws, _ = filled
    mini_ws.ledger_path.unlink()
    result = audit.verify(mini_ws)
    assert not result.ok


def test_truncation_plus_deleted_head_is_detected(filled):
    mini_ws, _ = filled
    ledger_sql(mini_ws, "DELETE FROM audit_log WHERE seq = ?", [N])
    (mini_ws.root / audit.HEAD_FILE).unlink()
    result = audit.verify(mini_ws)
    assert not result.ok


# ---------------------------------------------------------------------------------------------------------------
# property: any single-field edit of any entry is reported at that entry

_DM = parse_datamap(MINI_MAP)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_DETAILS = st.dictionaries(st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=5),
                           st.one_of(st.integers(-10**6, 10**6), _TEXT, st.booleans(), st.none()), max_size=3)
_RECORD = st.tuples(st.sampled_from(["lookup", "export", "case.open", "erasure"]), _DETAILS,
                    st.one_of(st.none(), st.just("DSR-2026-0001")), st.one_of(st.none(), _TEXT),
                    st.sampled_from(["alice", "bob"]))
_COLUMNS = ["recorded_at", "actor", "action", "case_id", "subject_hash", "details"]


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_RECORD, min_size=1, max_size=4), data=st.data())
def test_property_any_single_edit_is_reported_at_its_entry(records, data):
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(root=Path(tmp), datamap=_DM)
        for action, details, case_id, subject, actor in records:
            audit.record(ws, action, details, case_id=case_id, subject=subject or None, actor=actor)
        assert audit.verify(ws).ok
        seq = data.draw(st.integers(1, len(records)), label="seq")
        column = data.draw(st.sampled_from(_COLUMNS), label="column")
        con = duckdb.connect(str(ws.ledger_path))
        (old,) = con.execute(f"SELECT {column} FROM audit_log WHERE seq = ?", [seq]).fetchone()
        new = data.draw(_TEXT, label="new value")
        if new == old:
            new = (old or "") + "x"
        con.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", [new, seq])
        con.close()
        result = audit.verify(ws)
        assert not result.ok
        assert result.first_broken == seq
        assert result.entries == len(records)
