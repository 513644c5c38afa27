"""Terminal output that fits: every line of `lookup`, `erase plan`/`erase show`, `case list` and `audit log` is at
most the terminal's width (COLUMNS), with no NaT/None/nan; a closed pipe ends quietly with exit 0; help texts are
not cut mid-phrase. Expected values come from SQL on the workspace, not from privacyops' output."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.ledger import extend_case, open_case
from privacyops.workspace import open_workspace
from tests.support.mini import erase_map

REPO = Path(__file__).resolve().parents[2]
WIDTH = 120
MISSING = re.compile(r"\b(NaT|None|nan|NaN)\b")


@pytest.fixture()
def ws(mini_ws):
    """The mini workspace with the erasure policy, an erasure plan, and a few cases (one overdue, one extended)."""
    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(mini_ws.root)
    open_case(ws, "access", "2025-01-10", subject="janis@mini.example")
    c = open_case(ws, "rectification", "2026-11-02")
    extend_case(ws, c.case_id, 1, "several systems", informed="2026-11-05", today=dt.date(2026, 11, 5))
    open_case(ws, "erasure", "2026-11-10")
    return ws


def run(ws, *args: str, columns: int = WIDTH):
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "alice", "PRIVACYOPS_WORKSPACE": None, "COLUMNS": str(columns)})
    res = runner.invoke(main, [*args, "-w", str(ws.root)], terminal_width=columns)
    assert res.exit_code == 0, res.output
    return res.output


def check_fits(text: str, columns: int = WIDTH) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > columns]
    assert too_wide == [], f"{len(too_wide)} line(s) over {columns}: {too_wide[:2]}"
    assert not MISSING.search(text), MISSING.search(text).group(0)


def ledger(ws, sql, params=()):
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def erasure_case(ws) -> str:
    return ledger(ws, "SELECT case_id FROM cases WHERE type = 'erasure'")[0][0]


@pytest.mark.parametrize("columns", [WIDTH, 60])
def test_lookup_fits_the_width(ws, columns):
    out = run(ws, "lookup", "janis@mini.example", "--rows", "20", columns=columns)
    check_fits(out, columns)
    assert "[people.person:1]" in out
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    orders = con.execute("SELECT count(*) FROM shop.orders WHERE pid = 1").fetchone()[0]
    con.close()
    assert re.search(rf"^shop\.orders \({orders}\)$", out, re.MULTILINE)  # the per-dataset heading, with the SQL count
    check_fits(run(ws, "lookup", "home@mini.example", columns=columns), columns)  # the candidates


def test_erase_plan_and_show_fit_the_width_without_dates_on_deleted_rows(ws):
    out = run(ws, "erase", "janis@mini.example", "--case", erasure_case(ws), "--as-of", "2026-11-15", "--rows")
    check_fits(out)
    plan_id = re.search(r"Stored as (ERP-\w+)", out).group(1)
    shown = run(ws, "erase", "show", plan_id, "--rows")
    check_fits(shown)
    for line in shown.splitlines():
        if re.match(r"^\S+\s+(\S+\s+)?delete\s", line):  # a delete row (summary, or per record)
            assert not re.search(r"\d{4}-\d\d-\d\d", line.split("delete", 1)[1].split("retention ended")[0]), line
    assert "delete" in shown


def test_case_list_shows_the_inbox_columns(ws):
    ref_case = ledger(ws, "SELECT case_id FROM cases WHERE type = 'access'")[0][0]
    run(ws, "case", "subject", ref_case, "people.person:1")
    out = run(ws, "case", "list", "--today", "2026-11-20")
    check_fits(out)
    rows = ledger(ws, "SELECT case_id, COALESCE(extended_due, due), subject_ref FROM cases WHERE status = 'open'")
    for case_id, deadline, ref in rows:
        (line,) = [ln for ln in out.splitlines() if ln.startswith(case_id)]
        assert str(deadline) in line and (ref or "—") in line
        assert ("OVERDUE" in line) == (deadline < dt.date(2026, 11, 20))
        assert str((deadline - dt.date(2026, 11, 20)).days) in line
    assert "janis@mini.example" not in out
    late = run(ws, "case", "list", "--overdue", "--today", "2026-11-20")
    assert [ln.split()[0] for ln in late.splitlines() if ln.startswith("DSR-")] == \
        [c for c, d, _r in rows if d < dt.date(2026, 11, 20)]


def test_audit_log_fits_the_width(ws):
    run(ws, "lookup", "janis@mini.example", "--case", erasure_case(ws))
    out = run(ws, "audit", "log", "--limit", "50")
    check_fits(out)
    seqs = [s for s, in ledger(ws, "SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 50")]
    listed = [int(ln.split()[0]) for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert sorted(listed) == sorted(seqs)


def test_help_is_not_cut_mid_phrase(ws):
    runner = CliRunner()
    for args in (["--help"], ["erase", "--help"], ["case", "--help"]):
        out = runner.invoke(main, args, terminal_width=WIDTH).output
        assert not re.search(r"\(Art\.\s*$", out, re.MULTILINE), out
    assert "(Art. 18)" in runner.invoke(main, ["erase", "--help"], terminal_width=WIDTH).output


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly_with_exit_0(ws):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PRIVACYOPS_ACTOR": "alice", "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "privacyops.cli", "lookup", "janis@mini.example", "-w", str(ws.root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    proc.stdout.close()  # the reader is gone before anything is written: every write meets a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err

    shell = subprocess.run(["bash", "-o", "pipefail", "-c",
                            " ".join(f"'{a}'" for a in cmd) + " --rows 50 | head -1"],
                           capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.startswith("Subject: ") and len(shell.stdout.splitlines()) == 1
    assert "Traceback" not in shell.stderr


def test_without_columns_output_is_120_wide(ws, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "alice", "PRIVACYOPS_WORKSPACE": None, "COLUMNS": None})
    out = runner.invoke(main, ["lookup", "janis@mini.example", "--rows", "20", "-w", str(ws.root)]).output
    check_fits(out, 120)
    assert max(len(line) for line in out.splitlines()) > 60  # it uses the room (not a narrow default)


def test_cells_show_missing_values_blank_and_dates_without_midnight():
    import pandas as pd

    from privacyops.cli.output import cell

    assert [cell(v) for v in (None, pd.NaT, float("nan"), pd.NA, "None")] == [""] * 5
    assert cell(dt.datetime(2026, 1, 2)) == "2026-01-02" and cell(pd.Timestamp("2026-01-02")) == "2026-01-02"
    assert cell(dt.datetime(2026, 1, 2, 9, 30, 5)) == "2026-01-02 09:30"
    assert cell(dt.datetime(2026, 1, 2, 9, 30), date_only=True) == "2026-01-02"
    assert cell(0) == "0" and cell(["a", None, 2]) == "a, , 2"
