"""The app `./run app` serves (Voilà on notebooks/, code hidden, IPC kernels, only downloads/*.zip served as files),
driven in the system Chromium: its home lists the desk's notebooks; the analyst walks the request inbox -> a case's
lookup -> its export, the archive DOWNLOADED through the panel's link (the ledger's SHA-256; it opens with the
password shown on request) -> an erasure case's plan — the same walk as in JupyterLab (tests/support/desk.py).
Screenshots and the download are kept as artefacts ($PRIVACYOPS_ARTIFACTS/voila_app, else test-artifacts/voila_app).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import artefacts, browser_page, run_app_arguments, voila_app
from tests.support.demo import demo_workspace, fresh_copy
from tests.support.desk import SLOW, prepare_desk, remove_download_copies, walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DESK = ["00_request_inbox.ipynb", "01_subject_lookup.ipynb", "02_access_export.ipynb", "03_erasure.ipynb"]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_run_app_serves_the_notebooks_folder_with_ipc_kernels_and_downloads_only():
    args = run_app_arguments()
    assert args[0] == "notebooks/" and "--KernelManager.transport=ipc" in args
    assert "--VoilaConfiguration.file_allowlist=['downloads/[^/]+\\.zip']" in args


def test_analyst_walks_the_desk_in_the_voila_app(tmp_path_factory, capsys):
    from playwright.sync_api import expect

    root = fresh_copy(demo_workspace(tmp_path_factory, 300), tmp_path_factory.mktemp("voila") / "demo")
    desk = prepare_desk(root, artefacts("voila_app"))
    with capsys.disabled():
        print(f"\nbrowser walk (Voilà app): screenshots and the downloaded archive in {desk.artefacts}")
    checked = None
    tmp = tmp_path_factory.mktemp("voila-server")
    try:
        with voila_app(root, tmp) as url, browser_page() as page:
            # Only the export panel's copies are served as files: never a notebook, the source or the workspace.
            assert status_of(f"{url}/voila/files/02_access_export.ipynb") in (403, 404)
            assert status_of(f"{url}/voila/files/../privacyops/__init__.py") in (400, 403, 404)
            page.goto(url + "/", timeout=SLOW)
            for name in DESK:
                expect(page.get_by_text(name).first).to_be_visible(timeout=SLOW)
            page.screenshot(path=str(desk.artefacts / "0_home.png"), full_page=True)
            page.goto(f"{url}/voila/render/00_request_inbox.ipynb", timeout=SLOW)
            expect(page.locator(".po-panel").first).to_be_visible(timeout=SLOW)
            assert "privacyops.jobs import" not in page.content()  # no code shown (the notebook's cells import it)
            checked = walk(page, desk)
            # each panel of the desk opens on its own page too, finds the workspace and says what to do
            for name, first_words in zip(DESK[1:], ("Found Jānis Bērziņš", "Preview (no case)",
                                                    "Choose or open an erasure case")):
                page.goto(f"{url}/voila/render/{name}", timeout=SLOW)
                panel = page.locator(".po-panel").first
                expect(panel.locator(".po-status").first).to_contain_text(first_words, timeout=SLOW)
                expect(panel).to_contain_text(str(root))  # the workspace of PRIVACYOPS_WORKSPACE
                expect(page.locator(".po-error")).to_have_count(0)
                page.screenshot(path=str(desk.artefacts / f"6_{name.split('_')[0]}.png"), full_page=True)
            # the page's kernel talks over IPC sockets (no TCP ports) beside its connection file
            found = re.search(r"Storing connection files in (\S+?)\.?$", (tmp / "voila.log").read_text(), re.M)
            assert found, (tmp / "voila.log").read_text()
            connection = [json.loads(p.read_text()) for p in Path(found.group(1)).glob("kernel-*.json")]
            assert connection and all(c["transport"] == "ipc" for c in connection), connection
    finally:
        if checked:
            remove_download_copies(REPO / "notebooks", checked["archive"])
    assert [p.name for p in desk.shots] == ["1_inbox.png", "2_lookup.png", "3_export.png", "4_password_shown.png",
                                            "5_erasure_plan.png"]
    assert all(p.stat().st_size > 10_000 for p in desk.shots)
