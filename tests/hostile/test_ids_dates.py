"""Ids are ASCII digits, dates are YYYY-MM-DD, text has no NUL or control characters: the parsers, and the
command line reaching an INTEGER id column (SQL decides what exists)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.values import ascii_int, csv_safe, iso_date, text_problem
from tests.hostile.harness import ACCESS_CASE, PERSON, RECTIFY_CASE, build_workspace, ledger_counts, traceback_in

LOOKALIKES = ["１", "١", "۱", "१", "𝟏", "①", "¹", "1_0", "1_000", "+1", "1e3", "1.0", "0x1", "٠٠١", "１０"]


@pytest.mark.parametrize("text", LOOKALIKES + ["", " ", "-", "9" * 20, "9223372036854775808", "1 0"])
def test_ascii_int_refuses_lookalikes(text):
    assert ascii_int(text) is None


@pytest.mark.parametrize("text,n", [("1", 1), (" 42 ", 42), ("007", 7), ("9223372036854775807", 2**63 - 1), (5, 5)])
def test_ascii_int_reads_plain_ids(text, n):
    assert ascii_int(text) == n


@pytest.mark.parametrize("text", ["20250101", "2025-W01-1", "２０２５-01-01", "9999-12-31", "0001-01-01", "2025-02-30",
                                  "2025-1-1", "2025-01-01T00:00", "١٤٤٥-01-01", "2025‐01‐01", ""])
def test_iso_date_is_strict(text):
    with pytest.raises(ValueError):
        iso_date(text)


def test_iso_date_reads_the_plain_form():
    assert iso_date(" 2025-03-31 ") == dt.date(2025, 3, 31)
    assert iso_date("1850-01-01", years=(1, 9999)) == dt.date(1850, 1, 1)


@pytest.mark.parametrize("value,kind,refused", [
    ("a\x00b", "text", True), ("\udcff", "text", True), ("a\x1bb", "text", True), ("a\nb", "text", False),
    ("a\nb", "line", True), ("a\tb", "line", False), ("a\tb", "identifier", True), ("x\u202e", "identifier", True),
    ("x\u202e", "text", False), ("x" * 1025, "identifier", True), ("x" * 1025, "text", False),
    ("x" * 70_000, "text", True), ("Jānis Bērziņš", "identifier", False), ("\u0645\u06cc\u200c", "identifier", False),
])
def test_text_problem(value, kind, refused):
    assert (text_problem(value, kind=kind) is not None) is refused


@pytest.mark.parametrize("cell,out", [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("+HYPERLINK(\"x\")", "'+HYPERLINK(\"x\")"),
    ("-2+3+cmd", "'-2+3+cmd"), ("@SUM(1)", "'@SUM(1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-12.5", "-12.5"), ("+1", "+1"), ("-3e2", "-3e2"), (-5, -5), (2.5, 2.5), ("plain", "plain"), (None, None),
    ("+371 2000 1111", "'+371 2000 1111"),
])
def test_csv_safe(cell, out):
    assert csv_safe(cell) == out


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("ids") / "ws")


@pytest.fixture()
def cli(hostile_ws):
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "hostile-tester", "PRIVACYOPS_WORKSPACE": None})

    def invoke(*args: str):
        res = runner.invoke(main, [*args, "-w", str(hostile_ws)])
        assert not traceback_in(res), res.output
        return res
    return invoke


def _pids(ws) -> set[int]:
    con = duckdb.connect(str(ws / "main.duckdb"))
    try:
        return {r[0] for r in con.execute("SELECT pid FROM people.person").fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize("text", LOOKALIKES)
@pytest.mark.parametrize("how", [("--by", "person_id"), ("--by", "id")])
def test_lookalike_digits_reach_nobody_by_integer_id(cli, hostile_ws, text, how):
    # ground truth: these people exist by SQL, so a 'found' would be a lookalike read as 1 or 10
    assert {1, 10} & _pids(hostile_ws) == {1}
    res = cli("lookup", text, *how, "--json", "--no-mentions")
    assert res.exit_code in (1, 2), res.output  # nobody found (1) or refused (2): never a person
    if res.exit_code == 1:
        data = json.loads(res.stdout)
        assert data["status"] == "not_found", (text, data.get("subject"))


@pytest.mark.parametrize("text", ["１", "١", "1_0", "+1", "1e3"])
def test_lookalike_digits_in_a_pick_are_refused(cli, text):
    res = cli("lookup", "--pick", f"people.person:{text}", "--json", "--no-mentions")
    if res.exit_code == 1:
        assert json.loads(res.stdout)["status"] == "not_found"
    else:
        assert res.exit_code == 2


def test_plain_id_still_found(cli):
    res = cli("lookup", " 1 ", "--by", "person_id", "--json", "--no-mentions")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["subject"]["ref"] == "people.person:1"


@pytest.mark.parametrize("value", ["１２", "١١", "1_1", "1e1", "NaN", "12.0"])
def test_rectify_integer_column_refuses_lookalikes(cli, value):
    res = cli("rectify", PERSON, "--case", RECTIFY_CASE, "--set", f"shop.orders.item_id={value}", "--dry-run")
    assert res.exit_code == 2, res.output
    assert "shop.orders.item_id" in res.output


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "20250101", "2025-W01-1", "２０２５-01-01"])
def test_received_date_refused_before_anything_is_written(cli, hostile_ws, value):
    before = ledger_counts(hostile_ws)
    res = cli("case", "open", "--type", "access", "--received", value)
    assert res.exit_code == 2
    assert "received date" in res.output and "YYYY-MM-DD" in res.output
    assert ledger_counts(hostile_ws) == before


@pytest.mark.parametrize("value", ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00", "２０２５-01-01"])
def test_consent_time_out_of_range_is_refused(cli, hostile_ws, value):
    before = ledger_counts(hostile_ws)
    res = cli("consent", "record", PERSON, "--purpose", "mail", "--method", "web_form", "--notice", "v1",
              "--at", value)
    assert res.exit_code == 2, res.output
    assert ledger_counts(hostile_ws) == before


@pytest.mark.parametrize("args,option", [
    (["lookup", "a\x00b"], "IDENTIFIER"), (["case", "open", "--type", "access", "--received", "2025-01-01",
                                            "--subject", "x\udcff"], "--subject"),
    (["hold", "add", "--owner", "o", "--subject", PERSON, "--reason", "a\x00"], "--reason"),
    (["hold", "add", "--owner", "o", "--subject", PERSON, "--reason", "r\x1b[2J"], "--reason"),
    (["rectify", PERSON, "--case", RECTIFY_CASE, "--set", "people.person.full_name=\x00"], "--set"),
    (["export", "create", PERSON, "--case", ACCESS_CASE, "--out", "o\x00ut"], "--out"),
    (["suppress", "add", "a\u202e@b.example", "--reason", "objection"], "EMAIL"),
    (["lookup", "x" * 1_000_000], "IDENTIFIER"),
    (["hold", "add", "--owner", "o", "--subject", PERSON, "--reason", "r" * 1_000_000], "--reason"),
])
def test_refusals_name_the_option_and_say_what(cli, hostile_ws, args, option):
    before = ledger_counts(hostile_ws)
    res = cli(*args)
    assert res.exit_code == 2
    err = res.output.splitlines()[-1]
    assert option in err and "Nothing was done" in err, err
    assert any(w in err for w in ("NUL", "not UTF-8", "control character", "invisible", "characters long")), err
    assert ledger_counts(hostile_ws) == before


@pytest.mark.parametrize("age", ["99999999999999999999d", "999999999w", "１d", "1_0d", "0d", "-1d", "36601d"])
def test_purge_age_refused_without_overflow(cli, age):
    res = cli("export", "purge", "--older-than", age)
    assert res.exit_code == 2 and "is not an age" in res.output, res.output


@pytest.mark.parametrize("args", [["audit", "log", "--limit", "9" * 23], ["audit", "log", "--limit", "-5"],
                                  ["lookup", PERSON, "--rows", "-1"], ["lookup", PERSON, "--rows", "9" * 21]])
def test_numeric_options_out_of_range_are_refused(cli, args):
    res = cli(*args)
    assert res.exit_code == 2 and "is not in the range" in res.output, res.output


def test_library_callers_get_a_clear_error_for_undecodable_identifiers(hostile_ws):
    from privacyops.errors import InputError
    from privacyops.ledger import open_case
    from privacyops.workspace import open_workspace

    before = ledger_counts(hostile_ws)
    with pytest.raises(InputError, match="not UTF-8"):
        open_case(open_workspace(hostile_ws), "access", "2025-01-05", subject="x\udcff")
    assert ledger_counts(hostile_ws) == before
