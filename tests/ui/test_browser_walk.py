"""The analyst's walk in JupyterLab (system Chromium): the request inbox (notebook 00) -> a case's lookup -> its
export, the archive DOWNLOADED through the panel's link (its SHA-256 is the one the ledger records, it opens with
the password shown on request) -> an erasure case's plan. Screenshots of each step and the downloaded archive are
kept as artefacts ($PRIVACYOPS_ARTIFACTS/browser_walk, else test-artifacts/browser_walk; the test prints where).

The server is this test's own (a fresh demo copy it changes); the walk itself is tests/support/desk.py, the same in
the Voilà app (test_voila_app.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support.browser import artefacts, jupyter_lab, notebook_page
from tests.support.demo import demo_workspace, fresh_copy
from tests.support.desk import prepare_desk, remove_download_copies, walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NB00 = REPO / "notebooks" / "00_request_inbox.ipynb"


def test_analyst_walks_inbox_lookup_export_download_erasure_in_jupyterlab(tmp_path_factory, capsys):
    root = fresh_copy(demo_workspace(tmp_path_factory, 300), tmp_path_factory.mktemp("walk") / "demo")
    desk = prepare_desk(root, artefacts("browser_walk"))
    with capsys.disabled():
        print(f"\nbrowser walk (JupyterLab): screenshots and the downloaded archive in {desk.artefacts}")
    committed = hashlib.sha256(NB00.read_bytes()).hexdigest()
    checked = None
    try:
        with jupyter_lab(root, tmp_path_factory.mktemp("walk-lab")) as url, \
                notebook_page(url, "00_request_inbox.ipynb") as page:
            checked = walk(page, desk)
    finally:
        if checked:
            remove_download_copies(REPO / "notebooks", checked["archive"])
    assert [p.name for p in desk.shots] == ["1_inbox.png", "2_lookup.png", "3_export.png", "4_password_shown.png",
                                            "5_erasure_plan.png"]
    assert all(p.stat().st_size > 10_000 for p in desk.shots)
    assert hashlib.sha256(NB00.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
