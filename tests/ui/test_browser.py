"""JupyterLab in the system Chromium: open notebook 01, Run All, search a subject in the panel, see the datasets.

Needs Debian's chromium (`./run test` installs it). Playwright only drives it: no browser is ever downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from privacyops.demo import STORIES
from tests.support.browser import notebook_page

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NB01 = REPO / "notebooks" / "01_subject_lookup.ipynb"
SCREENSHOT = Path("/tmp/browser_lookup.png")
SUBJECT = STORIES["withdrawn"]  # Līga Liepiņa: an account, a ticket, an invoice, consent withdrawn


def test_lookup_panel_in_jupyterlab(lab, expected_datasets):
    from playwright.sync_api import expect

    committed = hashlib.sha256(NB01.read_bytes()).hexdigest()
    assert "billing.invoices" in expected_datasets and "app.user_accounts" in expected_datasets

    with notebook_page(lab, "01_subject_lookup.ipynb") as page:
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
    assert SCREENSHOT.stat().st_size > 10_000
    assert hashlib.sha256(NB01.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
