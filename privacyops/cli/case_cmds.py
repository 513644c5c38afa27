"""`privacyops case`: the register of data-subject requests."""

from __future__ import annotations

from pathlib import Path

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main


@main.group("case")
def case_group() -> None:
    """The register of data-subject requests."""


@case_group.command("open")
@_ws_option
@click.option("--type", "case_type", required=True, help="access, portability, rectification, erasure, ...")
@click.option("--received", required=True, help="Date the request was received (YYYY-MM-DD).")
@click.option("--subject", default=None, help="The subject's identifier (stored only as a keyed hash).")
@click.option("--channel", default=None)
@click.option("--verified-by", default=None)
@click.option("--json", "as_json", is_flag=True)
def case_open(workspace: Path | None, case_type: str, received: str, subject: str | None, channel: str | None,
              verified_by: str | None, as_json: bool) -> None:
    """Open a case; prints its id and due date (one month from receipt)."""
    from ..ledger import open_case

    case = open_case(open_workspace(workspace), case_type, received, channel=channel, verified_by=verified_by,
                     subject=subject)
    if as_json:
        _emit_json(case.to_dict())
    else:
        click.echo(f"{case.case_id}  {case.type}  received {case.received}  due {case.due}")


@case_group.command("list", short_help="The request inbox: who, what, due, days left.")
@_ws_option
@click.option("--status", type=click.Choice(["open", "closed", "all"]), default="all", show_default=True)
@click.option("--type", "case_type", default=None, help="Only this type (access, erasure, ...).")
@click.option("--overdue", is_flag=True, help="Only open cases past their deadline.")
@click.option("--sort", type=click.Choice(["due", "received", "newest", "case", "type"]), default="due",
              show_default=True, help="due: the most urgent first.")
@click.option("--today", default=None, help="Count days left from this day (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True)
def case_list(workspace: Path | None, status: str, case_type: str | None, overdue: bool, sort: str,
              today: str | None, as_json: bool) -> None:
    """The request inbox: subject reference, type, received, due (extended when extended), days left, overdue;
    the open cases first, the most urgent first."""
    from ..ledger import list_cases
    from ..ledger.inbox import request_inbox
    from .output import echo, table

    ws = open_workspace(workspace)
    got = request_inbox(ws, today=today, case_type=case_type, status=status, overdue_only=overdue, sort=sort)
    if as_json:  # every field of the case, and the inbox's
        cases = {c.case_id: c for c in list_cases(ws)}
        _emit_json([{**cases[r.case_id].to_dict(), **r.to_dict()} for r in got])
        return
    if not got:
        click.echo("No cases match.")
        return
    rows = [(r.case_id, r.subject_ref or "—", r.type, r.received, r.due, "ext." if r.extended else "",
             "" if r.days_left is None else r.days_left, "OVERDUE" if r.overdue else "", r.status) for r in got]
    late = sum(r.overdue for r in got)
    echo(table(["case", "subject", "type", "received", "due", "", "days left", "overdue", "status"], rows,
               right=["days left"]),
         f"{len(got)} case(s), {late} overdue; subject — : not recorded yet (privacyops case subject CASE REF).")


@case_group.command("subject", short_help="Record who a case is about (DATASET:KEY).")
@click.argument("case_id")
@click.argument("ref")
@_ws_option
def case_subject(case_id: str, ref: str, workspace: Path | None) -> None:
    """Record who a case is about: the person's reference DATASET:KEY (as a lookup shows it, in brackets)."""
    from ..ledger.inbox import set_subject_ref

    row = set_subject_ref(open_workspace(workspace), case_id, ref)
    click.echo(f"{row.case_id}  subject {row.subject_ref}")


@case_group.command("extend", short_help="Extend a case's deadline (Art. 12(3)), once told.")
@click.argument("case_id")
@_ws_option
@click.option("--months", type=click.IntRange(1, 2), required=True, help="1 or 2 (at most 2 in all).")
@click.option("--reason", required=True, help="Why: the complexity or number of requests (the subject is told).")
@click.option("--informed", default=None, help="When the subject was told (YYYY-MM-DD; default today).")
def case_extend(case_id: str, workspace: Path | None, months: int, reason: str, informed: str | None) -> None:
    """Extend a case's deadline (Art. 12(3)): before its first due date, with a reason, the subject told."""
    from ..ledger import extend_case

    case = extend_case(open_workspace(workspace), case_id, months, reason, informed=informed)
    click.echo(f"{case.case_id}  now due {case.deadline} (was {case.due}); subject informed {case.subject_informed}")


@case_group.command("close")
@click.argument("case_id")
@_ws_option
@click.option("--outcome", required=True, help="What was done, or why the request was refused.")
def case_close(case_id: str, workspace: Path | None, outcome: str) -> None:
    """Close a case with its outcome."""
    from ..ledger import close_case

    case = close_case(open_workspace(workspace), case_id, outcome)
    on_time = "on time" if case.closed_at.date() <= case.deadline else f"LATE (deadline {case.deadline})"
    click.echo(f"{case.case_id}  closed {case.closed_at:%Y-%m-%d}, {on_time}: {case.outcome}")
