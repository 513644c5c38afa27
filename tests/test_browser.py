"""JupyterLab in the system Chromium: open notebook 01, Run All, search a subject in the panel, see the datasets.

Needs Debian's chromium (`./run test` installs it). Playwright only drives it: no browser is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import demo_workspace

from privacyops.demo import STORIES

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NB01 = REPO / "notebooks" / "01_subject_lookup.ipynb"
CHROMIUM = os.environ.get("PRIVACYOPS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOT = Path("/tmp/browser_lookup.png")
SUBJECT = STORIES["withdrawn"]  # Līga Liepiņa: an account, a ticket, an invoice, consent withdrawn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_settings(folder: Path) -> Path:
    """User settings for the test server: no autosave (the repo's notebook must stay as committed), no news."""
    for plugin, values in {
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


@pytest.fixture(scope="module")
def expected_datasets(tmp_path_factory) -> list[str]:
    """What lookup() finds for the subject, asked in-process before the server opens the same files."""
    from privacyops.lookup import lookup
    from privacyops.workspace import open_workspace

    result = lookup(open_workspace(demo_workspace(tmp_path_factory)), SUBJECT["email"], audit_log=False)
    assert result.status == "found"
    return list(result.records)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, expected_datasets):
    """A JupyterLab server on a free port (no token), rooted at the repo, reading the default demo."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (./run test does)")
    tmp = tmp_path_factory.mktemp("lab")
    port = free_port()
    env = {**os.environ, "PRIVACYOPS_WORKSPACE": str(demo_workspace(tmp_path_factory)),
           "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(tmp / "settings")),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PRIVACYOPS_ACTOR": "browser-test"}
    log = open(tmp / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--allow-root", f"--ServerApp.root_dir={REPO}",
         "--ServerApp.port_retries=0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{(tmp / 'jupyter.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in 60 s:\n{(tmp / 'jupyter.log').read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        # The server and its kernels run in their own session: end that group (only what this fixture started).
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


def test_lookup_panel_in_jupyterlab(lab, expected_datasets):
    from playwright.sync_api import expect, sync_playwright

    committed = hashlib.sha256(NB01.read_bytes()).hexdigest()
    assert "billing.invoices" in expected_datasets and "app.user_accounts" in expected_datasets

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(30_000)
            page.goto(f"{lab}/lab/tree/notebooks/01_subject_lookup.ipynb", timeout=60_000)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            # Wait until the notebook's kernel has started and is idle (status bar: "<kernel name> | Idle"),
            # then Run All from the menu.
            kernel_idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))
            expect(kernel_idle).to_be_visible(timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            panel = page.locator(".po-panel").first
            # The panel's own first search (the notebook's default subject) shows up first.
            expect(panel.locator(".po-summary")).to_contain_text(STORIES["two_emails"]["full_name"],
                                                                  timeout=60_000)

            panel.locator(".widget-text input").fill(SUBJECT["email"])
            panel.locator(".widget-button", has_text="Search").click()

            summary = panel.locator(".po-summary")
            expect(summary).to_contain_text(SUBJECT["full_name"])
            expect(summary).to_contain_text(f"in {len(expected_datasets)} datasets")
            expect(panel.locator(".po-status")).to_contain_text(f"Found {SUBJECT['full_name']}")
            result = panel.locator(".po-result").first
            for name in expected_datasets:
                expect(result).to_contain_text(name)
            expect(panel.locator(".po-error")).to_have_count(0)

            # The per-dataset accordion opens on a click and shows that dataset's retention rule.
            panel.get_by_text("billing.invoices (", exact=False).first.click()
            expect(panel.locator(".po-facts").filter(has_text="Accounting Law")).to_be_visible()

            invoices = panel.locator(".po-facts").filter(has_text="Accounting Law")
            invoices.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOT.with_name("browser_lookup_dataset.png")))
            panel.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
    assert hashlib.sha256(NB01.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
