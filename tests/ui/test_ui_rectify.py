"""The rectification panel, driven in-process like a kernel drives it (no browser): it calls privacyops.rectify and
shows what comes back. Expectations come from direct SQL."""

from __future__ import annotations

import duckdb
import pytest

from privacyops.ledger import open_case
from privacyops.ui import RectificationPanel


def db(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def shown(panel: RectificationPanel) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") for o in panel.output.outputs)


@pytest.fixture()
def case(mini_ws):
    return open_case(mini_ws, "rectification", "2025-01-10").case_id


def find(panel, text):
    panel.subject.value = text
    panel.find_button.click()


def test_find_plan_apply(mini_ws, case):
    panel = RectificationPanel(mini_ws, case_id=case)
    assert panel.apply_button.disabled
    find(panel, "janis@mini.example")
    assert panel.records.subject.ref == "people.person:1"
    labels = dict((v, label) for label, v in panel.field.options)
    assert 'people.person.mail2 = "jb@other.example"' in labels["people.person.mail2"]  # the current value
    assert "people.person.pid" not in labels and "shop.items.title" not in labels

    panel.field.value = "people.person.mail2"
    assert "jb@other.example" in panel.current.value
    panel.new_value.value = "jb@new.example"
    panel.plan_button.click()
    assert panel.error is None and not panel.apply_button.disabled
    text = shown(panel)
    assert "people.person" in text and "mail.subscribers" in text  # every place the value is stored
    assert "same value also stored here" in text and "jb@new.example" in text
    assert db(mini_ws, "SELECT address FROM mail.subscribers WHERE sid = 1") == [("jb@other.example",)]

    panel.apply_button.click()
    assert panel.error is None and panel.result.verified
    assert "Applied and verified" in panel.status.value and "Written and read back" in shown(panel)
    assert db(mini_ws, "SELECT mail2 FROM people.person WHERE pid = 1") == [("jb@new.example",)]
    assert db(mini_ws, "SELECT address FROM mail.subscribers WHERE sid = 1") == [("jb@new.example",)]
    assert db(mini_ws, "SELECT pid FROM people.person WHERE mail2 = 'jb@new.example'") == [(1,)]
    assert panel.apply_button.disabled  # a plan is applied once
    assert "jb@new.example" in dict((v, lb) for lb, v in panel.field.options)["people.person.mail2"]


def test_errors_are_red_lines_and_change_nothing(mini_ws, case):
    panel = RectificationPanel(mini_ws, case_id=case, initial="janis@mini.example")
    before = db(mini_ws, "SELECT * FROM people.person ORDER BY pid")
    panel.field.value = "people.person.mail"
    panel.new_value.value = "not-an-email"
    panel.plan_button.click()
    assert "po-error" in panel.status.value and "not a valid e-mail address" in panel.status.value
    assert "Traceback" not in panel.status.value and panel.apply_button.disabled and panel.plan is None

    panel.case.value = ""
    panel.new_value.value = "ok@mini.example"
    panel.plan_button.click()
    assert "belongs to a case" in panel.status.value and panel.apply_button.disabled
    assert db(mini_ws, "SELECT * FROM people.person ORDER BY pid") == before


def test_changing_the_inputs_after_planning_needs_a_new_plan(mini_ws, case):
    panel = RectificationPanel(mini_ws, case_id=case, initial="janis@mini.example")
    panel.field.value = "people.person.full_name"
    panel.new_value.value = "Jānis B."
    panel.plan_button.click()
    assert not panel.apply_button.disabled
    panel.new_value.value = "Jānis C."
    assert panel.apply_button.disabled and panel.plan is None and "Plan again" in panel.status.value
    panel.apply_button.click()
    assert "make a plan first" in panel.status.value
    assert db(mini_ws, "SELECT full_name FROM people.person WHERE pid = 1") == [("Jānis Bērziņš",)]


def test_a_stale_plan_is_refused_in_the_panel(mini_ws, case):
    panel = RectificationPanel(mini_ws, case_id=case, initial="janis@mini.example")
    panel.field.value = "people.person.full_name"
    panel.new_value.value = "Jānis B."
    panel.plan_button.click()
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    con.execute("UPDATE people.person SET full_name = 'Someone Else' WHERE pid = 1")
    con.close()
    panel.apply_button.click()
    assert "changed since planning" in panel.status.value and "po-error" in panel.status.value
    assert db(mini_ws, "SELECT full_name FROM people.person WHERE pid = 1") == [("Someone Else",)]


def test_shared_email_asks_for_a_person_and_the_shared_row_stays(mini_ws, case):
    panel = RectificationPanel(mini_ws, case_id=case)
    find(panel, "home@mini.example")
    assert panel.picker.layout.display != "none" and panel.field.options == ()
    assert [ref for _l, ref in panel.candidates.options] == ["people.person:3", "people.person:4"]
    panel.candidates.value = "people.person:4"
    panel.pick_button.click()
    assert panel.records.subject.ref == "people.person:4"
    panel.field.value = "people.person.mail"
    panel.new_value.value = "oskars@mini.example"
    panel.plan_button.click()
    text = shown(panel)
    assert "The same value, not changed" in text and "shared with another person" in text
    panel.apply_button.click()
    assert db(mini_ws, "SELECT pid, mail FROM people.person WHERE pid IN (3, 4) ORDER BY pid") == [
        (3, "home@mini.example"), (4, "oskars@mini.example")]
    assert db(mini_ws, "SELECT address FROM mail.subscribers WHERE sid = 3") == [("home@mini.example",)]


def test_not_found_and_missing_workspace(mini_ws, case, tmp_path):
    panel = RectificationPanel(mini_ws, case_id=case)
    find(panel, "nobody@nowhere.example")
    assert "No records found" in panel.status.value and panel.field.options == ()
    panel.plan_button.click()
    assert "find the person first" in panel.status.value
    gone = RectificationPanel(tmp_path / "missing")
    assert "po-error" in gone.status.value and "does not exist" in gone.status.value
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id


KERNEL_CODE = """
import duckdb
from privacyops.ledger import open_case
from privacyops.ui import RectificationPanel
from privacyops.workspace import open_workspace
ws = open_workspace({root!r})
case = open_case(ws, "rectification", "2025-01-10").case_id
panel = RectificationPanel(ws, case_id=case, initial="janis@mini.example")
panel.field.value = "people.person.tel"
panel.new_value.value = "+371 2999 0000"
panel.plan_button.click()
panel.apply_button.click()
display(panel)
print("STATUS", panel.status.value)
"""


@pytest.mark.slow
def test_the_panel_in_a_jupyter_kernel(mini_ws):
    """The same panel in a real kernel (as JupyterLab runs it): it displays as a widget and applies."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(KERNEL_CODE.format(root=str(mini_ws.root))))
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(mini_ws.root)}}).execute()
    outputs = nb.cells[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "Applied and verified" in printed
    assert db(mini_ws, "SELECT pid, tel FROM people.person ORDER BY pid")[0] == (1, "+371 2999 0000")
