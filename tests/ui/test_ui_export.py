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


@pytest.fixture(autouse=True)
def notebook_folder(tmp_path, monkeypatch):
    """The kernel's working folder is the notebook's: the download copies go under it (here a fresh folder)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def password_shown(panel: ExportPanel) -> str | None:
    m = re.search(r"<code>([a-z]+(?:-[a-z]+){5}-\d{3})</code>", panel.secret.value)
    return m.group(1) if m else None


def reveal(panel: ExportPanel) -> str | None:
    """Press "Show password" and read the password on screen."""
    panel.show_button.click()
    return password_shown(panel)


def widget_states() -> str:
    """Everything every live widget would send to the browser (or save into a notebook)."""
    from ipywidgets.widgets.widget import _instances

    return json.dumps([w.get_state() for w in list(_instances.values())], default=str)


def everything_but_the_secret(panel: ExportPanel) -> str:
    return "\n".join([panel.status.value, panel.review.value, panel.archives.value, panel.title.value,
                      repr(panel.result), str(panel.case.options)])


def test_review_then_export_offers_a_download_and_the_password_on_request(demo_ws, notebook_folder):
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

    # The download: a copy beside the notebook (a self-ignoring folder), linked relative to the notebook.
    copy = notebook_folder / "downloads" / path.name
    assert panel.downloads.copy == copy and hashlib.sha256(copy.read_bytes()).hexdigest() == digest
    assert (notebook_folder / "downloads" / ".gitignore").read_text().splitlines()[-1] == "*"
    (out,) = panel.downloads.widget.outputs
    link = re.search(r'<a class="po-download-link" href="([^"]+)" download="([^"]+)"', out["data"]["text/html"])
    assert link and link.groups() == (f"downloads/{path.name}", path.name) and digest in out["data"]["text/html"]

    # The password: held, not on screen and in no widget's state until asked for; how to send it is said.
    assert panel.secret_box.layout.display == "flex" and password_shown(panel) is None
    assert "another channel" in panel.password.note.value.lower() and "SMS" in panel.password.note.value
    assert "PBKDF2" not in widget_states() and not re.search(r'"[a-z]+(-[a-z]+){5}-\d{3}"', widget_states())
    pw = reveal(panel)
    assert pw and PASSWORD_RE.match(pw) and panel.secret.value.count(pw) == 1
    assert archive_files(copy, pw)["data.json"]  # the password shown opens the downloaded copy
    assert pw not in everything_but_the_secret(panel) and pw not in out["data"]["text/html"]
    assert panel.result.password is None  # the result the panel keeps has no password
    assert not any(pw.encode() in f.read_bytes() for f in notebook_folder.rglob("*") if f.is_file())

    panel.hide_button.click()
    assert password_shown(panel) is None and panel.secret_box.layout.display == "flex"
    assert reveal(panel) == pw  # shown again on request until the next action
    panel.hide_button.click()

    panel.export_button.click()  # a second archive, a new password; the first is forgotten
    pw2 = reveal(panel)
    assert pw2 and pw2 != pw and pw not in panel.secret.value
    assert len(list_exports(demo_ws, case_id)) == 2
    panel.review_button.click()  # any other action forgets the password
    assert reveal(panel) is None and panel.secret_box.layout.display == "none"


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
    data = json.loads(archive_files(demo_ws.root / entry.path, reveal(panel))["data.json"])
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


def test_download_copies_older_than_a_day_go_and_a_folder_outside_the_notebook_gets_no_link(demo_ws, tmp_path,
                                                                                           notebook_folder):
    import os
    import time

    from privacyops.ui.export_download import KEEP_SECONDS, offer_download

    archive = tmp_path / "DSR-1_EXP-1.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    folder = notebook_folder / "downloads"
    folder.mkdir()
    old, recent = folder / "old.zip", folder / "recent.zip"
    for p in (old, recent):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - KEEP_SECONDS - 60,) * 2)
    copy, href = offer_download(archive)
    assert not old.exists() and recent.exists()  # only copies past the day go
    assert copy.read_bytes() == archive.read_bytes() and href == "downloads/DSR-1_EXP-1.zip"
    assert oct(copy.stat().st_mode & 0o777) == oct(0o600)
    outside, href = offer_download(archive, tmp_path / "elsewhere")
    assert outside.is_file() and href is None
    os.utime(recent, (time.time() - KEEP_SECONDS - 60,) * 2)
    ExportPanel(demo_ws)  # opening the panel clears yesterday's copies too
    assert not recent.exists() and copy.exists()
