"""Widgets and HTML the panels share: the case row, the subject box, the candidate picker, the status line, tables.

Only construction and rendering live here; no business logic. Every call into privacyops (lookup, plan_export,
…) stays in the panel module that makes it; `case_panel.py` makes the case calls (open_case, list_cases) the
erasure and export panels share. `PanelView` is what every panel does with its widgets.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..errors import PrivacyOpsError
from ..templating import environment
from ..workspace import Workspace, open_workspace

NO_CASE = ""
SUBJECT_PLACEHOLDER = "e-mail, phone, customer id or name"

CSS = """
<style>
.po-panel { max-width: 1200px; }
.po-panel .po-title { font-size: 15px; font-weight: 600; margin: 0 0 2px 0; }
.po-panel .po-muted { color: #6b7280; font-size: 12px; }
.po-panel .po-status { font-size: 13px; padding: 2px 0; }
.po-panel .po-ok { color: #166534; }
.po-panel .po-warn { color: #92400e; }
.po-panel .po-error { color: #b91c1c; font-weight: 600; white-space: pre-wrap; }
.po-result h4 { font-size: 13px; font-weight: 600; margin: 14px 0 4px 0; }
.po-result .po-summary { font-size: 13px; padding: 6px 8px; background: #f3f4f6; border-left: 3px solid #2563eb; }
.po-result table.po-table, .po-panel table.po-table {
  border-collapse: collapse; font-size: 12px; margin: 2px 0 8px 0; }
.po-result table.po-table th, .po-panel table.po-table th {
  background: #f3f4f6; text-align: left; padding: 3px 8px; border-bottom: 1px solid #d1d5db; }
.po-result table.po-table td, .po-panel table.po-table td {
  text-align: left; padding: 3px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; max-width: 340px;
  white-space: normal; overflow-wrap: break-word; }
.po-panel .po-nowrap, .po-result .po-nowrap, .po-panel table.po-table td.po-nowrap,
.po-result table.po-table td.po-nowrap { white-space: nowrap; overflow-wrap: normal; }
.po-result table.po-table td.po-count { text-align: right; }
.po-result table.po-table details > summary { cursor: pointer; }
.po-result table.po-table details.po-digest code { font-size: 11px; }
.po-result table.po-table details .po-full { white-space: normal; overflow-wrap: anywhere; }
.po-result .po-scroll { overflow-x: auto; max-width: 100%; }
.po-result dl.po-facts { display: grid; grid-template-columns: max-content auto; gap: 2px 12px;
  font-size: 12px; margin: 4px 0 8px 0; }
.po-result dl.po-facts dt { color: #6b7280; white-space: nowrap; }
.po-result dl.po-facts dd { margin: 0; }
</style>
"""


# -- HTML ---------------------------------------------------------------------------------------------------------
def esc(value: Any) -> str:
    return html.escape(str(value))


_TEMPLATES: Any = None
LONG_CELL = 140  # characters: a longer value shows its start, the rest on expanding
LONG_SHOWN = 90
DIGEST_SHOWN = 12
SHORT_TOKEN = 32  # one word up to this long stays whole (a column is never narrower than it, "compa|ny")
_DIGEST = re.compile(r"^(?:sha256:)?[0-9a-f]{40,128}$", re.IGNORECASE)  # SHA-1/256/512 hex digests, keyed hashes
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:\s*…\s*\d{4}-\d{2}-\d{2})?$")
_ID = re.compile(r"^[\w.+@/#:,\-]*[\-:.][\w.+@/#:,\-]*$")  # one token with a hyphen, dot or colon: DSR-2026-0001
_ID_COLUMNS = re.compile(r"(?:^|[ _])(?:id|ref|key|case|plan|certificate|until|due|date|on|at|as of|received)$")


def templates() -> Any:
    """The panels' Jinja2 environment (`ui/templates/`, autoescape on), made once."""
    global _TEMPLATES
    if _TEMPLATES is None:
        _TEMPLATES = environment(__package__)
    return _TEMPLATES


def render(template: str, **data: Any) -> str:
    """A panel template rendered with `data` (every value escaped unless the template says otherwise)."""
    return templates().get_template(template).render(**data)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return not isinstance(value, (str, bytes, list, tuple, dict, set)) and bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cell_view(value: Any, column: str = "") -> dict[str, str]:
    """How one table cell shows `value`: {kind, text, short, full}. Missing values are blank; dates and ids (and the
    columns that hold them) never wrap, so they do not break at a hyphen; a digest shows its first 12 characters
    (all of it on hover and on expanding); a long text its start, the rest on expanding; other text wraps."""
    if _missing(value):
        return {"kind": "text", "text": ""}
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.strftime("%Y-%m-%d %H:%M")
        return {"kind": "nowrap", "text": text}
    if isinstance(value, dt.date):
        return {"kind": "nowrap", "text": value.isoformat()}
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return {"kind": "text", "text": text}  # a number never breaks: a plain cell
    if _DIGEST.match(text):
        return {"kind": "digest", "short": text[:DIGEST_SHOWN] + "…", "full": text}
    if len(text) > LONG_CELL:
        cut = text[:LONG_SHOWN].rsplit(" ", 1)[0] if " " in text[:LONG_SHOWN] else text[:LONG_SHOWN]
        return {"kind": "long", "short": cut + " …", "full": text}
    if _DATE.match(text) or (len(text) <= 48 and _ID.match(text)) or (len(text) <= SHORT_TOKEN and not any(
            ch.isspace() for ch in text)) or (len(text) <= 48 and " " not in text and _ID_COLUMNS.search(column.lower())):
        return {"kind": "nowrap", "text": text}
    return {"kind": "text", "text": text}


def table(df: pd.DataFrame) -> str:
    """A DataFrame as an HTML table (values escaped by the template), scrolling sideways when wide: text wraps,
    dates and ids stay on one line, digests and long texts show their start and expand (`cell_view`)."""
    columns = [str(c) for c in df.columns]
    rows = [[cell_view(v, c) for v, c in zip(r, columns)] for r in df.itertuples(index=False, name=None)]
    return render("table.html.j2", columns=columns, rows=rows)


# -- plain words --------------------------------------------------------------------------------------------------
MASK_WORDS = {"hmac": "replaced by a keyed code", "redact": "replaced by “[erased]”", "null": "emptied",
              "value": "replaced by a fixed value"}


def field_words(name: str) -> str:
    """A column name as words: `billing_name` -> "billing name"."""
    return str(name).replace("_", " ").strip()


def masked_words(masked: str) -> str:
    """`billing_name:hmac, billing_address:redact` (a plan's masked fields) in words: "billing name: replaced by a
    keyed code; billing address: replaced by “[erased]”"."""
    out = []
    for part in (p.strip() for p in str(masked or "").split(",")):
        if not part:
            continue
        col, _, how = part.rpartition(":")
        out.append(f"{field_words(col)}: {MASK_WORDS.get(how, 'replaced by a fixed value')}" if col
                   else field_words(part))
    return "; ".join(out)


_ANCHOR = re.compile(r"\bend_of_(fiscal_year|month)\(([\w.]+)\)")
_FROM_FIELD = re.compile(r"\bfrom ([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")


def anchor_words(text: str) -> str:
    """A retention period's start in words: "3 years from end_of_fiscal_year(issued_at)" -> "3 years from the end
    of the fiscal year of issued at"; "from closed_at" -> "from closed at"."""
    text = _ANCHOR.sub(lambda m: f"the end of the {field_words(m[1])} of {field_words(m[2])}", str(text or ""))
    return _FROM_FIELD.sub(lambda m: f"from {field_words(m[1])}", text)


# Engine messages name the CLI command or setting to use; in a panel the buttons are the way: say that instead.
_CASE_FIRST = "open a case first (button above)"
_PLAIN = ((re.compile(r"give its case \(open one with `privacyops case open[^`]*`\)"), _CASE_FIRST),
          (re.compile(r": open one with `privacyops case open[^`]*`(?: and give its id)?"), ": " + _CASE_FIRST),
          (re.compile(r"open one with `privacyops case open[^`]*`"), "open one with the Open case button above"),
          (re.compile(r"\bor a pick\b"), "or choose the person"),
          (re.compile(r"pick one with --pick REF"), "pick one below"),
          (re.compile(r"\(--pick REF, or type the REF\)"), "(type one of these in the box)"),
          (re.compile(r"Say which one with pick \(--pick [^()]*\)"), "Choose the person"),
          (re.compile(r"\s*\(--pick [^()]*\)"), ""),  # (the erasure panel looks for "pick one")
          (re.compile(r";? ?see `privacyops [^`]*`"), ""),
          (re.compile(r"\s*\([^()]*(?:privacyops |PRIVACYOPS_)[^()]*\)"), ""),
          (re.compile(r"`?privacyops erase retry \S+`?"), "press Retry"),
          (re.compile(r"`?privacyops erase cancel \S+ --reason \S+`?"), "press Cancel with a reason"),
          (re.compile(r"`?privacyops erase execute( \S+)?`?"), "press Execute"),
          (re.compile(r"`?privacyops [a-z]+( [a-z]+)?[^;.\n]*`?"), "the command line"),
          (re.compile(r"\$?PRIVACYOPS_ACTOR"), "who you act as"),
          (re.compile(r"\$?PRIVACYOPS_[A-Z_]+"), "the setting"))


def plain_words(message: str) -> str:
    """A message for a panel: the CLI commands and variable names it suggests become the buttons and plain words."""
    for pattern, words in _PLAIN:
        message = pattern.sub(words, message)
    return message


def html_bundle(html_text: str, plain: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<div class="po-result">{html_text}</div>', "text/plain": plain}}


def widget_bundle(w: widgets.Widget) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.jupyter.widget-view+json":
                     {"version_major": 2, "version_minor": 0, "model_id": w.model_id},
                     "text/plain": repr(w)}}


def title_html(title: str, muted: str) -> str:
    """The panel's heading (both parts are HTML: escape what comes from data)."""
    return f'<div class="po-title">{title}</div><div class="po-muted">{muted}</div>'


_TOKEN = re.compile(r"(?<![\w-])(\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?|[A-Z]{2,5}-[0-9A-Z]{2,}(?:-[0-9A-Z]+)*)(?![\w-])")


def nowrap_tokens(escaped: str) -> str:
    """Escaped text with its dates and ids (2026-11-15, DSR-2026-0012, ERP-127C96FB48) kept on one line: a line
    break never splits them at a hyphen."""
    return _TOKEN.sub(r'<span class="po-nowrap">\1</span>', escaped)


def status_html(text: str, css: str = "po-ok", raw: bool = False) -> str:
    return f'<div class="po-status {css}">{text if raw else esc(text)}</div>'


def error_html(message: str) -> str:
    return f'<div class="po-status po-error">Error: {esc(message)}</div>'


# -- widgets ------------------------------------------------------------------------------------------------------
def panel_box(children: Sequence[widgets.Widget], extra_css: str = "") -> widgets.VBox:
    """The panel: the style sheet first, then `children`, in a box styled as a panel."""
    box = widgets.VBox([widgets.HTML(CSS + extra_css), *children])
    box.add_class("po-panel")
    return box


def subject_text(value: str | None, *, labelled: bool = True, width: str = "420px") -> widgets.Text:
    """The box for who the request is about (labelled "Subject", or bare as a search box)."""
    if not labelled:
        return widgets.Text(value=value or "", placeholder=SUBJECT_PLACEHOLDER, layout=widgets.Layout(width=width))
    return widgets.Text(value=value or "", placeholder=SUBJECT_PLACEHOLDER, description="Subject",
                        layout=widgets.Layout(width=width), style={"description_width": "56px"})


def case_row(prompt: str, tooltip: str) -> tuple[widgets.Dropdown, widgets.DatePicker, widgets.Button]:
    """The open-case dropdown (first option: `prompt`), the "received" date and the "Open case" button."""
    case = widgets.Dropdown(options=[(prompt, NO_CASE)], value=NO_CASE, description="Case",
                            layout=widgets.Layout(width="560px"), style={"description_width": "40px"})
    received = widgets.DatePicker(value=dt.date.today(), description="received",
                                  layout=widgets.Layout(width="230px"), style={"description_width": "60px"})
    button = widgets.Button(description="Open case", icon="folder-open", tooltip=tooltip,
                            layout=widgets.Layout(width="120px"))
    return case, received, button


def set_case_options(case: widgets.Dropdown, options: Iterable[tuple[str, str]]) -> None:
    """Offer `options` (after the prompt), keeping the chosen case selected even when it is not among them."""
    current = case.value
    merged = [case.options[0], *options]
    if current and current not in [v for _l, v in merged]:
        merged.append((current, current))
    case.options = merged
    case.value = current


def select_case(case: widgets.Dropdown, case_id: str, label: str) -> None:
    """Select `case_id`, adding it (as `label`) when the dropdown does not offer it."""
    if case_id not in [v for _l, v in case.options]:
        case.options = list(case.options) + [(label, case_id)]
    case.value = case_id


class CaseChooser:
    """The case row as one widget group: the open-case dropdown, the "received" date and the "Open case" button
    (`extra` widgets sit between the dropdown and the date). The panel lists the cases and opens new ones."""

    def __init__(self, prompt: str, tooltip: str, extra: Sequence[widgets.Widget] = ()):
        self.case, self.received, self.button = case_row(prompt, tooltip)
        self.row = widgets.HBox([self.case, *extra, self.received, self.button])

    @property
    def case_id(self) -> str | None:
        """The chosen case, or None before one is chosen."""
        return self.case.value or None

    def offer(self, open_cases: Iterable[Any]) -> None:
        """Offer these open cases, the latest received first, keeping the chosen one selected."""
        ordered = sorted(open_cases, key=lambda c: (c.received, c.case_id), reverse=True)
        set_case_options(self.case, [(f"{c.case_id} · {c.type} · received {c.received} · due {c.deadline}",
                                      c.case_id) for c in ordered])

    def select(self, case_id: str, label: str) -> None:
        """Select `case_id`, adding it (as `label`) when the dropdown does not offer it."""
        select_case(self.case, case_id, label)


def candidate_picker(button_text: str,
                     button_width: str = "170px") -> tuple[widgets.Dropdown, widgets.Button, widgets.HBox]:
    """The candidate list and its button, in a row hidden until a search is ambiguous."""
    candidates = widgets.Dropdown(options=[], description="Candidate", layout=widgets.Layout(width="620px"),
                                  style={"description_width": "72px"})
    button = widgets.Button(description=button_text, icon="user", layout=widgets.Layout(width=button_width))
    picker = widgets.HBox([candidates, button], layout=widgets.Layout(display="none"))
    return candidates, button, picker


def offer_candidates(candidates: widgets.Dropdown, picker: widgets.HBox, found: Sequence[Any], *,
                     score: bool = False, hide_if_none: bool = False) -> None:
    """List the people a search matched (label · ref [· score]), the first chosen, and show the picker."""
    candidates.options = [(f"{c.label}  ·  {c.ref}" + (f"  ·  score {c.score:.2f}" if score else ""), c.ref)
                          for c in found]
    candidates.value = found[0].ref if found else None
    picker.layout.display = "none" if hide_if_none and not found else "flex"


class PanelView(ABC):
    """What every panel does with its widgets: show itself in a notebook, write the status line and errors.

    A panel sets `widget`, `status` and `error`; with `clears_error`, any status line but an error forgets the last
    error.
    """

    widget: widgets.Widget
    status: widgets.HTML
    error: str | None
    clears_error = False

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _set_status(self, text: str, css: str = "po-ok", raw: bool = False) -> None:
        if self.clears_error and css != "po-error":
            self.error = None
        self.status.value = status_html(text if raw else plain_words(text), css, raw)

    def _set_error(self, message: str) -> None:
        self.error = message = plain_words(message)
        self.status.value = error_html(message)

    @abstractmethod
    def _open(self) -> bool:
        """Open the workspace once and title the panel; False after showing why (each panel says how)."""

    @abstractmethod
    def _busy(self, busy: bool) -> None:
        """Disable the panel's buttons while a call runs (each panel says which)."""

    def _open_workspace(self, name: str) -> bool:
        """Open the panel's workspace (a Workspace given, or a folder); on failure show why and title the panel
        `name` with "no workspace" — the next click tries again."""

        arg = self._workspace_arg
        try:
            self.ws = arg if isinstance(arg, Workspace) else open_workspace(arg)
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            self.title.value = title_html(name, "no workspace")
            return False
        return True

    def _call(self, call: Any, working: str, on_error: Any = None) -> tuple[bool, Any]:
        """Open the workspace (the panel's `_open`), show `working` as the status line, then `_guarded(call)`;
        (False, None) when the workspace cannot be opened."""
        if not self._open():
            return False, None
        self._set_status(working, "po-muted")
        return self._guarded(call, on_error)

    def _guarded(self, call: Any, on_error: Any = None) -> tuple[bool, Any]:
        """`call(self.ws)` with the buttons disabled: (True, its result), or (False, None) after showing a
        privacyops error as the red line (`on_error` first clears what must not stay on screen). Anything else
        is a bug: said plainly, and re-raised so the traceback reaches the log."""

        self._busy(True)
        try:
            return True, call(self.ws)
        except PrivacyOpsError as exc:
            if on_error is not None:
                on_error()
            self._set_error(str(exc))
            return False, None
        except Exception as exc:
            self._set_error(f"unexpected {type(exc).__name__}: {exc}")
            raise
        finally:
            self._busy(False)
