"""What privacyops keeps at rest holds no personal value in clear (docs/at_rest.md).

On the mini workspace (its newsletter list keyed by the e-mail address, so a row key is itself personal data): a
lookup, an access export, a legal hold, an erasure with suppression (planned, approved, executed, certified), a
batch plan whose lines name people, the reports. Then every byte of every file privacyops wrote and every value of
every ledger column (through SQL) is searched for the personal values the sources held before — read from the
sources by SQL in the test. Only the subject's AES-encrypted archive holds them, and only once decrypted.
"""

from __future__ import annotations

import json
import secrets

import duckdb
import pytest

from privacyops.erasure import load_plan, verify_certificate
from privacyops.errors import SealingError, WorkspaceKeyError
from privacyops.ledger import keyguard, open_ledger, schedule
from privacyops.ledger.keyring import forget_checked
from privacyops.ledger.schedule import key_json
from privacyops.workspace import keys, open_workspace, sealing
from tests.support import at_rest
from tests.support.demo import archive_files, ledger_rows


@pytest.fixture()
def lived(mini_ws, tmp_path):
    """The mini workspace after the scenario, and the personal values its sources held before it."""
    (mini_ws.root / "privacyops.yaml").write_text(at_rest.at_rest_map())
    ws = open_workspace(mini_ws.root)
    needles = at_rest.personal_values(ws.root)
    sc = at_rest.run_scenario(ws, tmp_path)
    return ws, sc, needles


def _bodies(ws) -> dict[str, str]:
    with open_ledger(ws) as con:
        return dict(con.execute("SELECT plan_id, body FROM erasure_plans").fetchall())


def test_no_personal_value_in_clear_in_anything_privacyops_wrote(lived):
    ws, sc, needles = lived
    # The values searched for are the subject's own (SQL on the sources, before), and they are real: the subject's
    # archive, decrypted, holds them — so a search that finds nothing elsewhere means something.
    subject = [n for n in needles if n.lower() in ("janis@mini.example", "jānis bērziņš", "+371 2000 1111",
                                                     "jb@other.example", "m-001", "10.0.0.1")]
    assert len({s.lower() for s in subject}) == 6
    files = archive_files(sc.archive, sc.password)
    clear = b"".join(files.values()).decode("utf-8").lower()
    assert all(s.lower() in clear for s in subject)

    kinds = {p.relative_to(ws.root).parts[0] for p in at_rest.written_files(ws.root)}
    assert {"ledger.duckdb", "audit.head", "certificates", "exports", "outputs", "keys"} <= kinds
    result = at_rest.scan(ws.root, needles)
    assert result.hits == []
    assert result.files >= 12 and result.values > 100


def test_plan_bodies_are_sealed_and_would_have_held_personal_data(lived):
    ws, sc, _needles = lived
    secret = keys.workspace_secret(ws.keys_dir)
    bodies = _bodies(ws)
    assert set(sc.plans) <= set(bodies)
    for pid, body in bodies.items():
        assert sealing.is_sealed(body), pid
        assert sealing.parse(body)[1:3] == (sealing.PLAN_BODY, sealing.key_fingerprint(secret))
    # Opened, the request's plan names the newsletter row by its key: the subject's e-mail address.
    request = sealing.open_text(secret, sealing.PLAN_BODY, bodies[sc.plans[0]])
    assert "jb@other.example" in request
    assert load_plan(ws, sc.plans[0]).status == "done"


def test_an_older_ledger_with_a_clear_body_still_loads_and_the_scan_would_see_it(lived):
    ws, sc, needles = lived
    secret = keys.workspace_secret(ws.keys_dir)
    pid = sc.plans[0]
    clear = sealing.open_text(secret, sealing.PLAN_BODY, _bodies(ws)[pid])
    with open_ledger(ws) as con:  # as an earlier privacyops wrote it
        con.execute("UPDATE erasure_plans SET body = ? WHERE plan_id = ?", [clear, pid])
    plan = load_plan(ws, pid)
    assert plan.plan_id == pid and plan.compute_hash() == plan.plan_hash
    # The scan is able to fail: the clear body is found by it.
    hits = at_rest.scan(ws.root, needles).hits
    assert any(h.startswith("ledger erasure_plans.body") and "jb@other.example" in h for h in hits)


