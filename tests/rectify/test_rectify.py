"""Rectification (Art. 16): plan, propagate to every place holding the same value among the person's own records,
apply in one transaction per source, refuse stale plans, verify, audit without values. Expectations come from direct
SQL on the stores, never from the code under test."""

from __future__ import annotations

import glob
import json
import shutil

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main as cli
from privacyops.demo import STORIES
from privacyops.ledger import audit, open_case
from privacyops.rectify import (
    RectificationError,
    apply_rectification,
    choices,
    find_subject,
    parse_assignments,
    plan_rectification,
)
from privacyops.workspace import open_workspace
from privacyops.workspace.keys import keyed_hash, workspace_secret

MAIN_TABLES = ("people.person", "shop.orders", "shop.items", "mail.subscribers")
JANIS = STORIES["two_emails"]


# -- helpers: the stores, read directly ---------------------------------------------------------------------------


def db(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def db_write(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    try:
        con.execute(sql, list(params))
    finally:
        con.close()


def events(ws):
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT eid, oid, ip FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}') "
                           "ORDER BY eid").fetchall()
    finally:
        con.close()


def snapshot(ws):
    """Every row of every table of both sources."""
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        out = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in MAIN_TABLES}
    finally:
        con.close()
    out["shop.order_events"] = events(ws)
    return out


def rect_case(ws, kind="rectification"):
    return open_case(ws, kind, "2025-01-10").case_id


def rectify_entries(ws):
    return audit.entries(ws, action="rectify")


# -- the mini workspace ---------------------------------------------------------------------------------------------


def test_email_change_reaches_every_place_of_his_only(mini_ws):
    # A second copy of person 1's e-mail on the newsletter list, written differently (case, spaces).
    db_write(mini_ws, "INSERT INTO mail.subscribers VALUES (4, ' JANIS@mini.example')")
    old = "janis@mini.example"
    # Who holds that e-mail (normalised), straight from SQL: only person 1 among the people ...
    holders = db(mini_ws, "SELECT pid FROM people.person WHERE lower(trim(mail)) = ? OR lower(trim(mail2)) = ?",
                 [old, old])
    assert holders == [(1,)]
    # ... so every place among his records holding it: his person row and the newsletter rows with it.
    expected = {("people.person", (pid,), col) for col in ("mail", "mail2")
                for (pid,) in db(mini_ws, f"SELECT pid FROM people.person WHERE pid = 1 AND lower(trim({col})) = ?",
                                 [old])}
    expected |= {("mail.subscribers", (sid,), "address")
                 for (sid,) in db(mini_ws, "SELECT sid FROM mail.subscribers WHERE lower(trim(address)) = ?", [old])}
    assert expected == {("people.person", (1,), "mail"), ("mail.subscribers", (4,), "address")}

    before = snapshot(mini_ws)
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.mail": "janis.b@mini.example"})

    assert {(c.dataset, c.key, c.field) for c in plan.changes} == expected
    by_place = {(c.dataset, c.key[0]): c for c in plan.changes}
    assert by_place[("people.person", 1)].reason == "requested"
    assert by_place[("people.person", 1)].current == "Janis@Mini.example "
    assert by_place[("mail.subscribers", 4)].reason == "same value also stored here"
    assert by_place[("mail.subscribers", 4)].current == " JANIS@mini.example"
    assert all(c.proposed == "janis.b@mini.example" for c in plan.changes)
    assert snapshot(mini_ws) == before  # planning writes nothing

    result = apply_rectification(mini_ws, plan)
    assert result.verified and result.rows == 2
    assert db(mini_ws, "SELECT pid, mail FROM people.person ORDER BY pid") == [
        (1, "janis.b@mini.example"), (2, "janis2@mini.example"), (3, "home@mini.example"), (4, "home@mini.example")]
    assert db(mini_ws, "SELECT sid, address FROM mail.subscribers ORDER BY sid") == [
        (1, "jb@other.example"), (2, "someone@else.example"), (3, "home@mini.example"), (4, "janis.b@mini.example")]
    after = snapshot(mini_ws)
    for table in ("shop.orders", "shop.items", "shop.order_events"):
        assert after[table] == before[table]
    # Person 2's order note mentions the old address: another person's free text, never changed.
    assert db(mini_ws, "SELECT note FROM shop.orders WHERE oid = 102") == [("gift for janis@mini.example",)]
    # Every other column of the person rows is as before.
    assert ([r[:2] + r[3:] for r in after["people.person"]] == [r[:2] + r[3:] for r in before["people.person"]])


