"""Four-eyes between two people's JupyterLabs (system Chromium): alice prepares an erasure plan in notebook 03's
panel; bob, in his own JupyterLab (his own server, kernel and environment) on the SAME workspace, finds it in his
inbox, opens it and approves it; alice (who after a reload still finds her plan) opens her notebook again, finds
the plan approved and executes it. The end is checked by
SQL on the source (the subject's rows are gone, the invoices the accounting law keeps are still there) and on the
ledger (the plan is done, prepared by alice, approved by bob).

The two servers share one workspace folder: the DuckDB ledger and the demo's DuckDB file are opened per operation
by each kernel, so they take turns on the files. Screenshots of each step are saved as artefacts (/tmp).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from privacyops.demo import STORIES
from privacyops.ledger.people import register_person
from privacyops.workspace import open_workspace
from privacyops.workspace.person import PersonKey, forget_proven, init_person_key
from tests.support.browser import button, jupyter_lab, notebook_page
from tests.support.demo import demo_workspace, dq, fresh_copy

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NB03 = REPO / "notebooks" / "03_erasure.ipynb"
SCREENSHOTS = {step: Path(f"/tmp/browser_four_eyes_{step}.png")
               for step in ("1_alice_plans", "2_bob_inbox", "3_bob_approved", "4_alice_executes")}
JANIS = STORIES["two_emails"]  # notebook 03's default subject


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory) -> Path:
    """One small demo copy both JupyterLab servers read and write."""
    return fresh_copy(demo_workspace(tmp_path_factory, 300), tmp_path_factory.mktemp("four-eyes") / "demo")


@pytest.fixture(scope="module")
def person(shared_workspace):
    """THE place where a person's identity for their own JupyterLab is set up: a person key pair each (outside the
    workspace), registered in the shared ledger — the first person registers themself as admin (bootstrap) and
    then registers the others. Each JupyterLab server gets only its person's key (PRIVACYOPS_PERSON_KEY), no
    self-declared name: who acts is proven by the key. Returns, per person, the keyword arguments for
    `jupyter_lab` and the name the ledger records for them."""
    admin: list[PersonKey] = []

    def setup(name: str, home: Path) -> tuple[dict, str]:
        key = init_person_key(name, home / "person.key")
        ws = open_workspace(shared_workspace)
        if not admin:  # the first person bootstraps the registry with their own key
            register_person(ws, name, key.public_key, ["admin", "preparer", "approver"], key=key)
            admin.append(key)
        else:
            register_person(ws, name, key.public_key, ["preparer", "approver"], key=admin[0])
        forget_proven()  # this test process acted as the admin; the servers act as their own keys
        return {"actor": None, "env": {"PRIVACYOPS_PERSON_KEY": str(key.path)}}, name

    return setup


@contextlib.contextmanager
def lab_for(person, name: str, workspace: Path, tmp_path_factory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp(f"lab-{name}")
    kwargs, recorded = person(name, home)
    with jupyter_lab(workspace, home, **kwargs) as url:
        yield url, recorded


def run_all(page) -> None:
    """After a reload: wait for the kernel to be idle, then Run All (as `notebook_page` does on opening)."""
    from playwright.sync_api import expect

    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    kernel_idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^(?!No Kernel).+ \| Idle$"))
    expect(kernel_idle).to_be_visible(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def opened_panel(page):
    """The erasure panel once it has opened the workspace, and its status line."""
    from playwright.sync_api import expect

    panel = page.locator(".po-panel").first
    status = panel.locator(".po-status").first
    expect(status).to_contain_text("Choose or open an erasure case", timeout=60_000)
    return panel, status


def shot(page, panel, step: str) -> None:
    panel.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(SCREENSHOTS[step]), full_page=True)


def ledger_row(ws: Path, plan_id: str) -> tuple:
    con = duckdb.connect(str(ws / "ledger.duckdb"), read_only=True)
    try:
        return con.execute("SELECT status, prepared_by, approved_by, executed_by FROM erasure_plans "
                           "WHERE plan_id = ?", [plan_id]).fetchone()
    finally:
        con.close()


def test_two_people_four_eyes_in_two_jupyterlabs(shared_workspace, person, tmp_path_factory):
    from playwright.sync_api import expect

    ws = shared_workspace
    W = SimpleNamespace(root=ws)  # what `dq` needs to read the demo's DuckDB file
    cid = JANIS["customer_id"]
    kept = dq(W, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? AND "
              "issued_at >= DATE '2021-01-01' ORDER BY 1", [cid])
    assert dq(W, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [1]
    committed = hashlib.sha256(NB03.read_bytes()).hexdigest()
    for path in SCREENSHOTS.values():
        path.unlink(missing_ok=True)

    with lab_for(person, "alice", ws, tmp_path_factory) as (alice_url, alice), \
            lab_for(person, "bob", ws, tmp_path_factory) as (bob_url, bob):
        # (one Playwright at a time: each person's page is opened, used and closed in turn)
        with notebook_page(alice_url, "03_erasure.ipynb") as page:
            page.on("dialog", lambda d: d.accept())  # "leave the page?" on reload
            panel, status = opened_panel(page)
            expect(panel).to_contain_text(f"you are acting as {alice}")
            button(panel, "Open case").click()
            expect(status).to_contain_text("Opened case DSR-")
            button(panel, "Plan").click()
            expect(status).to_contain_text("for case DSR-", timeout=60_000)
            plan_id = re.search(r"Plan (\S+) for case", status.inner_text()).group(1)
            # alice prepared it: Approve is off, and the panel says why
            expect(button(panel, "Approve")).to_be_disabled()
            expect(panel.locator(".po-why", has_text="Approve not available")).to_contain_text(
                "you prepared this plan; another person approves it")
            shot(page, panel, "1_alice_plans")
            # after a reload her plan is still hers to find: under "Plans I prepared", not awaiting her approval
            page.reload()
            run_all(page)
            panel, status = opened_panel(page)
            expect(panel.locator(".po-inbox-mine .po-inbox-row", has_text=plan_id)).to_contain_text("planned")
            expect(panel.locator(".po-inbox-awaiting-approval .po-inbox-row")).to_have_count(0)
            button(panel.locator(".po-inbox-mine .po-inbox-row", has_text=plan_id), "Open").click()
            expect(status).to_contain_text(f"Opened plan {plan_id}")
            expect(button(panel, "Approve")).to_be_disabled()
        assert ledger_row(ws, plan_id) == ("planned", alice, None, None)

        # bob, in his own JupyterLab: the plan waits for him; he opens it and approves it
        with notebook_page(bob_url, "03_erasure.ipynb") as bpage:
            bpanel, bstatus = opened_panel(bpage)
            expect(bpanel).to_contain_text(f"you are acting as {bob}")
            row = bpanel.locator(".po-inbox-awaiting-approval .po-inbox-row", has_text=plan_id)
            expect(row).to_contain_text(alice)
            expect(button(bpanel, "Approve")).to_be_disabled()  # nothing open yet
            shot(bpage, bpanel, "2_bob_inbox")
            button(row, "Open").click()
            expect(bstatus).to_contain_text(f"Opened plan {plan_id}")
            expect(bstatus).to_contain_text(f"prepared by {alice}")
            expect(bpanel.locator(".po-result")).to_contain_text("Retained, until when and why")
            expect(button(bpanel, "Execute")).to_be_disabled()
            button(bpanel, "Approve").click()
            expect(bstatus).to_contain_text(f"approved by {bob}", timeout=60_000)
            expect(bpanel.locator(".po-error")).to_have_count(0)
            expect(bpanel.locator(".po-inbox-to-execute .po-inbox-row", has_text=plan_id)).to_have_count(1)
            shot(bpage, bpanel, "3_bob_approved")
        assert ledger_row(ws, plan_id) == ("approved", alice, bob, None)
        assert dq(W, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [1]

        # alice opens her notebook again: the plan is approved; she opens it and executes it
        with notebook_page(alice_url, "03_erasure.ipynb") as page:
            panel, status = opened_panel(page)
            row = panel.locator(".po-inbox-to-execute .po-inbox-row", has_text=plan_id)
            expect(row).to_contain_text(f"approved by {bob}")
            button(row, "Open").click()
            expect(status).to_contain_text(f"Opened plan {plan_id}")
            expect(button(panel, "Approve")).to_be_disabled()
            button(panel, "Execute").click()
            expect(status).to_contain_text(f"Plan {plan_id} executed and verified", timeout=120_000)
            expect(panel.locator(".po-error")).to_have_count(0)
            expect(panel.locator(".po-cert")).to_contain_text("certificate valid")
            expect(panel.locator(".po-inbox-to-execute .po-inbox-row")).to_have_count(0)
            expect(panel.locator(".po-inbox-mine .po-inbox-row", has_text=plan_id)).to_contain_text("done")
            shot(page, panel, "4_alice_executes")

    assert ledger_row(ws, plan_id) == ("done", alice, bob, alice)
    # Proven, not declared: each step carries the signature of the key registered for that person.
    con = duckdb.connect(str(ws / "ledger.duckdb"), read_only=True)
    try:
        sigs = con.execute("SELECT prepared_sig, approved_sig, executed_sig FROM erasure_plans WHERE plan_id = ?",
                           [plan_id]).fetchone()
        registered = dict(con.execute("SELECT name, key_id FROM people").fetchall())
    finally:
        con.close()
    signed = [json.loads(s) for s in sigs]
    assert [(s["person"], s["key_id"]) for s in signed] == [(alice, registered[alice]), (bob, registered[bob]),
                                                           (alice, registered[alice])]
    assert dq(W, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [0]
    assert dq(W, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1", [cid]) == kept
    assert kept, "the accounting law keeps some of the subject's invoices"
    for path in SCREENSHOTS.values():
        assert path.stat().st_size > 10_000, path
    assert hashlib.sha256(NB03.read_bytes()).hexdigest() == committed, "JupyterLab must not save the notebook"
