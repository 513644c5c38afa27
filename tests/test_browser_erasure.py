"""JupyterLab in the system Chromium: open notebook 03, Run All, open an erasure case in the panel, Plan, see the
plan (retained invoices), Approve as the preparer and see the four-eyes refusal; nothing is erased.

The JupyterLab server fixture, the Chromium settings and the button helper come from tests/test_browser.py and
tests/test_browser_export.py (imported, not copied). The server reads a COPY of the default demo: the module swaps
test_browser's `demo_workspace` for the copy while its server starts.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import test_browser
from conftest import demo_workspace
from test_browser import CHROMIUM, CHROMIUM_ARGS, expected_datasets, lab  # noqa: F401  (fixtures)
from test_browser_export import button
from test_export import fresh_copy

from privacyops.erasure import list_plans, load_plan
from privacyops.workspace import open_workspace

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NB03 = REPO / "notebooks" / "03_erasure.ipynb"
SCREENSHOT = Path("/tmp/browser_erasure.png")


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory):
    """A copy of the default demo, which the lab fixture's server (and expected_datasets) use in this module."""
    root = fresh_copy(demo_workspace(tmp_path_factory), tmp_path_factory.mktemp("erasure-lab") / "demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(test_browser, "demo_workspace", lambda *_a, **_k: root)
        yield root


@pytest.fixture(scope="module")
def erasure_lab(demo_copy, lab):  # noqa: F811  (demo_copy first: the server starts on the copy)
    return lab


def test_erasure_panel_in_jupyterlab(erasure_lab, demo_copy):
    from playwright.sync_api import expect, sync_playwright

    committed = hashlib.sha256(NB03.read_bytes()).hexdigest()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(30_000)
            page.goto(f"{erasure_lab}/lab/tree/notebooks/03_erasure.ipynb", timeout=60_000)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            kernel_idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))
            expect(kernel_idle).to_be_visible(timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            panel = page.locator(".po-panel").first
            status = panel.locator(".po-status").first
            expect(status).to_contain_text("Choose or open an erasure case", timeout=60_000)

            button(panel, "Open case").click()
            expect(status).to_contain_text("Opened case DSR-")
            case_id = re.search(r"Opened case (DSR-\d{4}-\d{4})", status.inner_text()).group(1)

            button(panel, "Plan").click()
            result = panel.locator(".po-result")
            expect(status).to_contain_text(f"for case {case_id}", timeout=60_000)
            expect(result).to_contain_text("billing.invoices")
            expect(result).to_contain_text("retain")
            expect(result).to_contain_text("Retained, until when and why")
            expect(panel.locator(".po-error")).to_have_count(0)
            plan_id = re.search(r"Plan (\S+) for case", status.inner_text()).group(1)

            button(panel, "Approve").click()  # the preparer (PRIVACYOPS_ACTOR=browser-test) approving
            error = panel.locator(".po-error")
            expect(error).to_contain_text("the approver must differ from the preparer")
            panel.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()

    ws = open_workspace(demo_copy)
    plan = load_plan(ws, plan_id)
    assert plan.case_id == case_id and plan.status == "planned" and plan.approved_by is None
    assert plan.prepared_by == "browser-test" and [p["plan_id"] for p in list_plans(ws)] == [plan_id]
    assert SCREENSHOT.stat().st_size > 10_000
    assert hashlib.sha256(NB03.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
