"""JupyterLab in the system Chromium: open notebook 03, Run All, open an erasure case in the panel, Plan, see the
plan (retained invoices), Approve as the preparer and see the four-eyes refusal; nothing is erased.

The JupyterLab server is tests/ui/conftest.py's; this module gives it a COPY of the default demo to read
(`lab_workspace`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from privacyops.erasure import list_plans, load_plan
from privacyops.workspace import open_workspace
from tests.support.browser import button, notebook_page
from tests.support.demo import demo_workspace, fresh_copy

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NB03 = REPO / "notebooks" / "03_erasure.ipynb"
SCREENSHOT = Path("/tmp/browser_erasure.png")


@pytest.fixture(scope="module")
def lab_workspace(tmp_path_factory):
    """This module erases data: its JupyterLab server reads a copy of the default demo."""
    return fresh_copy(demo_workspace(tmp_path_factory), tmp_path_factory.mktemp("erasure-lab") / "demo")


def test_erasure_panel_in_jupyterlab(lab, lab_workspace):
    from playwright.sync_api import expect

    committed = hashlib.sha256(NB03.read_bytes()).hexdigest()
    with notebook_page(lab, "03_erasure.ipynb") as page:
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

        # the preparer (PRIVACYOPS_ACTOR=browser-test) may not approve: the button is off, the panel says why
        expect(button(panel, "Approve")).to_be_disabled()
        expect(panel.locator(".po-why", has_text="Approve not available")).to_contain_text("the approver must differ from the preparer")
        panel.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(SCREENSHOT))

    ws = open_workspace(lab_workspace)
    plan = load_plan(ws, plan_id)
    assert plan.case_id == case_id and plan.status == "planned" and plan.approved_by is None
    assert plan.prepared_by == "browser-test" and [p["plan_id"] for p in list_plans(ws)] == [plan_id]
    assert SCREENSHOT.stat().st_size > 10_000
    assert hashlib.sha256(NB03.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
