"""The report pages in the system Chromium with the network cut off: the charts (inline SVG) and the key figures
are there, and the page asks for nothing beyond itself.

Needs Debian's chromium (`./run test` installs it). Playwright only drives it: no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from privacyops.demo import DEMO_TODAY
from privacyops.reports import consent_report, retention_report
from privacyops.workspace import open_workspace

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("PRIVACYOPS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def pages(default_demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-pages")
    ws = open_workspace(default_demo)
    retention = retention_report(ws, DEMO_TODAY, audit_log=False)
    consent = consent_report(ws, DEMO_TODAY, audit_log=False)
    return {"retention": (retention.write(out)[0], retention), "consent": (consent.write(out)[0], consent)}


def test_report_pages_open_offline_with_charts_and_figures(pages, default_demo):
    from playwright.sync_api import expect, sync_playwright

    if not os.path.isfile(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (./run test does)")
    con = duckdb.connect(str(default_demo / "company.duckdb"), read_only=True)
    logins_overdue = con.execute("SELECT count(*) FROM app.login_events "
                                 "WHERE logged_in_at < TIMESTAMP '2025-11-15'").fetchone()[0]
    withdrawals = con.execute("SELECT count(*) FROM marketing.consent_events WHERE action = 'withdrawn'").fetchone()[0]
    con.close()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 1400})
            asked: list[str] = []
            allowed = {p.as_uri() for p, _ in pages.values()}

            def guard(route):
                if route.request.url in allowed:
                    route.continue_()
                else:  # the network (and any other file) is cut off: a page that needs it would break here
                    asked.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.set_default_timeout(15_000)

            path, report = pages["retention"]
            page.goto(path.as_uri())
            chart = page.locator('svg[data-chart="erasures-due"]')
            expect(chart).to_be_visible()
            assert chart.locator("rect.po-bar").count() > 10
            assert chart.bounding_box()["width"] > 400
            overdue = report.figures()["overdue"]
            expect(page.locator('[data-figure="overdue"] .po-value')).to_have_text(f"{overdue:,}")
            row = page.locator("#per-dataset tr", has_text="app.login_events")
            expect(row.locator("td").nth(4)).to_have_text(f"{logins_overdue:,}")
            expect(page.locator("#outside-eu")).to_contain_text("helpdesk")

            path, report = pages["consent"]
            page.goto(path.as_uri())
            expect(page.locator('svg[data-chart="consent-events"]')).to_be_visible()
            expect(page.locator('[data-figure="withdrawals"] .po-value')).to_have_text(f"{withdrawals:,}")
            expect(page.locator("#after-withdrawal")).to_contain_text("marketing.email_sends")
            page.screenshot(path="/tmp/browser_consent_report.png", full_page=False)
            assert asked == []  # the pages asked for nothing beyond themselves
        finally:
            browser.close()
