"""Erasure (Art. 17, 18): `privacyops erase …` and `privacyops certificate verify`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import DataMapError
from ..workspace import open_workspace
from .app import GuardedGroup, _emit_json, _ws_option, main

if TYPE_CHECKING:
    from ..erasure import ErasurePlan, ErasureResult


class _EraseGroup(GuardedGroup):
    """`erase SUBJECT --case ID` plans (= `erase plan ...`); `erase --due` is `erase due`; `erase --from-file F` is
    `erase batch --from-file F`; `erase approve|execute|retry|cancel|show|list|schedule ...` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            if "--due" in args:
                args = ["due", *[a for a in args if a != "--due"]]
            elif any(a == "--from-file" or a.startswith("--from-file=") for a in args):
                args = ["batch", *args]
            else:
                args = ["plan", *args]
        return super().parse_args(ctx, args)


@main.group("erase", cls=_EraseGroup, short_help="Erasure (Art. 17): plan, approve, execute, retry or cancel.")
def erase_group() -> None:
    """Erasure (Art. 17): plan (erase SUBJECT --case ID), approve (another person), execute; a failed execution:
    retry after the fix, or cancel; erase --due runs what has come due; erase --from-file FILE --case ID plans a
    batch."""


def _print_plan(plan: ErasurePlan, as_json: bool) -> None:
    if as_json:
        _emit_json(plan.to_dict())
        return
    import pandas as pd

    from .output import echo, table

    text = plan.render()
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 90):
        wide = plan.to_frame().to_string(index=False) if plan.rows else None  # what render() put in: replaced
    if not (wide and wide in text):
        wide = None  # render() changed shape: print it as it is (wrapped to the width)
    before, _, after = text.partition(wide) if wide else (text, "", "")
    items: list[Any] = [before.rstrip("\n")]
    if wide:
        rows = [(r["dataset"], r["action"], r["records"], r["source"], "" if r["action"] == "delete" else r["until"],
                 r["masked fields"], r["why"]) for r in plan.to_frame().to_dict("records")]  # deleted: no "until"
        items += ["", table(["dataset", "action", "records", "source", "until", "masked fields", "why"], rows,
                            wrap=["masked fields", "why"], right=["records"], keep=["dataset"])]
    if after.strip():
        items.append(after.strip("\n"))
    echo(*items)


def _print_rows(plan: ErasurePlan) -> None:
    """Every record of the plan: its action, until when it is kept and why (dates only on kept rows)."""
    from ..values import format_key
    from .output import echo, table

    rows = [(r.dataset, format_key(r.key), r.action,
             "" if r.action == "delete" else r.until,
             ", ".join(f"{c}:{m['strategy']}" for c, m in r.masks.items()), "yes" if r.restricted else "",
             r.reason) for r in plan.rows]  # erased the day after "until" (the due date is in --json)
    echo("", table(["dataset", "key", "action", "until", "masked", "restricted", "reason"], rows,
                   wrap=["masked", "reason"], keep=["dataset", "until"]))


@erase_group.command("plan", short_help="Plan a subject's erasure (nothing changes yet).")
@click.argument("subject", required=False)
@_ws_option
@click.option("--case", "case_id", required=True, help="The open erasure case this answers.")
@click.option("--pick", default=None, help="Choose a person: DATASET:KEY (when several match).")
@click.option("--as-of", default=None, help="Decide retention as of this day (YYYY-MM-DD; default today).")
@click.option("--suppress", type=click.Choice(["withdrawal", "objection"]), default=None,
              help="The subject withdrew consent / objected to direct marketing: keep their e-mails on the "
                   "suppression list (as keyed hashes).")
@click.option("--rows", is_flag=True, help="Also list every record with its action and reason.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the whole plan).")
def erase_plan_cmd(subject: str | None, workspace: Path | None, case_id: str, pick: str | None, as_of: str | None,
                   suppress: str | None, rows: bool, as_json: bool) -> None:
    """Plan the erasure of a subject: every record's action and reason; nothing changes yet."""
    from ..erasure import plan_erasure

    plan = plan_erasure(open_workspace(workspace), case_id, subject, pick=pick, as_of=as_of, suppress=suppress)
    _print_plan(plan, as_json)
    if not as_json:
        if rows:
            _print_rows(plan)
        from .output import echo

        if plan.preview:
            echo(f"\nStored as {plan.plan_id}, a PREVIEW: it shows what would happen on {plan.as_of}; it is "
                       f"never approved or executed. To erase, plan again as of today (without --as-of).")
        else:
            echo(f"\nStored as {plan.plan_id}. Another person approves it: privacyops erase approve "
                       f"{plan.plan_id}; then: privacyops erase execute {plan.plan_id}")