def test_same_value_in_a_second_column_and_free_text_is_reported(mini_ws):
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.tel": "+371 2999 0000"})
    assert [(c.dataset, c.key, c.field) for c in plan.changes] == [("people.person", (1,), "tel")]
    # His own order note names the old number: shown, not changed.
    note_rows = db(mini_ws, "SELECT oid FROM shop.orders WHERE pid = 1 AND regexp_replace(note, '[^0-9]', '', 'g') "
                            "LIKE '%20001111%'")
    assert [(u.dataset, u.key, u.field) for u in plan.free_text] == [("shop.orders", r, "note") for r in note_rows]
    assert "free text" in plan.render()


def test_rows_under_a_shared_identifier_are_never_changed(mini_ws):
    # home@ is person 3's and person 4's: the newsletter row holding it cannot be told apart.
    assert db(mini_ws, "SELECT pid FROM people.person WHERE mail = 'home@mini.example' ORDER BY pid") == [(3,), (4,)]
    before = snapshot(mini_ws)
    case = rect_case(mini_ws)
    with pytest.raises(RectificationError, match="2 people match"):
        plan_rectification(mini_ws, case, "home@mini.example", changes={"people.person.mail": "ieva@mini.example"})
    plan = plan_rectification(mini_ws, case, "home@mini.example", pick="people.person:3",
                              changes={"people.person.mail": "ieva@mini.example"})
    assert [(c.dataset, c.key) for c in plan.changes] == [("people.person", (3,))]
    assert [(u.dataset, u.key) for u in plan.untouched] == [("mail.subscribers", (3,))]
    assert "shared with another person" in plan.untouched[0].reason
    with pytest.raises(RectificationError, match="shared with another person"):
        plan_rectification(mini_ws, case, None, pick="people.person:3",
                           changes={"mail.subscribers.address": "ieva@mini.example"})

    apply_rectification(mini_ws, plan)
    after = snapshot(mini_ws)
    assert db(mini_ws, "SELECT pid, mail FROM people.person WHERE pid IN (3, 4) ORDER BY pid") == [
        (3, "ieva@mini.example"), (4, "home@mini.example")]
    assert after["mail.subscribers"] == before["mail.subscribers"]


def test_a_plan_across_a_database_and_parquet_files(mini_ws):
    before = snapshot(mini_ws)
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={
        "people.person.full_name": "Jānis Bērziņš-Ozols", "shop.order_events.ip[1000]": "10.9.9.9"})
    assert plan.sources == ["main", "files"]
    result = apply_rectification(mini_ws, plan)
    assert set(result.sources) == {"main", "files"}
    assert events(mini_ws) == [(1000, 100, "10.9.9.9")] + before["shop.order_events"][1:]
    assert db(mini_ws, "SELECT pid, full_name FROM people.person ORDER BY pid") == [
        (1, "Jānis Bērziņš-Ozols"), (2, "Janis Berzins"), (3, "Ieva Kalna"), (4, "Oskars Kalns")]
    assert glob.glob(str(mini_ws.root / "files" / "events" / ".*tmp")) == []