def test_a_wrong_workspace_key_is_a_clear_error(lived):
    ws, sc, _ = lived
    path = ws.keys_dir / keys.SECRET_FILE
    old = path.read_bytes()
    other = secrets.token_bytes(32)
    path.write_bytes(other)
    forget_checked()
    try:
        # The key guard refuses another key before any sealed value is opened …
        with pytest.raises(WorkspaceKeyError, match="is not the key this workspace"):
            load_plan(ws, sc.plans[0])
    finally:
        path.write_bytes(old)
        forget_checked()
    # … and a sealed value opened under another key says which key sealed it, never returns garbage.
    body = _bodies(ws)[sc.plans[0]]
    with pytest.raises(SealingError, match=f"sealed with workspace key {sealing.key_fingerprint(old)}"):
        sealing.open_text(other, sealing.PLAN_BODY, body)


def test_reseal_after_a_secret_change_keeps_everything_readable(lived):
    ws, sc, _ = lived
    path = ws.keys_dir / keys.SECRET_FILE
    old, new = keys.workspace_secret(ws.keys_dir), secrets.token_bytes(32)
    before = {pid: load_plan(ws, pid).to_dict() for pid in sc.plans}
    kept = ([e.to_dict() for e in schedule.entries(ws)], [r.to_dict() for r in schedule.restrictions(ws)])
    assert kept[0] and kept[1]  # the retained order is scheduled and restricted: its row key is sealed too
    with open_ledger(ws) as con:
        n_sealed = sum(con.execute(f"SELECT count(*) FROM {t} WHERE {c} LIKE 'po-sealed:%'").fetchone()[0] for t, c in
                       (("erasure_plans", "body"), ("erasure_schedule", "row_key"), ("restrictions", "row_key")))
        with con.transaction():
            assert sealing.reseal_ledger(con, old, new) == n_sealed >= 4
            keyguard.set_meta(con, keyguard.META_FP, keys.fingerprint(new))  # as `privacyops key rotate` records it
    path.write_bytes(new)  # what `privacyops key rotate` does after the ledger's transaction commits
    forget_checked()
    try:
        for pid in sc.plans:
            assert load_plan(ws, pid).to_dict() == before[pid]
        assert ([e.to_dict() for e in schedule.entries(ws)], [r.to_dict() for r in schedule.restrictions(ws)]) == kept
        for body in _bodies(ws).values():
            assert sealing.parse(body)[2] == sealing.key_fingerprint(new)
            with pytest.raises(SealingError):
                sealing.open_text(old, sealing.PLAN_BODY, body)
        # Certificates are signed, not sealed: they verify offline whatever the workspace secret.
        for cert in sc.certificates:
            assert verify_certificate(cert).ok
        with open_ledger(ws) as con, con.transaction():
            assert sealing.reseal_ledger(con, old, new) == 0  # a rotation run again changes nothing
    finally:
        path.write_bytes(old)
        with open_ledger(ws, check_keys=False) as con:
            keyguard.set_meta(con, keyguard.META_FP, keys.fingerprint(old))
        forget_checked()


def test_certificates_carry_counts_and_keyed_hashes_and_verify_offline(lived):
    ws, sc, needles = lived
    (cert,) = sc.certificates
    doc = json.loads(cert.read_text(encoding="utf-8"))
    content = doc["certificate"]
    assert verify_certificate(doc).ok
    secret = keys.workspace_secret(ws.keys_dir)
    assert content["subjects"] == [{"ref_hash": keys.keyed_hash(secret, "people.person:1", "subject")}]
    # The counts are the rows the plan named per dataset: the ledger's schedule and the sources agree.
    src = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        kept_orders = src.execute("SELECT count(*) FROM shop.orders WHERE pid = 1").fetchone()[0]
    finally:
        src.close()
    assert content["summary"]["datasets"]["shop.orders"].get("retain", 0) == kept_orders
    text = json.dumps(doc, ensure_ascii=False).lower()
    assert not [n for n in needles if n.lower() in text]