@erase_group.command("show")
@click.argument("plan_id")
@_ws_option
@click.option("--rows", is_flag=True, help="Also list every record.")
@click.option("--json", "as_json", is_flag=True)
def erase_show(plan_id: str, workspace: Path | None, rows: bool, as_json: bool) -> None:
    """Show a stored plan."""
    from ..erasure import load_plan

    plan = load_plan(open_workspace(workspace), plan_id)
    _print_plan(plan, as_json)
    if rows and not as_json:
        _print_rows(plan)


@erase_group.command("list")
@_ws_option
@click.option("--status", default=None, help="planned, approved, executing, done, unverified, failed, refused, "
                                             "cancelled, preview")
@click.option("--json", "as_json", is_flag=True)
def erase_list(workspace: Path | None, status: str | None, as_json: bool) -> None:
    """The erasure plans in the ledger."""
    from ..erasure import list_plans

    got = list_plans(open_workspace(workspace), status)
    if as_json:
        _emit_json(got)
        return
    for p in got:
        click.echo(f"{p['plan_id']}  {p['kind']:7} {p['case_id'] or '-':14} {p['status']:10} as of {p['as_of']}  "
                   f"prepared by {p['prepared_by']}" + (f", approved by {p['approved_by']}" if p['approved_by']
                                                        else ""))


@erase_group.command("approve", short_help="Approve a plan (four-eyes: not its preparer).")
@click.argument("plan_id")
@_ws_option
@click.option("--note", default=None, help="A note kept with the approval.")
@click.option("--json", "as_json", is_flag=True)
def erase_approve(plan_id: str, workspace: Path | None, note: str | None, as_json: bool) -> None:
    """Approve a plan (four-eyes: not its preparer), as the person of $PRIVACYOPS_PERSON_KEY (docs/people.md)."""
    from ..erasure import approve_plan

    plan = approve_plan(open_workspace(workspace), plan_id, note)
    if as_json:
        _emit_json({"plan_id": plan.plan_id, "status": plan.status, "approved_by": plan.approved_by})
        return
    click.echo(f"{plan.plan_id} approved by {plan.approved_by}; execute it: privacyops erase execute {plan.plan_id}")


def _print_results(results: list[ErasureResult], as_json: bool) -> None:
    if as_json:
        _emit_json([r.to_dict() for r in results])
    else:
        for r in results:
            click.echo(r.render())
    if any(not r.ok for r in results):
        click.secho("error: verification found problems (see above); the certificate records them", fg="red",
                    err=True)
        sys.exit(1)


@erase_group.command("execute", short_help="Execute an approved plan, verify, certify.")
@click.argument("plan_id")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def erase_execute(plan_id: str, workspace: Path | None, as_json: bool) -> None:
    """Execute an approved plan: per source all or nothing, verified, certified. Re-run to finish an
    interrupted one."""
    from ..erasure import execute_plan

    result = execute_plan(open_workspace(workspace), plan_id, progress=not as_json)
    _print_results([result], as_json)


@erase_group.command("retry", short_help="Run a failed plan again after the fix.")
@click.argument("plan_id")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def erase_retry(plan_id: str, workspace: Path | None, as_json: bool) -> None:
    """Run a failed plan again after fixing what its failure said (the map is read again): the sources not yet
    erased, then verify and certify."""
    from ..erasure import retry_plan

    result = retry_plan(open_workspace(workspace), plan_id, progress=not as_json)
    _print_results([result], as_json)


@erase_group.command("cancel", short_help="Cancel a plan that was not executed.")
@click.argument("plan_id")
@_ws_option
@click.option("--reason", required=True, help="Why the plan is stopped (kept in the audit log).")
@click.option("--json", "as_json", is_flag=True)
def erase_cancel(plan_id: str, workspace: Path | None, reason: str, as_json: bool) -> None:
    """Cancel a plan that was not executed (planned, approved, failed, ...): it never runs; its case can be
    planned again."""
    from ..erasure import cancel_plan

    plan, committed = cancel_plan(open_workspace(workspace), plan_id, reason)
    if as_json:
        _emit_json({"plan_id": plan.plan_id, "status": plan.status, "committed_sources": committed})
        return
    click.echo(f"{plan.plan_id} cancelled ({reason}).")
    if committed:
        click.echo(f"Sources {', '.join(committed)} were already erased by it and stay so; a new plan covers the "
                   f"rest.")
    if plan.case_id:
        click.echo(f"Plan case {plan.case_id} again: privacyops erase SUBJECT --case {plan.case_id}")