def test_typed_columns_and_row_selectors(mini_ws):
    case = rect_case(mini_ws)
    with pytest.raises(RectificationError, match=r"different values.*shop.orders.ordered_at\[KEY\]"):
        plan_rectification(mini_ws, case, "janis@mini.example", changes={"shop.orders.ordered_at": "2020-03-02"})
    plan = plan_rectification(mini_ws, case, "janis@mini.example",
                              changes={"shop.orders.ordered_at[100]": "2020-03-02"})
    apply_rectification(mini_ws, plan)
    rows = db(mini_ws, "SELECT oid, CAST(ordered_at AS VARCHAR) FROM shop.orders ORDER BY oid")
    assert rows == [(100, "2020-03-02"), (101, "2025-01-05"), (102, "2024-02-02"), (103, "2024-05-05"),
                    (104, "2024-06-06")]


def test_without_propagation_only_the_named_field_changes(mini_ws):
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.mail2": "jb@new.example"},
                              propagate=False)
    assert [(c.dataset, c.key, c.field) for c in plan.changes] == [("people.person", (1,), "mail2")]
    assert [(u.dataset, u.key, u.reason) for u in plan.untouched] == [
        ("mail.subscribers", (1,), "propagation is off")]
    apply_rectification(mini_ws, plan)
    assert db(mini_ws, "SELECT mail2 FROM people.person WHERE pid = 1") == [("jb@new.example",)]
    assert db(mini_ws, "SELECT address FROM mail.subscribers WHERE sid = 1") == [("jb@other.example",)]


@pytest.fixture()
def mini_plus(mini_ws):
    """The mini workspace with an INTEGER personal field (people.person.birth_year)."""
    db_write(mini_ws, "ALTER TABLE people.person ADD COLUMN birth_year INTEGER")
    db_write(mini_ws, "UPDATE people.person SET birth_year = 1980 + pid")
    path = mini_ws.root / "privacyops.yaml"
    path.write_text(path.read_text().replace("      member_no: user.unique_id\n",
                                             "      member_no: user.unique_id\n"
                                             "      birth_year: user.demographic.date_of_birth\n", 1))
    return open_workspace(mini_ws.root)


@pytest.mark.parametrize("target, value, message", [
    ("people.person.birth_year", "nineteen-eighty", r"INTEGER: give a whole number, e\.g\. 42"),
    ("people.person.birth_year", "3000000000", r"in its range"),
    ("shop.orders.ordered_at[100]", "yesterday", r"DATE: give a date written YYYY-MM-DD, e\.g\. 2024-05-31"),
    ("people.person.mial", "x", r"unknown field 'mial' in people.person \(did you mean mail\?\).*full_name"),
    ("people.persons.mail", "x@y.example", r"unknown dataset 'people.persons'.*people.person"),
    ("people.person.pid", "9", r"primary key of people.person: changing keys would break links"),
    ("shop.orders.pid[100]", "2", r"reference to people.person.pid: changing keys would break links"),
    ("people.person.mail", "not-an-email", r"'not-an-email' is not a valid e-mail address"),
    ("people.person.tel", "call me", r"not a phone number"),
    ("shop.items.title", "Pencil", r"no rows in shop.items \(shared reference data"),
    ("people.person.full_name", "Jānis Bērziņš", r"nothing to change"),
    ("shop.orders.note[999]", "x", r"has no row 999 in shop.orders"),
])
def test_bad_requests_are_refused_and_change_nothing(mini_plus, target, value, message):
    ws = mini_plus
    case = rect_case(ws)
    before = snapshot(ws)
    with pytest.raises(RectificationError, match=message):
        plan_rectification(ws, case, "janis@mini.example", changes={target: value})
    assert snapshot(ws) == before
    assert rectify_entries(ws) == []


def test_integer_fields_are_written_as_integers(mini_plus):
    case = rect_case(mini_plus)
    plan = plan_rectification(mini_plus, case, "janis@mini.example", changes={"people.person.birth_year": " 1979 "})
    assert plan.changes[0].proposed == 1979
    apply_rectification(mini_plus, plan)
    assert db(mini_plus, "SELECT pid, birth_year FROM people.person ORDER BY pid") == [
        (1, 1979), (2, 1982), (3, 1983), (4, 1984)]


