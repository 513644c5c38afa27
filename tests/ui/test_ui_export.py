"""The export panel, driven in-process (no browser): it calls plan_export/export_subject and shows what comes back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest

from privacyops.access import list_exports
from privacyops.demo import STORIES
from privacyops.lookup import lookup
from privacyops.ui import ExportPanel
from tests.support.demo import JANIS, PASSWORD_RE, access_case, archive_files


def password_shown(panel: ExportPanel) -> str | None:
    m = re.search(r"<code>([a-z]+(?:-[a-z]+){5}-\d{3})</code>", panel.secret.value)
    return m.group(1) if m else None


def everything_but_the_secret(panel: ExportPanel) -> str:
    return "\n".join([panel.status.value, panel.review.value, panel.archives.value, panel.title.value,
                      repr(panel.result), str(panel.case.options)])


def test_review_then_export_shows_the_archive_and_the_password_once(demo_ws):
    panel = ExportPanel(demo_ws, subject=JANIS["email"])
    # Without a case the first review is a preview; the copy's datasets are listed with what is left out.
    assert panel.plan is not None and panel.plan.case is None
    assert "Preview" in panel.status.value
    found = lookup(demo_ws, JANIS["email"], audit_log=False)
    for name in found.records:
        assert name in panel.review.value
    assert "Left out, and why" in panel.review.value and "mention the subject" in panel.review.value
    assert "password_hash" in panel.review.value

    panel.export_button.click()  # no case: refused, clearly
    assert "po-error" in panel.status.value and "open a case first (button above)" in panel.status.value
    assert list_exports(demo_ws) == [] and not (demo_ws.root / "exports").exists()

    panel.new_type.value = "access"
    panel.new_received.value = dt.date.today() - dt.timedelta(days=3)
    panel.new_case_button.click()
    case_id = panel.case.value
    assert case_id.startswith("DSR-") and "Opened case" in panel.status.value
    assert "none yet" in panel.archives.value

    panel.review_button.click()
    assert f"Review for case {case_id}" in panel.status.value and panel.plan.case.case_id == case_id

    panel.export_button.click()
    assert "po-error" not in panel.status.value, panel.status.value
    (entry,) = list_exports(demo_ws, case_id)
    path = demo_ws.root / entry.path
    assert path.is_file()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry.sha256 == digest
    assert str(path) in panel.review.value and digest in panel.review.value
    assert entry.export_id in panel.archives.value and digest in panel.archives.value

    pw = password_shown(panel)
    assert pw and PASSWORD_RE.match(pw) and panel.secret_box.layout.display == "flex"
    assert panel.secret.value.count(pw) == 1 and "another channel" in panel.secret.value
    assert archive_files(path, pw)["data.json"]  # the password shown opens the archive
    assert pw not in everything_but_the_secret(panel)
    assert panel.result.password is None  # the panel does not keep it

    panel.hide_button.click()
    assert panel.secret.value == "" and panel.secret_box.layout.display == "none"

    panel.export_button.click()  # a second archive, a new password; the first is not shown again
    pw2 = password_shown(panel)
    assert pw2 and pw2 != pw and pw not in panel.secret.value
    assert len(list_exports(demo_ws, case_id)) == 2
    panel.review_button.click()  # any other action hides the password
    assert password_shown(panel) is None


def test_case_list_offers_open_access_and_portability_cases_only(demo_ws):
    access = access_case(demo_ws)
    portability = access_case(demo_ws, "portability")
    erasure = access_case(demo_ws, "erasure")
    panel = ExportPanel(demo_ws)
    values = [v for _label, v in panel.case.options]
    assert set(values) == {"", access, portability} and erasure not in values
    assert panel.case.value == ""  # no case is chosen for the analyst

    bad = ExportPanel(demo_ws, subject=JANIS["email"], case_id=erasure)
    assert "po-error" in bad.status.value and "erasure request" in bad.status.value
    assert bad.plan is None

    chosen = ExportPanel(demo_ws, subject=JANIS["email"], case_id=access)
    assert chosen.case.value == access and chosen.plan.case.case_id == access


def test_several_people_show_a_picker(demo_ws):
    case_id = access_case(demo_ws)
    panel = ExportPanel(demo_ws, subject=STORIES["family_a"]["email"], case_id=case_id)
    assert panel.picker.layout.display == "flex"
    assert [v for _l, v in panel.candidates.options] == ["crm.customers:3", "crm.customers:4"]
    panel.candidates.value = "crm.customers:4"
    panel.pick_button.click()
    assert panel.plan.records.subject.ref == "crm.customers:4"
    panel.export_button.click()
    (entry,) = list_exports(demo_ws, case_id)
    data = json.loads(archive_files(demo_ws.root / entry.path, password_shown(panel))["data.json"])
    assert [r["customer_id"] for r in data["datasets"]["crm.customers"]["records"]] == [4]


def test_password_file_is_used_and_nothing_is_shown(demo_ws, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("a long shared secret 42\n")
    case_id = access_case(demo_ws)
    panel = ExportPanel(demo_ws, subject=JANIS["email"], case_id=case_id, password_file=secret)
    panel.export_button.click()
    (entry,) = list_exports(demo_ws, case_id)
    assert archive_files(demo_ws.root / entry.path, "a long shared secret 42")["report.html"]
    assert panel.secret.value == "" and panel.secret_box.layout.display == "none"


def test_missing_workspace_and_bugs_are_shown_as_a_red_line(tmp_path, demo_ws, monkeypatch):
    panel = ExportPanel(tmp_path / "missing", subject=JANIS["email"])
    assert "po-error" in panel.status.value and "does not exist" in panel.status.value

    import privacyops.ui.export_panel as ep

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ep, "plan_export", broken)
    panel = ExportPanel(demo_ws, run=False, subject=JANIS["email"])
    with pytest.raises(RuntimeError):
        panel.review_plan()
    assert "unexpected RuntimeError: boom" in panel.status.value
    assert not panel.review_button.disabled and not panel.export_button.disabled
