"""Access/portability exports: what goes in, what is masked or withheld (Art. 15(4)), case rules, the register,
purge, the CLI, and a public schema (Chinook).

Expected values come from SQL against the sources or from lookup(), never from the export code under test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from privacyops.access import (
    ExportError,
    check_password,
    export_subject,
    list_exports,
    mark_delivered,
    parse_age,
    plan_export,
    purge_exports,
)
from privacyops.access.plan import Masker
from privacyops.cli import main as cli
from privacyops.demo import STORIES
from privacyops.errors import CaseError, LookupInputError
from privacyops.ledger import audit, get_case, open_ledger
from privacyops.lookup import lookup
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver
from tests.support.demo import (
    ANNA,
    JANIS,
    PASSWORD_RE,
    access_case,
    all_bytes,
    archive_files,
    csv_rows,
    ledger_rows,
    sql,
)

REPO = Path(__file__).resolve().parents[2]
MASK_EMAIL, MASK_PHONE = "[e-mail of another person removed]", "[phone number of another person removed]"


# ---------------------------------------------------------------------------------------------------------------
# Helpers shared with the other export test files (they import them from here).


def data_json(path: Path, password: str) -> dict:
    return json.loads(archive_files(path, password)["data.json"])


# ---------------------------------------------------------------------------------------------------------------
# Art. 15(4): the subject's own free text, other people's records.


def test_janis_message_naming_anna_is_exported_with_her_address_masked(demo_ws):
    case_id = access_case(demo_ws)
    result = export_subject(demo_ws, case_id, JANIS["email"])
    data = data_json(result.path, result.password)
    messages = {r["message_id"]: r for r in data["datasets"]["support.ticket_messages"]["records"]}

    # His messages, from SQL: the one naming Anna's address, the one with his own phone number.
    (naming_id, naming_body), = sql(demo_ws.root, """SELECT m.message_id, m.body FROM support.ticket_messages m
        JOIN support.tickets t USING (ticket_id) WHERE t.customer_id = ? AND strpos(m.body, ?) > 0""",
                                    [JANIS["customer_id"], JANIS["mentions_email"]])
    (phone_id, phone_body), = sql(demo_ws.root, """SELECT m.message_id, m.body FROM support.ticket_messages m
        JOIN support.tickets t USING (ticket_id) WHERE t.customer_id = ? AND strpos(m.body, ?) > 0""",
                                  [JANIS["customer_id"], JANIS["phone"]])
    assert messages[naming_id]["body"] == naming_body.replace(JANIS["mentions_email"], MASK_EMAIL)
    assert messages[phone_id]["body"] == phone_body  # his own phone number stays
    assert JANIS["phone"] in messages[phone_id]["body"]
    assert result.masked_emails == 1 and result.masked_phones == 0
    theirs = sql(demo_ws.root, """SELECT count(*) FROM support.ticket_messages m JOIN support.tickets t
        USING (ticket_id) WHERE t.customer_id = ?""", [JANIS["customer_id"]])[0][0]
    assert len(messages) == theirs

    files = archive_files(result.path, result.password)
    for name, content in files.items():
        assert JANIS["mentions_email"].encode() not in content, name  # nowhere in the archive
    csv_name = json.loads(files["data.json"])["datasets"]["support.ticket_messages"]["csv"]
    assert csv_name == "csv/messages-in-your-support-requests.csv"  # named as the letter calls the data
    assert MASK_EMAIL.encode() in files[csv_name]


def test_annas_ticket_that_mentions_janis_is_not_in_his_archive(demo_ws):
    (anna_msg_id, anna_body), = sql(demo_ws.root, """SELECT m.message_id, m.body FROM support.ticket_messages m
        JOIN support.tickets t USING (ticket_id) WHERE t.customer_id = ? AND strpos(m.body, ?) > 0""",
                                    [ANNA["customer_id"], JANIS["email"]])
    mentions = lookup(demo_ws, JANIS["email"], audit_log=False).mentions
    assert [(m.dataset, m.key) for m in mentions] == [("support.ticket_messages", (anna_msg_id,))]

    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    files = archive_files(result.path, result.password)
    data = json.loads(files["data.json"])
    ids = {r["message_id"] for r in data["datasets"]["support.ticket_messages"]["records"]}
    assert anna_msg_id not in ids
    assert "Please close my account" not in files["data.json"].decode()
    for name, content in files.items():
        assert anna_body.encode() not in content, name
    # The letter says such records exist, how many, and why they are withheld; never what they say.
    letter = files["report.html"].decode()
    assert "1 record of another person mentions you" in letter and "Art. 15(4)" in letter
    assert data["left_out"]["records_of_others_mentioning_you"] == {"support.ticket_messages": 1}
    assert result.withheld_mentions == {"support.ticket_messages": 1}


def test_masking_matches_sql_for_every_bulk_message(demo_ws):
    """Every customer's own messages: other customers' e-mails/phones (found by SQL) are masked, their own kept."""
    rows = sql(demo_ws.root, """
        SELECT m.body, c.email, c.phone, list(DISTINCT a.email) FILTER (WHERE a.email IS NOT NULL),
               (SELECT list(o.email) FROM crm.customers o WHERE o.customer_id <> c.customer_id
                 AND strpos(m.body, o.email) > 0),
               (SELECT list(o.phone) FROM crm.customers o WHERE o.customer_id <> c.customer_id
                 AND strpos(m.body, o.phone) > 0)
        FROM support.ticket_messages m JOIN support.tickets t USING (ticket_id)
        JOIN crm.customers c ON c.customer_id = t.customer_id
        LEFT JOIN app.user_accounts a ON a.customer_id = c.customer_id
        WHERE t.customer_id > 6 GROUP BY ALL""")
    seen = {"own_email": 0, "own_phone": 0, "other_email": 0, "other_phone": 0}
    for body, email, phone, accounts, other_emails, other_phones in rows:
        masked, n_email, n_phone = Masker({email, *accounts}, {phone}, 8)(body)
        other_emails, other_phones = other_emails or [], other_phones or []
        assert (n_email, n_phone) == (len(other_emails), len(other_phones)), body
        for o in other_emails:
            assert o not in masked and MASK_EMAIL in masked
            seen["other_email"] += 1
        for o in other_phones:
            assert o not in masked and MASK_PHONE in masked
            seen["other_phone"] += 1
        if email in body:
            assert email in masked
            seen["own_email"] += 1
        if phone in body:
            assert phone in masked
            seen["own_phone"] += 1
    assert all(n > 3 for n in seen.values()), seen  # the demo has every kind: the test means something


def test_a_bulk_customers_export_masks_the_other_person(demo_ws):
    (cid, message_id, other), = sql(demo_ws.root, """
        SELECT t.customer_id, m.message_id, o.email FROM support.ticket_messages m JOIN support.tickets t
        USING (ticket_id) JOIN crm.customers o ON o.customer_id <> t.customer_id AND strpos(m.body, o.email) > 0
        WHERE t.customer_id > 6 ORDER BY m.message_id LIMIT 1""")
    plan = plan_export(demo_ws, access_case(demo_ws), pick=f"crm.customers:{cid}")
    rows = {r["message_id"]: r for r in plan.datasets["support.ticket_messages"].rows}
    assert other not in rows[message_id]["body"] and MASK_EMAIL in rows[message_id]["body"]
    assert plan.masked_emails >= 1


@pytest.mark.parametrize("text, own_e, own_p, expected, counts", [
    ("write to Me@Mini.Example or other@x.lv", {"me@mini.example"}, set(),
     f"write to Me@Mini.Example or {MASK_EMAIL}", (1, 0)),
    ("call 2000 1111 or +371 2000 9999.", set(), {"+371 2000 1111"},
     f"call 2000 1111 or {MASK_PHONE}.", (0, 1)),
    ("(+371) 20 001 111 is mine", set(), {"20001111"}, "(+371) 20 001 111 is mine", (0, 0)),
    ("on 2021-06-30 at 10:00, invoice BSF-2019-0000001, ip 192.168.100.200, years 2019 2020 2021",
     set(), set(), "on 2021-06-30 at 10:00, invoice BSF-2019-0000001, ip 192.168.100.200, years 2019 2020 2021",
     (0, 0)),
    ("mail a.b+c@sub.example.co.uk.", set(), set(), f"mail {MASK_EMAIL}.", (1, 0)),
])
def test_masker(text, own_e, own_p, expected, counts):
    out, n_email, n_phone = Masker(own_e, own_p, 8)(text)
    assert out == expected and (n_email, n_phone) == counts


def test_rows_under_a_shared_identifier_are_withheld_with_a_note(mini_ws):
    case_id = access_case(mini_ws)
    expected = lookup(mini_ws, "home@mini.example", pick="people.person:3", audit_log=False)
    assert expected.shared["mail.subscribers"].count == 1  # the family address is on the newsletter list
    result = export_subject(mini_ws, case_id, "home@mini.example", pick="people.person:3")
    assert result.withheld_shared == {"mail.subscribers": 1}
    files = archive_files(result.path, result.password)
    data = json.loads(files["data.json"])
    assert "mail.subscribers" not in data["datasets"]
    assert data["left_out"]["records_under_a_shared_identifier"] == {"mail.subscribers": 1}
    assert "share with another person" in files["report.html"].decode()
    assert set(data["datasets"]) == set(expected.records)


def test_password_hashes_are_withheld(demo_ws):
    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    files = archive_files(result.path, result.password)
    hashes = [h for (h,) in sql(demo_ws.root, "SELECT password_hash FROM app.user_accounts WHERE customer_id = ?",
                                [JANIS["customer_id"]])]
    assert len(hashes) == 2 and all(hashes)
    for name, content in files.items():
        for h in hashes:
            assert h.encode() not in content, name
    data = json.loads(files["data.json"])
    accounts = data["datasets"]["app.user_accounts"]
    assert accounts["withheld_fields"] == ["password_hash"]
    assert "password_hash" not in {f["name"] for f in accounts["fields"]}
    assert sorted(r["account_id"] for r in accounts["records"]) == JANIS["account_ids"]


def test_every_record_lookup_finds_is_in_the_archive_with_categories(demo_ws):
    expected = lookup(demo_ws, JANIS["email"], audit_log=False)
    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    files = archive_files(result.path, result.password)
    data = json.loads(files["data.json"])
    assert list(data["datasets"]) == list(expected.records)
    dm = demo_ws.datamap
    for name, recs in expected.records.items():
        got = data["datasets"][name]
        assert got["count"] == recs.count == len(got["records"])
        pk = dm.datasets[name].primary_key
        assert sorted(tuple(r[c] for c in pk) for r in got["records"]) == sorted(
            tuple(r[c] for c in pk) for r in recs.rows)
        for f in got["fields"]:
            if f["name"] in dm.datasets[name].fields:
                assert f["categories"] == list(dm.datasets[name].fields[f["name"]].categories)
            else:  # the name of what a reference points at, beside it (agent_id -> agent): not the subject's data
                assert f["categories"] == [] and dm.datasets[name].shared_references, (name, f["name"])
        rows = list(csv_rows(files[got["csv"]]))
        assert rows[0] == [f["name"] for f in got["fields"]]
        assert len(rows) - 1 == recs.count
    customers = data["datasets"]["crm.customers"]["records"]
    assert customers[0]["full_name"] == JANIS["full_name"] and customers[0]["phone"] == JANIS["phone"]
    assert "context" not in data and "support.agents" not in data["datasets"]  # reference data, not his


# ---------------------------------------------------------------------------------------------------------------
# Case rules: nothing is read or written without an open access or portability case.


def _state(ws) -> tuple:
    entries = len(audit.entries(ws))
    exports = (ws.root / "exports").exists() and any((ws.root / "exports").rglob("*"))
    files = sorted(str(p.relative_to(ws.root)) for p in ws.root.rglob("*") if p.is_file())
    return entries, exports, files


@pytest.mark.parametrize("how", ["none", "unknown", "erasure", "rectification", "closed"])
def test_export_is_refused_without_an_open_access_or_portability_case(demo_ws, how):
    case_id = {"none": None, "unknown": "DSR-1999-0001"}.get(how)
    if how in ("erasure", "rectification", "closed"):
        case_id = access_case(demo_ws, "access" if how == "closed" else how)
    if how == "closed":
        with open_ledger(demo_ws) as con:
            con.execute("UPDATE cases SET status = 'closed' WHERE case_id = ?", [case_id])
    before = _state(demo_ws)
    with pytest.raises(CaseError) as info:
        export_subject(demo_ws, case_id, JANIS["email"])
    message = str(info.value)
    expected_words = {"none": "give its case", "unknown": "unknown case", "erasure": "erasure request",
                      "rectification": "rectification request", "closed": "is closed"}[how]
    assert expected_words in message
    assert _state(demo_ws) == before  # no audit entry, no lookup, no file
    assert not (demo_ws.root / "exports").exists()


def test_portability_case_is_accepted_and_the_letter_says_so(demo_ws):
    case_id = access_case(demo_ws, "portability")
    result = export_subject(demo_ws, case_id, JANIS["email"])
    letter = archive_files(result.path, result.password)["report.html"].decode()
    assert "Article 20" in letter and get_case(demo_ws, case_id).type == "portability"


def test_ambiguous_and_unknown_subjects_write_no_archive(demo_ws):
    case_id = access_case(demo_ws)
    with pytest.raises(LookupInputError) as info:
        export_subject(demo_ws, case_id, STORIES["family_a"]["email"])
    assert "crm.customers:3" in str(info.value) and "crm.customers:4" in str(info.value)
    with pytest.raises(ExportError, match="no records found"):
        export_subject(demo_ws, case_id, "nobody.at.all@example.invalid")
    assert list_exports(demo_ws) == [] and not (demo_ws.root / "exports").exists()
    result = export_subject(demo_ws, case_id, STORIES["family_a"]["email"], pick="crm.customers:4")
    data = data_json(result.path, result.password)
    assert [r["customer_id"] for r in data["datasets"]["crm.customers"]["records"]] == [4]


def test_case_opened_for_someone_else_gives_a_warning(demo_ws):
    other = access_case(demo_ws, subject=ANNA["email"])
    mine = access_case(demo_ws, subject=JANIS["phone"])
    assert plan_export(demo_ws, mine, JANIS["email"]).warnings == []
    plan = plan_export(demo_ws, other, JANIS["email"])
    assert plan.warnings and other in plan.warnings[0]


# ---------------------------------------------------------------------------------------------------------------
# Passwords, the register, the audit log.


def test_given_password_is_used_and_returned_nowhere(demo_ws):
    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"], password="correct horse battery 9")
    assert result.password is None and not result.password_generated
    assert archive_files(result.path, "correct horse battery 9")["data.json"]
    with pytest.raises(RuntimeError):
        archive_files(result.path, "wrong password 123")
    assert audit.entries(demo_ws, action="export.create")[-1].details["password"] == "given"


@pytest.mark.parametrize("bad", ["short", "x" * 11, "pässwörd-long-enough"])
def test_weak_or_non_ascii_passwords_are_refused_before_anything_is_written(demo_ws, bad):
    case_id = access_case(demo_ws)
    before = _state(demo_ws)
    with pytest.raises(ExportError):
        export_subject(demo_ws, case_id, JANIS["email"], password=bad)
    assert _state(demo_ws) == before
    with pytest.raises(ExportError):
        check_password(bad)


def test_export_is_registered_with_the_files_sha256_and_audited_without_personal_data(demo_ws):
    case_id = access_case(demo_ws)
    result = export_subject(demo_ws, case_id, JANIS["email"])
    digest = hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.sha256 == digest and result.size == result.path.stat().st_size

    (row,) = ledger_rows(demo_ws, "SELECT export_id, case_id, created_by, sha256, path, size, datasets, status, "
                                  "purged_at FROM exports")
    expected_datasets = len(lookup(demo_ws, JANIS["email"], audit_log=False).records)
    assert row == (result.export_id, case_id, "test-analyst", digest,
                   f"exports/{case_id}/{result.path.name}", result.size, expected_datasets, "created", None)
    assert result.path.parent == demo_ws.root / "exports" / case_id
    assert [p.name for p in result.path.parent.iterdir()] == [result.path.name]  # ONE file

    entry = audit.entries(demo_ws, action="export.create")[-1]
    assert entry.case_id == case_id and entry.details["sha256"] == digest
    assert entry.details["export_id"] == result.export_id
    assert entry.details["total_rows"] == sum(result.datasets.values())
    assert entry.subject_hash == audit.subject_hash(demo_ws, JANIS["email"])
    text = json.dumps(audit.as_dict(entry), ensure_ascii=False)
    customer = sql(demo_ws.root, "SELECT * FROM crm.customers WHERE customer_id = ?", [JANIS["customer_id"]])[0]
    for value in [v for v in customer if isinstance(v, str) and len(v) > 3] + JANIS["account_emails"]:
        assert value not in text, value
    assert audit.verify(demo_ws).ok


def test_the_password_is_in_no_file_of_the_workspace_nor_the_ledger(demo_ws):
    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    pw = result.password
    assert PASSWORD_RE.match(pw)
    assert pw not in repr(result) and pw not in json.dumps(result.to_dict())
    assert "password" not in result.to_dict() and result.to_dict()["password_generated"] is True
    for path, content in all_bytes(demo_ws.root):
        assert pw.encode() not in content, path
        assert pw.encode("utf-16-le") not in content, path
    for e in audit.entries(demo_ws):
        assert pw not in json.dumps(audit.as_dict(e))
    for row in ledger_rows(demo_ws, "SELECT * FROM exports"):
        assert pw not in json.dumps(row, default=str)


def test_mark_delivered(demo_ws):
    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    assert mark_delivered(demo_ws, result.export_id).status == "delivered"
    assert audit.entries(demo_ws, action="export.deliver")[-1].details["export_id"] == result.export_id
    with pytest.raises(ExportError, match="unknown export"):
        mark_delivered(demo_ws, "EXP-nope")


# ---------------------------------------------------------------------------------------------------------------
# Purge.


@pytest.mark.parametrize("text, expected", [("12h", dt.timedelta(hours=12)), ("30d", dt.timedelta(days=30)),
                                            ("2w", dt.timedelta(weeks=2)), (" 7D ", dt.timedelta(days=7))])
def test_parse_age(text, expected):
    assert parse_age(text) == expected


@pytest.mark.parametrize("bad", ["30", "0d", "1x", "-2d", "d30", ""])
def test_parse_age_refuses(bad):
    with pytest.raises(ExportError, match="12h, 30d, 2w"):
        parse_age(bad)


def _age(path: Path, days: float) -> None:
    t = dt.datetime.now().timestamp() - days * 86400
    os.utime(path, (t, t))


def test_purge_removes_old_archives_marks_them_and_keeps_newer_ones(demo_ws):
    case_a, case_b = access_case(demo_ws), access_case(demo_ws)
    old1 = export_subject(demo_ws, case_a, JANIS["email"])
    old2 = export_subject(demo_ws, case_b, ANNA["email"])
    new = export_subject(demo_ws, case_a, JANIS["email"])
    stray = demo_ws.root / "exports" / case_b / "left-behind.zip"
    stray.write_bytes(b"PK")
    _age(old1.path, 31)
    _age(old2.path, 45)
    _age(stray, 40)
    _age(new.path, 29)

    res = CliRunner().invoke(cli, ["export", "purge", "--older-than", "30d", "-w", str(demo_ws.root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert sorted(out["export_ids"]) == sorted([old1.export_id, old2.export_id])
    assert out["unregistered"] == 1 and len(out["removed"]) == 3
    assert not old1.path.exists() and not old2.path.exists() and not stray.exists()
    assert new.path.exists()
    assert not (demo_ws.root / "exports" / case_b).exists()  # the emptied case folder goes too
    status = dict(ledger_rows(demo_ws, "SELECT export_id, status FROM exports"))
    assert status == {old1.export_id: "purged", old2.export_id: "purged", new.export_id: "created"}
    purged_at = dict(ledger_rows(demo_ws, "SELECT export_id, purged_at FROM exports"))
    assert purged_at[new.export_id] is None
    assert abs((purged_at[old1.export_id] - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
               .total_seconds()) < 120
    entry = audit.entries(demo_ws, action="export.purge")[-1]
    assert entry.details["files"] == 3 and sorted(entry.details["export_ids"]) == sorted(out["export_ids"])
    assert audit.verify(demo_ws).ok

    again = purge_exports(demo_ws, "30d")  # idempotent: nothing left that old
    assert again.removed == [] and again.export_ids == []
    _age(new.path, 0.75)  # 18 hours
    assert purge_exports(demo_ws, "1d").removed == []
    assert purge_exports(demo_ws, "12h").export_ids == [new.export_id]


def test_purge_marks_entries_whose_file_is_already_gone(demo_ws):
    gone = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    gone.path.unlink()
    with open_ledger(demo_ws) as con:
        con.execute("UPDATE exports SET created_at = created_at - INTERVAL 40 DAY")
    res = purge_exports(demo_ws, "2w")
    assert res.export_ids == [gone.export_id] and res.missing == 1 and res.removed == []


@pytest.mark.slow
def test_the_register_works_on_a_postgresql_ledger(mini_ws, postgres_dsn):
    dsn = pgserver.create_database(postgres_dsn, "exports")
    (mini_ws.root / "keys").mkdir(exist_ok=True)
    (mini_ws.root / "keys" / "ledger.dsn").write_text(dsn)
    text = (mini_ws.root / "privacyops.yaml").read_text()
    (mini_ws.root / "privacyops.yaml").write_text(text + "\nledger: {kind: postgres, dsn_file: keys/ledger.dsn}\n")
    ws = open_workspace(mini_ws.root)
    case_id = access_case(ws, subject="janis@mini.example")
    first = export_subject(ws, case_id, "janis@mini.example")
    second = export_subject(ws, case_id, "janis@mini.example", password="a long shared secret 42")
    assert not ws.ledger_path.exists()  # everything went to PostgreSQL
    with pgserver.connect(dsn) as con:
        rows = con.execute("SELECT export_id, sha256, size, status FROM exports").fetchall()
    assert sorted(rows) == sorted([(r.export_id, r.sha256, r.size, "created") for r in (first, second)])
    assert mark_delivered(ws, first.export_id).status == "delivered"
    _age(first.path, 10)
    res = purge_exports(ws, "1w")
    assert res.export_ids == [first.export_id]
    got = {e.export_id: e for e in list_exports(ws, case_id)}
    assert got[first.export_id].status == "purged" and got[first.export_id].purged_at is not None
    assert got[second.export_id].status == "created" and second.path.exists()
    assert [e.action for e in audit.entries(ws)][-3:] == ["export.create", "export.deliver", "export.purge"]
    assert audit.verify(ws).ok


# ---------------------------------------------------------------------------------------------------------------
# The CLI.


def test_cli_export_subject_prints_path_sha256_and_the_generated_password_once(demo_ws):
    case_id = access_case(demo_ws)
    res = CliRunner().invoke(cli, ["export", JANIS["email"], "--case", case_id, "-w", str(demo_ws.root)])
    assert res.exit_code == 0, res.output
    (entry,) = list_exports(demo_ws, case_id)
    path = demo_ws.root / entry.path
    assert f"Archive: {path}" in res.output and f"SHA-256: {entry.sha256}" in res.output
    pw = re.search(r"Password \(shown once, stored nowhere\): (\S+)", res.output).group(1)
    assert PASSWORD_RE.match(pw) and res.output.count(pw) == 1
    assert "another channel" in res.output
    assert archive_files(path, pw)["manifest.json"]


def test_cli_export_create_with_a_password_file_and_json(demo_ws, tmp_path):
    case_id = access_case(demo_ws)
    secret = tmp_path / "pw.txt"
    secret.write_text("a long shared secret 42\n")
    res = CliRunner().invoke(cli, ["export", "create", JANIS["email"], "--case", case_id, "--password-file",
                                   str(secret), "--json", "-w", str(demo_ws.root)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert "password" not in out and out["password_generated"] is False
    assert archive_files(Path(out["path"]), "a long shared secret 42")["report.html"]
    gen = CliRunner().invoke(cli, ["export", "--case", case_id, JANIS["email"], "--json", "-w", str(demo_ws.root)])
    assert gen.exit_code == 0, gen.output
    assert PASSWORD_RE.match(json.loads(gen.output)["password"])
    listed = CliRunner().invoke(cli, ["export", "list", "--case", case_id, "--json", "-w", str(demo_ws.root)])
    assert [e["export_id"] for e in json.loads(listed.output)] == [e.export_id for e in list_exports(demo_ws)]


def test_cli_export_password_out_writes_the_generated_password_only_there(demo_ws, tmp_path):
    case_id = access_case(demo_ws)
    target = tmp_path / "keep" / "pw.txt"
    res = CliRunner().invoke(cli, ["export", JANIS["email"], "--case", case_id, "--password-out", str(target),
                                   "--json", "-w", str(demo_ws.root)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert "password" not in out and out["password_file"] == str(target) and out["password_generated"] is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    pw = target.read_text().strip()
    assert PASSWORD_RE.match(pw) and pw not in res.output
    assert archive_files(Path(out["path"]), pw)["data.json"]
    both = CliRunner().invoke(cli, ["export", JANIS["email"], "--case", case_id, "--password-out", str(target),
                                    "--password-file", str(target), "-w", str(demo_ws.root)])
    assert both.exit_code == 2 and "one of the two" in both.output
    assert len(list_exports(demo_ws, case_id)) == 1


@pytest.mark.parametrize("args, message", [
    ([], "give its case"),
    (["--case", "DSR-1999-0042"], "unknown case"),
])
def test_cli_export_refusals_are_clear(demo_ws, args, message):
    access_case(demo_ws)
    res = CliRunner().invoke(cli, ["export", JANIS["email"], *args, "-w", str(demo_ws.root)])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
    assert not (demo_ws.root / "exports").exists()


# ---------------------------------------------------------------------------------------------------------------
# Chinook: a public schema privacyops knows nothing about.

BUILD_PY = REPO / "data" / "chinook" / "build.py"


def _chinook_build():
    spec = importlib.util.spec_from_file_location("chinook_build_export", BUILD_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chinook_customer_invoices_are_exported(tmp_path, monkeypatch):
    build = _chinook_build()
    sqlite_file = build.sqlite_path_default()
    assert sqlite_file.is_file(), f"Chinook SQLite file not found at {sqlite_file}"
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    build.build(tmp_path / "chinook", sqlite_file)
    ws = open_workspace(tmp_path / "chinook")
    email = "luisg@embraer.com.br"

    src = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)
    try:
        (cid,), = src.execute("SELECT CustomerId FROM Customer WHERE lower(Email) = ?", [email]).fetchall()
        invoices = src.execute("SELECT InvoiceId, InvoiceDate, Total FROM Invoice WHERE CustomerId = ?",
                               [cid]).fetchall()
        lines = src.execute("SELECT count(*) FROM InvoiceLine JOIN Invoice USING (InvoiceId) WHERE CustomerId = ?",
                            [cid]).fetchone()[0]
    finally:
        src.close()
    # Inside retention: 6 years from the end of the invoice's financial year (the map's tax_records rule).
    today = dt.date.today()
    assert invoices and all(dt.date(int(d[:4]) + 6, 12, 31) >= today for _i, d, _t in invoices)

    result = export_subject(ws, access_case(ws), email)
    data = data_json(result.path, result.password)
    got = data["datasets"]["Invoice"]
    assert got["count"] == len(invoices)
    assert sorted(r["InvoiceId"] for r in got["records"]) == sorted(i for i, _d, _t in invoices)
    totals = {r["InvoiceId"]: r["Total"] for r in got["records"]}
    assert all(totals[i] == f"{t:.2f}" for i, _d, t in invoices)  # exact decimals, as text
    assert data["datasets"]["InvoiceLine"]["count"] == lines
    assert set(data["datasets"]) == {"Customer", "Invoice", "InvoiceLine"}  # no employee, no catalogue


# ---------------------------------------------------------------------------------------------------------------
# Rows with several people in them (tests/support/club.py): the copy holds the subject's fields only.


def test_a_hosts_copy_leaves_out_the_guests_fields_and_says_so(tmp_path, monkeypatch):
    from privacyops.lookup import WITHHELD
    from tests.support.club import build_club, club_sql

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    ws = open_workspace(build_club(tmp_path / "club"))
    case_id = access_case(ws)
    result = export_subject(ws, case_id, "ilze@club.example")
    files = archive_files(result.path, result.password)
    text = "".join(v.decode("utf-8", "replace") for v in files.values())
    guests = {x for row in club_sql(ws.root, "SELECT guest_email, guest_name FROM club.visits WHERE host_id = 1")
              for x in row}
    others_wrote = {b for (b,) in club_sql(ws.root, "SELECT body FROM club.messages WHERE recipient_id = 1 "
                                                     "AND sender_id <> 1")}
    assert guests and others_wrote and not [v for v in guests | others_wrote if v in text]
    visits = json.loads(files["data.json"])["datasets"]["club.visits"]
    n_hosted = len(club_sql(ws.root, "SELECT 1 FROM club.visits WHERE host_id = 1"))
    assert [r["guest_email"] for r in visits["records"]] == [WITHHELD] * n_hosted
    assert visits["other_peoples_fields"] == ["guest_email", "guest_name"]
    dp = result.plan.datasets["club.messages"]
    assert dp.others_rows == 2 and set(dp.others_fields) == {"recipient_id", "sender_id", "body"}
    assert "other people's fields left out" in "\n".join(result.plan.lines())


def test_the_letter_says_other_peoples_part_is_left_out_and_lists_only_the_subjects_categories(tmp_path,
                                                                                               monkeypatch):
    from tests.support.club import build_club

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    ws = open_workspace(build_club(tmp_path / "club"))
    result = export_subject(ws, access_case(ws), "outsider@mail.example")  # a guest: the hosts' fields are theirs
    letter = archive_files(result.path, result.password)["report.html"].decode()
    n = len({v for (v,) in sql_club(ws, "SELECT visit_id FROM club.visits WHERE guest_email = 'outsider@mail.example'")})
    assert f"{n} of your records also hold other people" in letter and "[another person" in letter
    data = json.loads(archive_files(result.path, result.password)["data.json"])
    fields = {f["name"]: f["categories"] for f in data["datasets"]["club.visits"]["fields"]}
    assert fields["host_note"] == [] and fields["host_id"] == []  # the hosts' fields are not said to be about them
    assert fields["guest_email"] == ["user.contact.email"] and fields["guest_name"] == ["user.name"]


def sql_club(ws, query):
    from tests.support.club import club_sql

    return club_sql(ws.root, query)
