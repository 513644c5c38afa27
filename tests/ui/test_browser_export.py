"""JupyterLab in the system Chromium: open notebook 02, Run All, open a case in the panel, Export, see the archive
listed and the password shown on request; the archive on disk is the one listed and opens with that password.

The JupyterLab server fixture is tests/ui/conftest.py's; the Chromium settings are in tests/support/browser.py.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from privacyops.access import list_exports, read_archive
from privacyops.demo import STORIES
from privacyops.workspace import open_workspace
from tests.support.browser import button, notebook_page
from tests.support.demo import demo_workspace

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NB02 = REPO / "notebooks" / "02_access_export.ipynb"
SCREENSHOT = Path("/tmp/browser_export.png")
JANIS = STORIES["two_emails"]


def test_export_panel_in_jupyterlab(lab, tmp_path_factory):
    from playwright.sync_api import expect

    committed = hashlib.sha256(NB02.read_bytes()).hexdigest()
    ws = open_workspace(demo_workspace(tmp_path_factory))
    before = {e.export_id for e in list_exports(ws)}

    with notebook_page(lab, "02_access_export.ipynb") as page:
        panel = page.locator(".po-panel").first
        status = panel.locator(".po-status").first
        # The panel's first review (the notebook's default subject, no case yet): a preview.
        expect(status).to_contain_text("Preview (no case)", timeout=60_000)
        expect(panel.locator(".po-result")).to_contain_text("support.ticket_messages")
        expect(panel.locator(".po-result")).to_contain_text("Left out, and why")

        button(panel, "Open case").click()
        expect(status).to_contain_text("Opened case DSR-")
        case_id = re.search(r"Opened case (DSR-\d{4}-\d{4})", status.inner_text()).group(1)

        button(panel, "Export").click()
        archive_note = panel.locator(".po-archive")
        expect(archive_note).to_contain_text("SHA-256", timeout=60_000)
        expect(status).to_contain_text(f"Archive created for case {case_id}")
        expect(panel.locator(".po-secret").first).to_contain_text("another channel")
        expect(panel.locator(".po-password")).to_have_count(0)  # not on screen until asked for
        button(panel, "Show password").click()
        secret = panel.locator(".po-password")
        password = secret.locator("code").inner_text().strip()
        path = Path(archive_note.locator("code").nth(0).inner_text().strip())
        digest = archive_note.locator("code").nth(1).inner_text().strip()

        listed = panel.locator(".po-archives")
        expect(listed).to_contain_text(digest)
        expect(panel.locator(".po-error")).to_have_count(0)
        secret.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOT))

        button(panel, "Hide password").click()
        expect(secret).to_have_count(0)

    (REPO / "notebooks" / "downloads" / path.name).unlink()  # the panel's download copy (this test's only)
    assert re.fullmatch(r"[a-z]+(-[a-z]+){5}-\d{3}", password)
    assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest
    (new,) = [e for e in list_exports(ws) if e.export_id not in before]
    assert new.case_id == case_id and new.sha256 == digest and new.file(ws) == path
    data = read_archive(path, password)["data.json"].decode()
    assert JANIS["full_name"] in data and JANIS["mentions_email"] not in data
    assert SCREENSHOT.stat().st_size > 10_000
    assert hashlib.sha256(NB02.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
