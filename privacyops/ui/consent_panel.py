"""The consent panel: record a withdrawal of consent that takes effect at once.

Type who it is (any identifier, or DATASET:KEY), pick the purpose (the map's consent-based purposes), press
Withdraw: one line confirms what was recorded and, for direct marketing, how many e-mail addresses are now on the
suppression list. No business logic lives here: the panel calls `privacyops.consent.withdraw_consent` (the function
`privacyops consent withdraw` calls) and shows what comes back; errors privacyops raises on purpose appear as a red
line, never as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..consent import ConsentResult, consent_purposes, withdraw_consent
from ..errors import PrivacyOpsError
from ..workspace import Workspace, open_workspace
from .common import CSS
from .common import esc as _e


class ConsentPanel:
    """Record a consent withdrawal in a notebook: `ConsentPanel(ws)` (or a workspace path, or None)."""

    def __init__(self, workspace: Workspace | str | Path | None = None, *, subject: str | None = None,
                 purpose: str | None = None, method: str | None = None, case_id: str | None = None):
        self.ws: Workspace | None = None
        self.result: ConsentResult | None = None
        self.error: str | None = None
        self._workspace_arg = workspace

        self.title = widgets.HTML()
        self.subject = widgets.Text(value=subject or "", placeholder="e-mail, phone, customer id or DATASET:KEY",
                                    description="Subject", layout=widgets.Layout(width="420px"),
                                    style={"description_width": "60px"})
        self.purpose = widgets.Dropdown(options=[], description="Purpose", layout=widgets.Layout(width="300px"),
                                        style={"description_width": "60px"})
        self.method = widgets.Text(value=method or "", placeholder="how: email, phone, letter… (optional)",
                                   description="Method", layout=widgets.Layout(width="330px"),
                                   style={"description_width": "60px"})
        self.case = widgets.Text(value=case_id or "", placeholder="DSR-YYYY-NNNN (optional)", description="Case",
                                 layout=widgets.Layout(width="260px"), style={"description_width": "40px"})
        self.withdraw_button = widgets.Button(description="Withdraw", button_style="danger", icon="ban",
                                              tooltip="Record the withdrawal now; for direct marketing the "
                                                      "e-mail addresses go on the suppression list at once",
                                              layout=widgets.Layout(width="120px"))
        self.status = widgets.HTML(value="")
        self.withdraw_button.on_click(lambda _b: self.withdraw())
        self.widget = widgets.VBox([
            widgets.HTML(CSS), self.title,
            widgets.HBox([self.subject, self.purpose]),
            widgets.HBox([self.method, self.case, self.withdraw_button]),
            self.status,
        ])
        self.widget.add_class("po-panel")
        self.widget.add_class("po-consent")
        if self._open():
            options = consent_purposes(self.ws.datamap)
            self.purpose.options = options
            if purpose in options:
                self.purpose.value = purpose
            elif options:
                self.purpose.value = options[0]
            if not options:
                self._set_error("the data map has no purpose resting on consent: there is no consent to withdraw")
                self.withdraw_button.disabled = True
            else:
                self._set_status("Type who withdraws consent, choose the purpose and press Withdraw: it takes "
                                 "effect at once.", "po-muted")

    # -- showing the panel ----------------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- the action -----------------------------------------------------------------------------------------------
    def withdraw(self) -> ConsentResult | None:
        """Record the withdrawal in the form; show one confirmation line."""
        if not self._open():
            return None
        self.withdraw_button.disabled = True
        self._set_status("Recording…", "po-muted")
        try:
            got = withdraw_consent(self.ws, self.subject.value.strip() or None, self.purpose.value or "",
                                   method=self.method.value.strip() or None, case_id=self.case.value.strip() or None)
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            return None
        except Exception as exc:  # a bug, not a user mistake: say so plainly, keep the traceback for the log
            self._set_error(f"unexpected {type(exc).__name__}: {exc}")
            raise
        finally:
            self.withdraw_button.disabled = False
        self.error = None
        self.result = got
        self._set_status(got.line(), "po-ok po-confirmation")
        return got

    def _open(self) -> bool:
        if self.ws is not None:
            return True
        arg = self._workspace_arg
        try:
            self.ws = arg if isinstance(arg, Workspace) else open_workspace(arg)
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            self.title.value = '<div class="po-title">Consent withdrawal</div><div class="po-muted">no workspace</div>'
            self.withdraw_button.disabled = True
            return False
        org = _e(self.ws.datamap.organisation.name)
        self.title.value = (f'<div class="po-title">Consent withdrawal — {org}</div>'
                            f'<div class="po-muted">recorded in the consent ledger; direct marketing stops at once '
                            f'(suppression list) · workspace {_e(self.ws.root)}</div>')
        return True

    def _set_status(self, text: str, css: str = "po-ok") -> None:
        self.status.value = f'<div class="po-status {css}">{_e(text)}</div>'

    def _set_error(self, message: str) -> None:
        self.error = message
        self.status.value = f'<div class="po-status po-error">Error: {_e(message)}</div>'
