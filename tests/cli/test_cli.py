"""The command line (click's CliRunner on `privacyops.cli.main`): exit codes, messages, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.ledger import audit
from tests.support.mini import MINI_MAP

ACTOR = "cli-analyst"


@pytest.fixture()
def run(mini_ws):
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": ACTOR, "PRIVACYOPS_WORKSPACE": None})

    def invoke(*args: str):
        return runner.invoke(main, [*args, "-w", str(mini_ws.root)])

    return invoke


def line_no(needle: str, text: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def test_check_ok(run):
    res = run("check")
    assert res.exit_code == 0, res.output
    assert "5 datasets in 2 sources, 2 purposes, 1 retention rules — valid." in res.output
    assert res.output.rstrip().endswith("OK")
    assert "warning: people.person: personal data with no retention rule" in res.output


def test_check_json_ok(run):
    res = run("check", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] is True
    assert data["rows"]["shop.orders"] == 5


def test_check_broken_map_exits_2_with_file_line_and_path(run, mini_ws):
    text = MINI_MAP.replace("kind: parquet", "kind: parket")
    map_file = mini_ws.root / "privacyops.yaml"
    map_file.write_text(text)
    res = run("check")
    assert res.exit_code == 2
    assert f"{map_file}:{line_no('kind: parket', text)}: sources.files.kind: unknown source kind 'parket'" \
        in res.output
    assert "did you mean 'parquet'" in res.output
    assert "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit)


def test_check_broken_map_json(run, mini_ws):
    text = MINI_MAP.replace("location: DE", "location: Germany")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    res = run("check", "--json")
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data["ok"] is False
    (problem,) = data["problems"]
    assert f":{line_no('location: Germany', text)}: sources.files.location:" in problem


def test_check_live_problem_exits_2(run, mini_ws):
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    con.execute("ALTER TABLE shop.orders DROP COLUMN note")
    con.close()
    res = run("check")
    assert res.exit_code == 2
    assert "problem: " in res.output
    assert f":{line_no('fields: {note:', MINI_MAP)}: datasets.shop.orders.fields.note: column 'note'" in res.output
    assert "1 problem(s) between the map and the data." in res.output
    assert "Traceback" not in res.output


def test_missing_workspace_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(main, ["check", "-w", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "does not exist" in res.output
    assert "Traceback" not in res.output


def test_lookup_json_found(run):
    res = run("lookup", "janis@mini.example", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "found"
    assert data["kind"] == "email"
    assert data["subject"]["ref"] == "people.person:1"
    assert set(data["records"]) == {"people.person", "shop.orders", "shop.order_events", "mail.subscribers"}
    assert [r["oid"] for r in data["records"]["shop.orders"]["rows"]] == [100, 101]
    assert sorted(r["eid"] for r in data["records"]["shop.order_events"]["rows"]) == [1000, 1001]
    assert [r["address"] for r in data["records"]["mail.subscribers"]["rows"]] == ["jb@other.example"]
    assert set(data["context"]) == {"shop.items"}
    assert [(m["dataset"], m["key"]) for m in data["mentions"]] == [("shop.orders", [102])]
    assert data["summary"]["total_rows"] == 6


def test_lookup_records_an_audit_entry_with_the_actor(run, mini_ws):
    res = run("lookup", "janis@mini.example", "--json")
    assert res.exit_code == 0, res.output
    (entry,) = audit.entries(mini_ws)
    assert (entry.action, entry.actor) == ("lookup", ACTOR)


def test_lookup_human_output(run):
    res = run("lookup", "janis@mini.example")
    assert res.exit_code == 0, res.output
    assert "Subject: Jānis Bērziņš" in res.output
    assert "[people.person:1]" in res.output
    assert "6 record(s) in 4 dataset(s)" in res.output


def test_lookup_ambiguous_lists_candidates(run):
    res = run("lookup", "home@mini.example")
    assert res.exit_code == 0, res.output
    assert "2 people match 'home@mini.example'" in res.output
    assert "--pick" in res.output
    assert "people.person:3" in res.output and "Ieva Kalna" in res.output
    assert "people.person:4" in res.output and "Oskars Kalns" in res.output


def test_lookup_ambiguous_json(run):
    res = run("lookup", "home@mini.example", "--json")
    data = json.loads(res.stdout)
    assert data["status"] == "ambiguous"
    assert [c["ref"] for c in data["candidates"]] == ["people.person:3", "people.person:4"]
    assert data["records"] == {}


@pytest.mark.parametrize("pick, name, oids", [("people.person:3", "Ieva Kalna", [103]),
                                               ("people.person:4", "Oskars Kalns", [104])])
def test_lookup_pick_picks(run, pick, name, oids):
    res = run("lookup", "home@mini.example", "--pick", pick, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "found"
    assert data["subject"]["ref"] == pick
    assert [r["full_name"] for r in data["records"]["people.person"]["rows"]] == [name]
    assert [r["oid"] for r in data["records"]["shop.orders"]["rows"]] == oids


def test_lookup_bad_pick_is_a_clear_error(run):
    res = run("lookup", "home@mini.example", "--pick", "people.person:99")
    assert res.exit_code == 2
    assert "no such row in people.person" in res.output
    assert "Traceback" not in res.output


def test_lookup_without_identifier_exits_non_zero_with_message(run):
    res = run("lookup")
    assert res.exit_code == 2
    assert "give an identifier to look up" in res.output
    assert "Traceback" not in res.output


def test_lookup_unknown_case_exits_2(run, mini_ws):
    res = run("lookup", "janis@mini.example", "--case", "DSR-2026-0042")
    assert res.exit_code == 2
    assert "unknown case 'DSR-2026-0042'" in res.output
    assert audit.entries(mini_ws) == []


def test_audit_verify_ok_then_tampered_exits_5_naming_the_entry(run, mini_ws):
    assert run("case", "open", "--type", "access", "--received", "2026-01-31").exit_code == 0
    assert run("lookup", "janis@mini.example", "--json").exit_code == 0
    assert run("lookup", "home@mini.example", "--json").exit_code == 0
    res = run("audit", "verify")
    assert res.exit_code == 0, res.output
    assert "audit log intact: 3 entries" in res.output

    con = duckdb.connect(str(mini_ws.ledger_path))
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    con.close()
    res = run("audit", "verify")
    assert res.exit_code == 5
    assert "BROKEN at entry 2" in res.output
    res = run("audit", "verify", "--json")
    assert res.exit_code == 5
    data = json.loads(res.stdout)
    assert (data["ok"], data["first_broken"], data["entries"]) == (False, 2, 3)


def test_audit_log_lists_entries(run):
    run("case", "open", "--type", "access", "--received", "2026-01-31")
    res = run("audit", "log", "--json")
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    assert (entry["action"], entry["actor"], entry["case_id"]) == ("case.open", ACTOR, "DSR-2026-0001")


def test_case_open_prints_due_date(run):
    res = run("case", "open", "--type", "access", "--received", "2026-01-31")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "DSR-2026-0001  access  received 2026-01-31  due 2026-02-28"
    res = run("case", "open", "--type", "erasure", "--received", "2024-01-31", "--json")
    data = json.loads(res.stdout)
    assert (data["case_id"], data["due"], data["opened_by"]) == ("DSR-2024-0001", "2024-02-29", ACTOR)
    res = run("case", "list", "--json")
    assert [c["case_id"] for c in json.loads(res.stdout)] == ["DSR-2024-0001", "DSR-2026-0001"]


def test_case_open_unknown_type_exits_2(run, mini_ws):
    res = run("case", "open", "--type", "nonsense", "--received", "2026-01-31")
    assert res.exit_code == 2
    assert "unknown case type 'nonsense'" in res.output
    assert "Traceback" not in res.output
    assert not mini_ws.ledger_path.exists()


def test_case_open_bad_date_exits_2(run):
    res = run("case", "open", "--type", "access", "--received", "31.01.2026")
    assert res.exit_code == 2
    assert "'31.01.2026' is not a valid date written YYYY-MM-DD" in res.output


def test_check_non_text_source_name_is_a_clear_error(run, mini_ws):
    (mini_ws.root / "privacyops.yaml").write_text(MINI_MAP.replace("source: files", "source: [files]"))
    res = run("check")
    assert res.exit_code == 2
    assert "datasets.shop.order_events.source" in res.output


def test_import_fides_merges_into_a_valid_map_or_refuses(mini_ws, tmp_path):
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": ACTOR})

    def run(*args):
        return runner.invoke(main, list(args))

    fixture = Path(__file__).parents[1] / "fixtures" / "fides" / "webshop.yml"
    target = mini_ws.root / "privacyops.yaml"
    before = target.read_text()
    refused = run("import", "fides", str(fixture), "--source", "main", "--into", str(target))
    assert refused.exit_code == 2 and "Not written" in refused.output
    assert target.read_text() == before  # a map that would not be valid is never written
    res = run("import", "fides", str(fixture), "--source", "main", "--purpose", "service", "--into", str(target))
    assert res.exit_code == 0, res.output
    assert "webshop.customer" in target.read_text()
    from privacyops.map import load_datamap

    assert "webshop.customer" in load_datamap(target).datasets
    broken = tmp_path / "broken.yml"
    broken.write_text("dataset:\n  - fides_key: x\n    collections: [{name: c, fields: [{name: a, data_categories: [user.nope]}]}]\n")
    bad = run("import", "fides", str(broken), "--source", "main")
    assert bad.exit_code == 2 and "user.nope" in bad.output and "Traceback" not in bad.output


def test_case_extend_and_close_from_the_cli(run, mini_ws):
    import datetime as dt

    today = dt.date.today()
    opened = run("case", "open", "--type", "access", "--received", today.isoformat(), "--json")
    case_id = json.loads(opened.output)["case_id"]
    ext = run("case", "extend", case_id, "--months", "2", "--reason", "many systems")
    assert ext.exit_code == 0, ext.output
    assert "now due" in ext.output
    bad = run("case", "extend", case_id, "--months", "1", "--reason", "more")
    assert bad.exit_code == 2 and "at most" in bad.output and "Traceback" not in bad.output
    closed = run("case", "close", case_id, "--outcome", "archive sent")
    assert closed.exit_code == 0 and "on time" in closed.output
    listed = json.loads(run("case", "list", "--json").output)
    assert listed[0]["status"] == "closed" and listed[0]["extension_reason"] == "many systems"


def test_lookup_miss_says_what_it_searched_and_exits_1(run):
    res = run("lookup", "nobody@nowhere.example")
    assert res.exit_code == 1, res.output
    assert "No records found for 'nobody@nowhere.example' (searched as: email" in res.output
    res = run("lookup", "nobody@nowhere.example", "--json")
    assert res.exit_code == 1 and json.loads(res.output)["status"] == "not_found"
