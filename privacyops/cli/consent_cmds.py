"""`privacyops consent`: the consent ledger (record, withdraw, list)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main

if TYPE_CHECKING:
    from ..consent import ConsentResult


@main.group("consent")
def consent_group() -> None:
    """The consent ledger: consent given (record) or withdrawn (withdraw, in effect at once)."""


def _print_consent(result: ConsentResult, as_json: bool) -> None:
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.echo(result.line())


@consent_group.command("record")
@click.argument("subject", required=False)
@_ws_option
@click.option("--purpose", required=True, help="A purpose of the map resting on consent (e.g. marketing).")
@click.option("--method", required=True, help="How it was given: web_form, email_link, paper_form, ...")
@click.option("--notice", required=True, help="The version of the privacy notice the person saw (e.g. v3.1).")
@click.option("--at", "at", default=None, help="When it was given (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC; default now).")
@click.option("--case", "case_id", default=None, help="A case this belongs to.")
@click.option("--pick", default=None, help="Choose a person: DATASET:KEY (when several match).")
@click.option("--json", "as_json", is_flag=True)
def consent_record(subject: str | None, workspace: Path | None, purpose: str, method: str, notice: str,
                   at: str | None, case_id: str | None, pick: str | None, as_json: bool) -> None:
    """Record consent given (the subject is stored only as a keyed hash)."""
    from ..consent import record_consent

    _print_consent(record_consent(open_workspace(workspace), subject, purpose, method=method, notice=notice, at=at,
                                  case_id=case_id, pick=pick), as_json)


@consent_group.command("withdraw")
@click.argument("subject", required=False)
@_ws_option
@click.option("--purpose", required=True, help="The purpose consent is withdrawn for (e.g. marketing).")
@click.option("--method", default=None, help="How it was withdrawn: email, phone, letter, ... (default privacy_team).")
@click.option("--at", "at", default=None, help="When (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC; default now).")
@click.option("--case", "case_id", default=None, help="A case this belongs to (e.g. a consent-withdrawal case).")
@click.option("--pick", default=None, help="Choose a person: DATASET:KEY (when several match).")
@click.option("--json", "as_json", is_flag=True)
def consent_withdraw(subject: str | None, workspace: Path | None, purpose: str, method: str | None, at: str | None,
                     case_id: str | None, pick: str | None, as_json: bool) -> None:
    """Record a withdrawal, in effect at once: for direct marketing the person's e-mail addresses go on the
    suppression list in the same step. Audited."""
    from ..consent import withdraw_consent

    _print_consent(withdraw_consent(open_workspace(workspace), subject, purpose, method=method, at=at,
                                    case_id=case_id, pick=pick), as_json)


@consent_group.command("list")
@_ws_option
@click.option("--purpose", default=None)
@click.option("--json", "as_json", is_flag=True)
def consent_list(workspace: Path | None, purpose: str | None, as_json: bool) -> None:
    """privacyops' consent records (subjects as keyed hashes)."""
    from ..consent import list_records

    got = list_records(open_workspace(workspace), purpose)
    if as_json:
        _emit_json([r.to_dict() for r in got])
        return
    if not got:
        click.echo("No consent records.")
    for r in got:
        click.echo(f"{r.record_id}  {r.occurred_at:%Y-%m-%d %H:%M}  {r.action:9} {r.purpose:12} {r.method or '-':14} "
                   f"{r.notice_version or '-':6} subject {r.subject_hash[:12]}…  by {r.recorded_by}"
                   + (f"  case {r.case_id}" if r.case_id else ""))
