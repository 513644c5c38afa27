"""The analyst's walk through the desk in a browser, the same in JupyterLab and in the Voilà app: the request inbox
(notebook 00) -> a case's lookup -> its export (the archive downloaded through the link) -> an erasure case's plan.

Each check is against ground truth read here with SQL (the ledger, the demo's data), never the panel's own words
alone; a screenshot of each step goes into the artefacts folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import duckdb

from privacyops.access import read_archive
from privacyops.demo import STORIES
from privacyops.ledger import open_case
from privacyops.workspace import open_workspace
from tests.support.browser import button

SUBJECT = STORIES["withdrawn"]  # Līga Liepiņa: an account, a ticket, an invoice; few records, a quick walk
SLOW = 120_000  # ms: 2 cores shared with other work


@dataclasses.dataclass
class Desk:
    """The cases the walk answers (registered before the server starts) and where it keeps its artefacts."""

    root: Path
    access_case: str
    erasure_case: str
    artefacts: Path
    shots: list[Path] = dataclasses.field(default_factory=list)


def prepare_desk(root: Path, artefacts: Path) -> Desk:
    """Register an access and an erasure request for the subject (received a week ago), as the post room would."""
    ws = open_workspace(root)
    received = dt.date.today() - dt.timedelta(days=7)
    access = open_case(ws, "access", received, channel="browser walk").case_id
    erasure = open_case(ws, "erasure", received, channel="browser walk").case_id
    return Desk(root, access, erasure, artefacts)


def ledger(root: Path, query: str, params: tuple = ()) -> list[tuple]:
    con = duckdb.connect(str(root / "ledger.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def company(root: Path, query: str, params: tuple = ()) -> list[tuple]:
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def shot(page, desk: Desk, name: str, anchor=None) -> None:
    if anchor is not None:
        anchor.evaluate("e => e.scrollIntoView({block: 'start'})")
    path = desk.artefacts / f"{len(desk.shots) + 1}_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    desk.shots.append(path)


def case_line(inbox, case_id: str):
    """The inbox line of a case (its text and its buttons)."""
    return inbox.locator(".widget-hbox").filter(has=inbox.page.locator(".po-inbox-row", has_text=case_id))


def walk(page, desk: Desk) -> dict:
    """Walk the desk on a page showing notebook 00's panel (JupyterLab after Run All, or Voilà). Returns what was
    checked: the export's SHA-256, the downloaded file, the plan id."""
    from playwright.sync_api import expect

    root, name = desk.root, SUBJECT["full_name"]
    inbox = page.locator(".po-panel").first
    status = inbox.locator(".po-status").first

    # 1. The inbox lists every open request (the ledger says which), ours among them.
    open_cases = [c for (c,) in ledger(root, "SELECT case_id FROM cases WHERE status = 'open' ORDER BY case_id")]
    assert desk.access_case in open_cases and desk.erasure_case in open_cases
    expect(status).to_contain_text(f"{len(open_cases)} request(s)", timeout=SLOW)
    for case_id in open_cases:
        expect(case_line(inbox, case_id)).to_have_count(1)
    shot(page, desk, "inbox", inbox)

    # 2. Open the access case's lookup from its line and find the subject.
    button(case_line(inbox, desk.access_case), "Lookup").click()
    detail = inbox.locator(".po-panel").first
    expect(status).to_contain_text(f"Opened lookup for {desk.access_case}", timeout=SLOW)
    detail.locator(".widget-text input").first.fill(SUBJECT["email"])
    button(detail, "Search").click()
    expect(detail.locator(".po-status").first).to_contain_text(f"Found {name}", timeout=SLOW)
    (customer_name,) = company(root, "SELECT full_name FROM crm.customers WHERE customer_id = ?",
                               (SUBJECT["customer_id"],))[0]
    assert customer_name == name
    expect(detail.locator(".po-summary").first).to_contain_text(name)
    shot(page, desk, "lookup", detail)
    # the lookup under the case recorded whom the case is about (the ledger's subject reference)
    (ref,) = ledger(root, "SELECT subject_ref FROM cases WHERE case_id = ?", (desk.access_case,))[0]
    assert ref == f"crm.customers:{SUBJECT['customer_id']}"

    # 3. Export under the access case: the archive, its download link, the password on request.
    button(inbox, "Refresh").click()
    expect(case_line(inbox, desk.access_case)).to_contain_text(ref, timeout=SLOW)
    button(case_line(inbox, desk.access_case), "Export").click()
    expect(status).to_contain_text(f"Opened export for {desk.access_case}", timeout=SLOW)
    detail = inbox.locator(".po-panel").first
    button(detail, "Export").click()
    expect(detail.locator(".po-status").first).to_contain_text(f"Archive created for case {desk.access_case}",
                                                               timeout=SLOW)
    link = detail.locator("a.po-download-link")
    expect(link).to_be_visible()
    expect(detail.locator(".po-password")).to_have_count(0)  # the password is not on screen until asked for
    expect(detail.locator(".po-secret").first).to_contain_text("SMS")
    shot(page, desk, "export", detail)
    with page.expect_download(timeout=SLOW) as info:
        link.click()
    download = info.value
    saved = desk.artefacts / (download.suggested_filename or "archive.zip")
    download.save_as(str(saved))
    rows = ledger(root, "SELECT sha256, path, status FROM exports WHERE case_id = ?", (desk.access_case,))
    assert len(rows) == 1 and rows[0][2] == "created", rows
    sha, stored, _ = rows[0]
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == sha, "the download is not the archive the ledger has"
    assert saved.name == Path(stored).name
    button(detail, "Show password").click()
    password = detail.locator(".po-password code").inner_text().strip()
    shot(page, desk, "password_shown", detail)
    data = json.loads(read_archive(saved, password)["data.json"])
    assert data["case_id"] == desk.access_case and data["subject"]["name"] == name
    button(detail, "Hide password").click()
    expect(detail.locator(".po-password")).to_have_count(0)

    # 4. The erasure case: plan it (nothing is erased until another person approves).
    button(case_line(inbox, desk.erasure_case), "Erasure").click()
    expect(status).to_contain_text(f"Opened erasure for {desk.erasure_case}", timeout=SLOW)
    detail = inbox.locator(".po-panel").first
    detail.locator(".widget-text input").first.fill(SUBJECT["email"])
    button(detail, "Plan").click()
    erasure_status = detail.locator(".po-status").first
    expect(erasure_status).to_contain_text(f"for case {desk.erasure_case}", timeout=SLOW)
    plan_id = re.search(r"Plan (\S+) for case", erasure_status.inner_text()).group(1)
    expect(detail.locator(".po-error")).to_have_count(0)
    shot(page, desk, "erasure_plan", detail)
    assert ledger(root, "SELECT status, case_id FROM erasure_plans WHERE plan_id = ?", (plan_id,)) == [
        ("planned", desk.erasure_case)]
    assert company(root, "SELECT count(*) FROM crm.customers WHERE customer_id = ?",
                   (SUBJECT["customer_id"],)) == [(1,)]  # planned, not erased
    return {"sha256": sha, "download": saved, "plan_id": plan_id, "archive": stored}


def remove_download_copies(notebooks: Path, archive: str) -> None:
    """Remove the copy the export panel made beside the notebooks for this walk (only that file)."""
    (notebooks / "downloads" / Path(archive).name).unlink(missing_ok=True)