def test_the_demo_company_keeps_nothing_personal_in_clear(demo_ws):
    """The same on the demo company (DuckDB and Parquet lake; consent records and the consent report too), for the
    customer whose story has two e-mail addresses and a consent withdrawal."""
    from privacyops.demo import STORIES

    story = STORIES["two_emails"]
    needles = at_rest.demo_personal_values(demo_ws.root, story["customer_id"])
    assert {story["email"], story["full_name"], story["phone"]} <= set(needles)
    sc = at_rest.run_demo_scenario(demo_ws, story["email"])
    files = archive_files(sc.archive, sc.password)
    clear = b"".join(files.values()).decode("utf-8").lower()
    assert story["email"] in clear and story["full_name"].lower() in clear
    with open_ledger(demo_ws) as con:
        assert con.execute("SELECT count(*) FROM consent_records").fetchone()[0] >= 1
    company = at_rest.company_files(demo_ws)
    assert "company.duckdb" in company
    written = {str(p.relative_to(demo_ws.root)) for p in at_rest.written_files(demo_ws.root, company)}
    assert {"ledger.duckdb", "audit.head", "outputs/reports/consent.html", "outputs/reports/requests.html",
            f"certificates/{sc.plans[0]}.json"} <= written
    result = at_rest.scan(demo_ws.root, needles, company)
    assert result.hits == []
    assert result.files >= 10 and result.values > 100
    assert all(sealing.is_sealed(b) for b in _bodies(demo_ws).values())


def test_schedule_row_keys_are_sealed_deterministically_and_older_clear_rows_still_match(mini_ws):
    """A row key can be personal data (a list keyed by e-mail address): the schedule and the restriction register
    seal it so that SQL still matches it (equal keys, equal tokens); rows an older privacyops wrote clear still
    read, match and are taken over."""
    ws = mini_ws
    with open_ledger(ws):  # a new ledger makes the workspace key and records it
        pass
    secret = keys.workspace_secret(ws.keys_dir)
    email_key, legacy_key = key_json(["jb@other.example"]), key_json(["old@clear.example"])
    with open_ledger(ws) as con, con.transaction():
        # As an earlier privacyops wrote them: clear keys.
        con.execute("INSERT INTO erasure_schedule (dataset, row_key, plan_id, basis, status, scheduled_at) VALUES "
                    "('mail.subscribers', ?, 'ERP-OLD', 'retention', 'scheduled', now())", [legacy_key])
        con.execute("INSERT INTO restrictions (dataset, row_key, plan_id, basis, restricted_at) VALUES "
                    "('mail.subscribers', ?, 'ERP-OLD', 'retention', now())", [legacy_key])
        schedule.schedule(con, [("mail.subscribers", email_key, None, None, "retention: test")], "ERP-1", None)
        schedule.schedule(con, [("mail.subscribers", email_key, None, None, "retention: again")], "ERP-2", None)
        schedule.restrict(con, [("mail.subscribers", email_key, "retention: test", None)], "ERP-1", None)
    raw = {k for (k,) in ledger_rows(ws, "SELECT row_key FROM erasure_schedule UNION ALL "
                                         "SELECT row_key FROM restrictions")}
    assert legacy_key in raw and email_key not in raw
    assert not [k for k in raw if "jb@other" in k]
    token = sealing.seal_deterministic(secret, sealing.ROW_KEY, email_key)
    assert token in raw and token == sealing.seal_deterministic(secret, sealing.ROW_KEY, email_key)
    got = {(e.dataset, e.row_key): e for e in schedule.entries(ws)}
    assert set(got) == {("mail.subscribers", email_key), ("mail.subscribers", legacy_key)}
    assert got[("mail.subscribers", email_key)].plan_id == "ERP-2"  # one entry, taken over by the newer decision
    assert {r.row_key for r in schedule.restrictions(ws)} == {email_key, legacy_key}
    # Finishing and lifting match both forms, in SQL.
    with open_ledger(ws) as con, con.transaction():
        schedule.reschedule(con, "mail.subscribers", legacy_key, None, None)
        schedule.finish(con, [("mail.subscribers", email_key), ("mail.subscribers", legacy_key)], "ERD-1")
        schedule.lift(con, [("mail.subscribers", email_key), ("mail.subscribers", legacy_key)], "ERD-1")
        # A newer decision about the legacy row takes its clear entry over (no second entry for one row).
        schedule.schedule(con, [("mail.subscribers", legacy_key, None, None, "retention: new")], "ERP-3", None)
    assert ledger_rows(ws, "SELECT status, done_plan FROM erasure_schedule WHERE plan_id = 'ERP-2'") == [
        ("done", "ERD-1")]
    assert ledger_rows(ws, "SELECT count(*) FROM erasure_schedule WHERE row_key = ?", [legacy_key]) == [(0,)]
    assert [e.plan_id for e in schedule.entries(ws) if e.row_key == legacy_key] == ["ERP-3"]
    assert ledger_rows(ws, "SELECT count(*) FROM restrictions WHERE lifted_by = 'ERD-1'") == [(2,)]
    assert schedule.restrictions(ws) == []
