"""Notebook 02 run headless with papermill (as a scheduler runs it): a case, the archive, export.json without the
password, the password in the 0600 file the caller names (and refused when the caller names none); and the stored
notebook is clean."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import stat
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from privacyops.access import list_exports
from privacyops.ledger import get_case
from privacyops.lookup import lookup
from tests.support.demo import JANIS, PASSWORD_RE, access_case, archive_files

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NB02 = NOTEBOOKS / "02_access_export.ipynb"


def run_headless(workspace: Path, out: Path, **params) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    executed = out / NB02.name
    pm.execute_notebook(str(NB02), str(executed), cwd=str(NOTEBOOKS),
                        parameters={"workspace": str(workspace), "interactive": False, "output_dir": str(out),
                                    **params},
                        progress_bar=False, log_output=False)
    return executed


@pytest.mark.slow
def test_headless_run_opens_a_case_exports_and_keeps_the_password_apart(demo_ws, tmp_path):
    out = tmp_path / "out"
    executed = run_headless(demo_ws.root, out, password_out=str(tmp_path / "secret" / "password.txt"))

    data = json.loads((out / "export.json").read_text(encoding="utf-8"))
    archive = Path(data["path"])
    assert archive.is_file() and archive.parent == demo_ws.root / "exports" / data["case_id"]
    assert data["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "password" not in data and data["password_generated"] is True
    found = lookup(demo_ws, JANIS["email"], audit_log=False)
    assert data["datasets"] == found.counts()

    case = get_case(demo_ws, data["case_id"])  # a new access case, received today
    assert case.type == "access" and case.received == dt.date.today() and case.status == "open"
    assert [e.export_id for e in list_exports(demo_ws, case.case_id)] == [data["export_id"]]

    secret = tmp_path / "secret" / "password.txt"
    assert not (out / "password.txt").exists()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = secret.read_text().strip()
    assert PASSWORD_RE.match(password)
    assert archive_files(archive, password)["data.json"]
    assert password not in executed.read_text(encoding="utf-8")  # the evidence notebook never holds it
    assert password not in (out / "export.json").read_text()
    text = "\n".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                     if c.cell_type == "code" for o in c.outputs)
    assert f"The generated password is in {secret}" in text and "another channel" in text and "SMS" in text
    n = found.counts()["support.ticket_messages"]
    assert re.search(rf"support\.ticket_messages +{n}  \(1 e-mail\(s\) of others masked\)", text)


@pytest.mark.slow
def test_headless_run_with_a_case_and_a_password_file(demo_ws, tmp_path):
    case_id = access_case(demo_ws, "portability")
    secret = tmp_path / "given.txt"
    secret.write_text("a long shared secret 42\n")
    out = tmp_path / "out"
    run_headless(demo_ws.root, out, case_id=case_id, password_file=str(secret))
    data = json.loads((out / "export.json").read_text())
    assert data["case_id"] == case_id and data["password_generated"] is False
    assert not (out / "password.txt").exists()
    assert "Article 20" in archive_files(Path(data["path"]), "a long shared secret 42")["report.html"].decode()


@pytest.mark.slow
def test_headless_run_without_a_password_file_makes_nothing(demo_ws, tmp_path):
    """Nobody would see a generated password (and what a run prints is kept in the executed notebook)."""
    with pytest.raises(pm.PapermillExecutionError) as info:
        run_headless(demo_ws.root, tmp_path / "out")
    assert info.value.ename == "ExportError" and "password_out=PATH" in info.value.evalue
    assert not (tmp_path / "out" / "export.json").exists() and not (demo_ws.root / "exports").exists()
    assert list_exports(demo_ws) == []


@pytest.mark.slow
def test_headless_run_fails_loudly_for_an_erasure_case(demo_ws, tmp_path):
    case_id = access_case(demo_ws, "erasure")
    with pytest.raises(pm.PapermillExecutionError) as info:
        run_headless(demo_ws.root, tmp_path / "out", case_id=case_id, password_out=str(tmp_path / "pw.txt"))
    assert info.value.ename == "CaseError" and "erasure request" in info.value.evalue
    assert not (tmp_path / "out" / "export.json").exists() and not (demo_ws.root / "exports").exists()


def test_parameters_are_what_schedulers_can_pass():
    params = pm.inspect_notebook(str(NB02))
    assert list(params) == ["workspace", "subject", "pick", "case_id", "case_type", "password_file", "password_out",
                            "interactive", "output_dir"]
    assert params["subject"]["default"] == f'"{JANIS["email"]}"'
    assert params["case_id"]["default"] == "None" and params["interactive"]["default"] == "True"
    assert params["output_dir"]["default"] == '"outputs/02_access_export"'


def test_stored_notebook_is_clean():
    nb = nbformat.read(NB02, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.kernelspec.display_name == "Python 3 (ipykernel)"
    assert "widgets" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for c in code:  # stored without outputs: what it prints is checked on a run (test_notebooks.py)
        assert not c.outputs and c.execution_count is None