@erase_group.command("due", short_help="Erase what has come due (retention ended).")
@_ws_option
@click.option("--as-of", default=None, help="Erase what is due on this day (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True)
def erase_due_cmd(workspace: Path | None, as_of: str | None, as_json: bool) -> None:
    """Erase the records whose retention has ended (scheduled by earlier erasures); holds still block."""
    from ..erasure import erase_due

    results = erase_due(open_workspace(workspace), as_of, progress=not as_json)
    if not results and not as_json:
        click.echo("Nothing is due.")
    _print_results(results, as_json)


@erase_group.command("retention", short_help="Storage limitation: sweep what is overdue.")
@_ws_option
@click.option("--as-of", default=None, help="Sweep what is overdue on this day (YYYY-MM-DD; default today).")
@click.option("--execute", "execute", is_flag=True,
              help="Erase it (plan, execute, verify, certify); without it: a dry run that lists what would go.")
@click.option("--json", "as_json", is_flag=True)
def erase_retention_cmd(workspace: Path | None, as_of: str | None, execute: bool, as_json: bool) -> None:
    """Storage limitation: erase the records whose own retention rule has ended; holds still block."""
    from ..reports import retention_sweep

    listing = retention_sweep(open_workspace(workspace), as_of, dry_run=not execute)
    if as_json:
        _emit_json(listing.to_dict())
    else:
        click.echo("\n".join(listing.lines()))


@erase_group.command("batch", short_help="Plan the erasure of every subject in a file.")
@_ws_option
@click.option("--from-file", "from_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV: a subject column (identifier) and/or a pick column (DATASET:KEY); or one per line.")
@click.option("--case", "case_id", required=True, help="The open erasure case the batch belongs to.")
@click.option("--as-of", default=None, help="Decide retention as of this day (YYYY-MM-DD; default today).")
@click.option("--suppress", type=click.Choice(["withdrawal", "objection"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def erase_batch(workspace: Path | None, from_file: Path, case_id: str, as_of: str | None, suppress: str | None,
                as_json: bool) -> None:
    """Plan the erasure of every subject in a file, as one plan executed set-based after approval."""
    from ..erasure import plan_batch

    plan = plan_batch(open_workspace(workspace), from_file, case_id, as_of=as_of, suppress=suppress,
                      progress=not as_json)
    _print_plan(plan, as_json)
    if not as_json:
        then = (f"a PREVIEW of {plan.as_of}: never approved or executed; plan again as of today to erase"
                if plan.preview else f"another person approves it: privacyops erase approve {plan.plan_id}")
        click.echo(f"\nStored as {plan.plan_id} ({len(plan.subjects)} subject(s), {len(plan.skipped)} line(s) "
                   f"skipped); {then}")


@erase_group.command("schedule", short_help="Records kept under retention, and when due.")
@_ws_option
@click.option("--all", "show_all", is_flag=True, help="Also rows already erased.")
@click.option("--json", "as_json", is_flag=True)
def erase_schedule(workspace: Path | None, show_all: bool, as_json: bool) -> None:
    """Records kept under retention and when they are due for erasure."""
    from ..ledger import schedule

    got = schedule.entries(open_workspace(workspace), status=None if show_all else schedule.SCHEDULED)
    if as_json:
        _emit_json([e.to_dict() for e in got])
        return
    for e in got:
        click.echo(f"{e.due_on or 'unset':10}  {e.status:9} {e.dataset}:{','.join(map(str, e.key))}  {e.basis}")


@erase_group.command("restrictions", short_help="The restriction register (Art. 18).")
@_ws_option
@click.option("--all", "show_all", is_flag=True, help="Also restrictions lifted (the rows were erased).")
@click.option("--json", "as_json", is_flag=True)
def erase_restrictions(workspace: Path | None, show_all: bool, as_json: bool) -> None:
    """The restriction register (Art. 18): records kept but not to be used, on what basis, until when."""
    from ..ledger import schedule

    got = schedule.restrictions(open_workspace(workspace), active_only=not show_all)
    if as_json:
        _emit_json([r.to_dict() for r in got])
        return
    for r in got:
        state = f"lifted {r.lifted_at:%Y-%m-%d}" if r.lifted_at else "restricted"
        click.echo(f"{r.dataset}:{','.join(map(str, r.key))}  {state:18} until {r.retain_until or 'unset'}  "
                   f"{r.basis}  (plan {r.plan_id})")


@main.group("certificate")
def certificate_group() -> None:
    """Erasure certificates."""


@certificate_group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def certificate_verify(file: Path, workspace: Path | None, as_json: bool) -> None:
    """Check a certificate offline: the workspace's signature (and whether this workspace's key made it) and the
    signatures of the people who prepared, approved and executed it. Exit 1 when invalid."""
    from ..erasure import verify_certificate
    from ..errors import WorkspaceError

    try:
        ws = open_workspace(workspace)
    except (WorkspaceError, DataMapError):
        ws = None  # anyone can check a certificate's integrity; the workspace only tells whose key it is
    check = verify_certificate(file, ws)
    if as_json:
        _emit_json(check.to_dict())
    else:
        click.secho(str(check), fg="green" if check.ok else "red")
    sys.exit(0 if check.ok else 1)
