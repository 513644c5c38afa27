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


@case_group.command("list")
@_ws_option
@click.option("--status", default=None)
@click.option("--json", "as_json", is_flag=True)
def case_list(workspace: Path | None, status: str | None, as_json: bool) -> None:
    """List cases."""
    from ..ledger import list_cases

    got = list_cases(open_workspace(workspace), status)
    if as_json:
        _emit_json([c.to_dict() for c in got])
        return
    for c in got:
        extended = f" (extended from {c.due})" if c.extended_due else ""
        click.echo(f"{c.case_id}  {c.type:18} {c.status:7} received {c.received}  due {c.deadline}{extended}")


@case_group.command("extend")
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