@pytest.mark.parametrize("case_kind, identifier, message", [
    ("erasure", "janis@mini.example", r"is an erasure case; rectify under a rectification case"),
    (None, "janis@mini.example", r"unknown case 'DSR-1999-0001'"),
    ("rectification", "Janis Berzins", r"2 people match 'Janis Berzins': people.person:\d .*--pick"),
    ("rectification", "nobody@nowhere.example", r"no records found for 'nobody@nowhere.example'"),
])
def test_bad_cases_and_subjects_are_refused(mini_ws, case_kind, identifier, message):
    case = rect_case(mini_ws, case_kind) if case_kind else "DSR-1999-0001"
    before = snapshot(mini_ws)
    with pytest.raises(Exception, match=message) as info:
        plan_rectification(mini_ws, case, identifier, changes={"people.person.full_name": "X"})
    assert getattr(info.value, "exit_code", None) == 2
    assert snapshot(mini_ws) == before


def test_a_closed_or_missing_case_is_refused(mini_ws):
    with pytest.raises(RectificationError, match="belongs to a case"):
        plan_rectification(mini_ws, "", "janis@mini.example", changes={"people.person.full_name": "X"})
    with pytest.raises(RectificationError, match="set twice|given twice"):
        parse_assignments(["people.person.mail=a@b.example", "people.person.mail=c@d.example"])
    with pytest.raises(RectificationError, match="dataset.field=value"):
        parse_assignments(["people.person.mail"])


def test_a_stale_plan_is_refused_and_changes_nothing(mini_ws):
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.mail2": "jb@new.example"})
    assert len(plan.changes) == 2  # the person row and the newsletter row
    db_write(mini_ws, "UPDATE mail.subscribers SET address = 'jb@changed.example' WHERE sid = 1")
    before = snapshot(mini_ws)
    with pytest.raises(RectificationError, match="changed since planning; plan again"):
        apply_rectification(mini_ws, plan)
    assert snapshot(mini_ws) == before
    assert rectify_entries(mini_ws) == []


def test_a_plan_is_applied_once(mini_ws):
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.full_name": "J. B."})
    apply_rectification(mini_ws, plan)
    with pytest.raises(RectificationError, match="already applied"):
        apply_rectification(mini_ws, plan)
    assert len(rectify_entries(mini_ws)) == 1


def test_a_failure_after_the_first_update_leaves_the_source_untouched(mini_ws, monkeypatch):
    from privacyops.sources import DuckDBConnector

    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.mail2": "jb@new.example"})
    assert {c.dataset for c in plan.changes} == {"people.person", "mail.subscribers"}  # two updates in "main"
    calls = []
    original = DuckDBConnector.update_rows

    def fail_after_first(self, dataset, key, changes):
        original(self, dataset, key, changes)
        calls.append(dataset.name)
        raise RuntimeError("connection lost")

    monkeypatch.setattr(DuckDBConnector, "update_rows", fail_after_first)
    before = snapshot(mini_ws)
    with pytest.raises(RectificationError, match="nothing was changed.*connection lost"):
        apply_rectification(mini_ws, plan)
    assert len(calls) == 1  # the first update did run
    assert snapshot(mini_ws) == before
    assert rectify_entries(mini_ws) == []


