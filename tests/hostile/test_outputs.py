"""What privacyops writes is safe to open: CSV cells never run as spreadsheet formulas, HTML shows data as text
(checked on the raw bytes of the written files, against the values SQL reads from the store); --out paths are
checked before anything runs."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.access.archive import read_archive
from privacyops.cli import main
from tests.hostile.harness import ACCESS_CASE, PERSON, build_workspace, ledger_counts, traceback_in

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "-2+3+cmd|' /C calc'!A0", "\t=1+1",
            "@SUM(1+1)*cmd|' /C calc'!A0", "+cmd|' /C calc'!A0", "\r=2+2"]
SCRIPT = "<script>alert(1)</script>"
NUMBER_LIKE = "-12.5"
# A spreadsheet runs a cell as a formula when its text starts with one of these (a plain number is just a number)
RISKY = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = build_workspace(tmp_path_factory.mktemp("outputs") / "ws")
    con = duckdb.connect(str(root / "main.duckdb"))
    con.execute("UPDATE people.person SET full_name = ?, member_no = ? WHERE pid = 2", [FORMULAS[0], FORMULAS[3]])
    con.execute("UPDATE shop.orders SET note = ? WHERE oid = 102", [FORMULAS[1]])
    for oid, note in [(110, FORMULAS[2]), (111, SCRIPT), (112, NUMBER_LIKE), (113, FORMULAS[4]), (114, FORMULAS[5])]:
        con.execute("INSERT INTO shop.orders VALUES (?, 2, 10, ?, DATE '2025-01-01')", [oid, note])
    con.close()
    return root


@pytest.fixture()
def cli(ws):
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "hostile-tester", "PRIVACYOPS_WORKSPACE": None})

    def invoke(*args: str):
        res = runner.invoke(main, [*args, "-w", str(ws)])
        assert not traceback_in(res), res.output
        return res
    return invoke


def _subject_values(ws: Path) -> set[str]:
    """Person 2's text values, read by SQL (the ground truth of what the CSV files must hold)."""
    con = duckdb.connect(str(ws / "main.duckdb"))
    try:
        rows = con.execute("SELECT full_name, mail, tel, member_no FROM people.person WHERE pid = 2").fetchall()
        rows += con.execute("SELECT note FROM shop.orders WHERE pid = 2").fetchall()
    finally:
        con.close()
    return {v for r in rows for v in r if isinstance(v, str)}


def _cells(raw: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")) for c in row]


def assert_no_formula(raw: bytes) -> list[str]:
    cells = _cells(raw)
    risky = [c for c in cells if c.startswith(RISKY) and not PLAIN_NUMBER.fullmatch(c)]
    assert not risky, risky
    return cells


def test_export_archive_csv_neutralises_formulas_and_html_escapes(cli, ws, tmp_path):
    res = cli("export", "create", PERSON, "--case", ACCESS_CASE, "--out", str(tmp_path), "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    files = read_archive(Path(got["path"]), got["password"])
    csvs = {n: b for n, b in files.items() if n.endswith(".csv")}
    assert csvs
    cells = [c for raw in csvs.values() for c in assert_no_formula(raw)]
    truth = _subject_values(ws)
    assert set(FORMULAS) | {SCRIPT, NUMBER_LIKE} <= truth
    for value in truth:  # every value is there, as itself or behind one quote when it would run
        expected = "'" + value if value.startswith(RISKY) and not PLAIN_NUMBER.fullmatch(value) else value
        assert expected in cells, (value, expected)
    assert NUMBER_LIKE in cells  # a number stays a number
    assert b"'=HYPERLINK(" in b"".join(csvs.values())
    # data.json (portability) keeps the exact values
    data = files["data.json"].decode("utf-8")
    for value in FORMULAS:
        assert json.dumps(value, ensure_ascii=False) in data
    # the letter: markup from the data is text
    page = files["report.html"]
    assert b"<script>alert(1)" not in page and b"onerror=" not in page


def test_ropa_csv_and_html_from_a_hostile_map(cli, ws, tmp_path):
    map_file = ws / "privacyops.yaml"
    original = map_file.read_text()
    hostile = original.replace("service: {description: Run the service,",
                               "service: {description: \"=cmd|' /C calc'!A0 <script>alert(2)</script>\",")
    assert hostile != original
    map_file.write_text(hostile)
    try:
        res = cli("ropa", "--out", str(tmp_path / "ropa"))
    finally:
        map_file.write_text(original)
    assert res.exit_code == 0, res.output
    raw = (tmp_path / "ropa" / "ropa.csv").read_bytes()
    cells = assert_no_formula(raw)
    assert "'=cmd|' /C calc'!A0 <script>alert(2)</script>" in cells
    page = (tmp_path / "ropa" / "ropa.html").read_bytes()
    assert b"<script>alert(2)" not in page
    assert b"&lt;script&gt;alert(2)&lt;/script&gt;" in page


@pytest.mark.parametrize("make,words", [
    (lambda p: (p / "afile").write_text("x") and p / "afile", "is a file"),
    (lambda p: p / "missing" / "deeper", "does not exist"),
    (lambda p: p / ("n" * 256), "255"),
    (lambda p: Path(" "), "empty"),
])
def test_out_folder_is_checked_before_anything_runs(cli, ws, tmp_path, make, words):
    out = make(tmp_path)
    before = ledger_counts(ws)
    for args in (["ropa", "--out", str(out)], ["export", "create", PERSON, "--case", ACCESS_CASE, "--out", str(out)]):
        res = cli(*args)
        assert res.exit_code == 2, res.output
        assert "--out" in res.output and words in res.output, res.output
    assert ledger_counts(ws) == before
    assert not (tmp_path / "missing").exists()


def test_out_file_is_not_overwritten_and_not_a_folder(tmp_path):
    def cli(*args: str):
        res = CliRunner().invoke(main, list(args))
        assert not traceback_in(res), res.output
        return res

    existing = tmp_path / "map.yaml"
    existing.write_text("keep me")
    fides = tmp_path / "fides.yaml"
    fides.write_text("dataset: []\n")
    res = cli("import", "fides", str(fides), "--source", "main", "--out", str(existing))
    assert res.exit_code == 2 and "exists" in res.output, res.output
    assert existing.read_text() == "keep me"
    res = cli("import", "fides", str(fides), "--source", "main", "--out", str(tmp_path))
    assert res.exit_code == 2 and "is a folder" in res.output, res.output


def test_report_html_shows_hostile_hold_text_as_text(cli, ws, tmp_path):
    from privacyops.reports import retention_report
    from privacyops.workspace import open_workspace

    reason, owner = "<script>alert(4)</script>", '"><img src=x onerror=alert(5)>'
    res = cli("hold", "add", "--subject", PERSON, "--reason", reason, "--owner", owner)
    assert res.exit_code == 0, res.output
    page, data = retention_report(open_workspace(ws), audit_log=False).write(tmp_path / "retention")
    raw = page.read_bytes()
    assert b"<script>alert(4)" not in raw and b"<img src=x" not in raw
    assert b"&lt;script&gt;alert(4)&lt;/script&gt;" in raw
    assert b"&lt;img src=x onerror=alert(5)&gt;" in raw
    assert reason in data.read_text(encoding="utf-8")  # the JSON keeps the exact text