def test_a_failed_file_rewrite_rolls_the_database_back_too(mini_ws, monkeypatch):
    import privacyops.sources.duckdb as duck

    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={
        "people.person.full_name": "Jānis B.", "shop.order_events.ip[1001]": "10.9.9.9"})
    before = snapshot(mini_ws)
    monkeypatch.setattr(duck, "_fsync", lambda path: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(RectificationError, match="nothing was changed.*disk full"):
        apply_rectification(mini_ws, plan)
    assert snapshot(mini_ws) == before
    assert glob.glob(str(mini_ws.root / "files" / "events" / ".*tmp")) == []


def test_the_audit_entry_holds_keyed_hashes_and_never_the_values(mini_ws):
    old, new = "jb@other.example", "jb.fixed@example.org"
    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.mail2": new})
    apply_rectification(mini_ws, plan)

    entry = rectify_entries(mini_ws)[-1]
    assert entry.case_id == case
    d = entry.details
    assert d["datasets"] == {"people.person": {"mail2": 1}, "mail.subscribers": {"address": 1}}
    assert d["verified"] is True and d["rows"] == 2 and d["propagated"] == 1
    secret = workspace_secret(mini_ws.keys_dir)
    old_h, new_h = keyed_hash(secret, old, "rectify"), keyed_hash(secret, new, "rectify")
    assert {(v["dataset"], v["field"], v["old_hash"], v["new_hash"]) for v in d["values"]} == {
        ("people.person", "mail2", old_h, new_h), ("mail.subscribers", "address", old_h, new_h)}
    text = json.dumps(audit.as_dict(entry), ensure_ascii=False)
    assert old not in text and new not in text and "janis@mini.example" not in text

    raw = b"".join(open(f, "rb").read() for f in glob.glob(str(mini_ws.root / "ledger.duckdb*")))
    raw += (mini_ws.root / "audit.head").read_bytes()
    assert new_h.encode() in raw  # the grep can see what the details hold ...
    for value in (old, new, "janis@mini.example", "Janis@Mini.example"):
        assert value.encode() not in raw  # ... and no value is among them
    assert audit.verify(mini_ws).ok


def test_choices_offer_each_changeable_value_once(mini_ws):
    records = find_subject(mini_ws, "janis@mini.example")
    got = {c.target: c for c in choices(mini_ws, records)}
    assert got["people.person.mail"].current == "Janis@Mini.example "
    assert "people.person.pid" not in got and not any(t.startswith("shop.orders.pid") for t in got)
    assert {t for t in got if t.startswith("shop.orders.ordered_at")} == {"shop.orders.ordered_at[100]",
                                                                          "shop.orders.ordered_at[101]"}
    assert not any(t.startswith("shop.items") for t in got)  # context, not his records


# -- the demo company -------------------------------------------------------------------------------------------------


@pytest.fixture()
def demo_copy(small_demo, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(shutil.copytree(small_demo, tmp_path / "demo"))


def demo_db(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_demo_janis_email_changes_crm_his_account_with_it_and_his_sends(demo_copy):
    ws = demo_copy
    cid, old, new = JANIS["customer_id"], JANIS["email"], "janis.berzins@jauns.example.lv"
    tables = {"crm.customers": "customer_id", "app.user_accounts": "account_id", "marketing.email_sends": "send_id"}
    # Where his old e-mail is stored, from SQL: his CRM row, the one account holding it, the sends to it.
    expected = {("crm.customers", (cid,), "email")}
    expected |= {("app.user_accounts", (k,), "email") for (k,) in demo_db(
        ws, "SELECT account_id FROM app.user_accounts WHERE customer_id = ? AND lower(trim(email)) = ?", [cid, old])}
    expected |= {("marketing.email_sends", (k,), "email") for (k,) in demo_db(
        ws, "SELECT send_id FROM marketing.email_sends WHERE customer_id = ? AND lower(trim(email)) = ?", [cid, old])}
    expected |= {("marketing.newsletter_signups", (k,), "email") for (k,) in demo_db(
        ws, "SELECT signup_id FROM marketing.newsletter_signups WHERE lower(trim(email)) = ?", [old])}
    assert ("app.user_accounts", (1,), "email") in expected and ("app.user_accounts", (2,), "email") not in expected
    assert len([e for e in expected if e[0] == "marketing.email_sends"]) >= 1
    before = {t: demo_db(ws, f"SELECT * FROM {t} ORDER BY {k}") for t, k in tables.items()}

    case = rect_case(ws)
    plan = plan_rectification(ws, case, old, changes={"crm.customers.email": new})
    assert {(c.dataset, c.key, c.field) for c in plan.changes} == expected
    assert {c.dataset: c.reason for c in plan.changes}["app.user_accounts"] == "same value also stored here"
    result = apply_rectification(ws, plan)
    assert result.verified

    for t, k in tables.items():  # exactly the expected cells changed, nothing else in these tables
        after = demo_db(ws, f"SELECT * FROM {t} ORDER BY {k}")
        cols = [r[0] for r in demo_db(ws, f"DESCRIBE {t}")]
        changed = {(t, (a[0],), cols[i]) for a, b in zip(after, before[t]) for i in range(len(cols)) if a[i] != b[i]}
        assert changed == {e for e in expected if e[0] == t}
        assert all(a[cols.index("email")] == new for a in after if (t, (a[0],), "email") in expected)
    assert demo_db(ws, "SELECT email FROM app.user_accounts WHERE account_id = 2") == [(JANIS["account_emails"][1],)]
    entry = rectify_entries(ws)[-1]
    assert entry.case_id == case and entry.details["datasets"]["crm.customers"] == {"email": 1}
    # Found again by the new address; the old one finds nobody.
    assert find_subject(ws, new).subject.ref == f"crm.customers:{cid}"


def test_demo_type_errors_name_the_live_type(demo_copy):
    case = rect_case(demo_copy)
    with pytest.raises(RectificationError, match=r"DECIMAL\(12,2\).*at most 2 decimal"):
        plan_rectification(demo_copy, case, JANIS["email"], changes={"billing.invoices.amount_total[1]": "10.123"})
    with pytest.raises(RectificationError, match=r"BOOLEAN: give true or false"):
        plan_rectification(demo_copy, case, JANIS["email"], changes={"app.login_events.success": "maybe"})


# -- the CLI ------------------------------------------------------------------------------------------------------------


def run(ws, *args, **kwargs):
    return CliRunner().invoke(cli, ["rectify", *args, "--workspace", str(ws.root)], **kwargs)


def test_cli_dry_run_shows_the_plan_and_changes_nothing(mini_ws):
    case = rect_case(mini_ws)
    before = snapshot(mini_ws)
    res = run(mini_ws, "janis@mini.example", "--case", case, "--set", "people.person.mail2=jb@new.example",
              "--dry-run")
    assert res.exit_code == 0, res.output
    assert '"jb@other.example" -> "jb@new.example"' in res.output
    assert "people.person.mail2[1]" in res.output and "mail.subscribers.address[1]" in res.output
    assert "same value also stored here" in res.output and "Dry run: nothing changed." in res.output
    assert snapshot(mini_ws) == before

    res = run(mini_ws, "janis@mini.example", "--case", case, "--set", "people.person.mail2=jb@new.example",
              "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["applied"] is False
    assert {(c["dataset"], c["field"], tuple(c["key"])) for c in data["plan"]["changes"]} == {
        ("people.person", "mail2", (1,)), ("mail.subscribers", "address", (1,))}
    assert snapshot(mini_ws) == before


def test_cli_yes_applies(mini_ws):
    case = rect_case(mini_ws)
    res = run(mini_ws, "janis@mini.example", "--case", case, "--set", "people.person.mail2=jb@new.example",
              "--set", "people.person.full_name=Jānis Bērziņš-Ozols", "--yes")
    assert res.exit_code == 0, res.output
    assert "Applied and verified" in res.output
    assert db(mini_ws, "SELECT full_name, mail2 FROM people.person WHERE pid = 1") == [
        ("Jānis Bērziņš-Ozols", "jb@new.example")]
    assert db(mini_ws, "SELECT address FROM mail.subscribers WHERE sid = 1") == [("jb@new.example",)]


def test_cli_asks_on_a_terminal(mini_ws, monkeypatch):
    import privacyops.cli.rectify_cmds as cli_module

    case = rect_case(mini_ws)
    monkeypatch.setattr(cli_module, "_stdin_is_tty", lambda: True)
    before = snapshot(mini_ws)
    res = run(mini_ws, "janis@mini.example", "--case", case, "--set", "people.person.full_name=JB", input="n\n")
    assert res.exit_code == 1 and "Not applied." in res.output
    assert snapshot(mini_ws) == before
    res = run(mini_ws, "janis@mini.example", "--case", case, "--set", "people.person.full_name=JB", input="y\n")
    assert res.exit_code == 0, res.output
    assert db(mini_ws, "SELECT full_name FROM people.person WHERE pid = 1") == [("JB",)]


@pytest.mark.parametrize("args, message", [
    (["--set", "people.person.pid=7", "--yes"], "changing keys would break links"),
    (["--set", "people.person.mail=nope", "--yes"], "not a valid e-mail address"),
    (["--set", "people.person.full_name", "--yes"], "dataset.field=value"),
    (["--set", "people.person.full_name=JB"], "not applied: add --yes"),
    (["--set", "shop.orders.ordered_at[100]=soon", "--yes"], "DATE: give a date"),
])
def test_cli_errors_exit_2_without_a_traceback(mini_ws, args, message):
    case = rect_case(mini_ws)
    before = snapshot(mini_ws)
    res = run(mini_ws, "janis@mini.example", "--case", case, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    assert snapshot(mini_ws) == before


def test_cli_wrong_case_and_unknown_case(mini_ws):
    erasure = rect_case(mini_ws, "erasure")
    for case, message in ((erasure, "erasure case"), ("DSR-1999-0009", "unknown case")):
        res = run(mini_ws, "janis@mini.example", "--case", case, "--set", "people.person.full_name=JB", "--yes")
        assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_what_is_read_back_is_verified(mini_ws, monkeypatch):
    from privacyops.sources import DuckDBConnector

    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={"people.person.full_name": "Janis B"})
    original = DuckDBConnector.update_rows

    def writes_something_else(self, dataset, key, changes):  # a store that silently alters what it is given
        return original(self, dataset, key, [(k, {c: v.upper() for c, v in cols.items()}) for k, cols in changes])

    monkeypatch.setattr(DuckDBConnector, "update_rows", writes_something_else)
    with pytest.raises(RectificationError, match=r"reading back found 1 place\(s\).*people.person.full_name\[1\]"):
        apply_rectification(mini_ws, plan)
    assert db(mini_ws, "SELECT full_name FROM people.person WHERE pid = 1") == [("JANIS B",)]
    entry = rectify_entries(mini_ws)[-1]  # what was written is on record, marked unverified
    assert entry.details["status"] == "unverified" and entry.details["verified"] is False


def test_a_commit_failing_after_another_source_committed_is_reported_and_audited(mini_ws, monkeypatch):
    from privacyops.sources import DuckDBConnector

    case = rect_case(mini_ws)
    plan = plan_rectification(mini_ws, case, "janis@mini.example", changes={
        "people.person.full_name": "Jānis B.", "shop.order_events.ip[1001]": "10.9.9.9"})
    before = snapshot(mini_ws)

    def commit(self):
        raise RuntimeError("server went away")

    monkeypatch.setattr(DuckDBConnector, "commit", commit)  # the Parquet connector commits by its own rewrite
    with pytest.raises(RectificationError, match=r"source\(s\) files were changed but main failed.*server went away"):
        apply_rectification(mini_ws, plan)
    after = snapshot(mini_ws)
    assert after["people.person"] == before["people.person"]  # the database rolled back
    assert after["shop.order_events"] == [(1000, 100, "10.0.0.1"), (1001, 101, "10.9.9.9"), (1002, 102, "10.0.0.3"),
                                          (1003, 104, "10.0.0.4")]  # the files were rewritten
    entry = rectify_entries(mini_ws)[-1]
    assert entry.details["status"] == "partial" and entry.details["datasets"] == {"shop.order_events": {"ip": 1}}
    assert entry.details["failed_sources"] == ["main"]
