"""`privacyops rectify`: correcting a person's data (Art. 16)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


@main.command("rectify", short_help="Correct a person's data (Art. 16) everywhere it is stored.")
@click.argument("subject", required=False)
@_ws_option
@click.option("--case", "case_id", required=True, help="The rectification case this belongs to.")
@click.option("--set", "assignments", multiple=True, required=True, metavar="DATASET.FIELD=VALUE",
              help="A field and its correct value; DATASET.FIELD[KEY]=VALUE for one row. Repeat for more.")
@click.option("--pick", default=None, help="Choose a candidate: DATASET:KEY (from an ambiguous lookup).")
@click.option("--no-propagate", is_flag=True, help="Change only the named fields, not the same value elsewhere.")
@click.option("--dry-run", is_flag=True, help="Only show the plan; change nothing.")
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rectify_cmd(subject: str | None, workspace: Path | None, case_id: str, assignments: tuple[str, ...],
                pick: str | None, no_propagate: bool, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Correct a person's data (Art. 16): plan, show current -> proposed everywhere it is stored, then apply."""
    from ..rectify import RectificationError, apply_rectification, parse_assignments, plan_rectification

    ws = open_workspace(workspace)
    plan = plan_rectification(ws, case_id, subject, pick=pick, changes=parse_assignments(assignments),
                              propagate=not no_propagate)
    interactive = not (dry_run or yes) and _stdin_is_tty()
    if not as_json or interactive:
        click.echo(plan.render(), err=as_json)
    if dry_run or not (yes or interactive):
        if as_json:
            _emit_json({"plan": plan.to_dict(), "applied": False})
        if dry_run:
            click.echo("Dry run: nothing changed.", err=as_json)
            return
        raise RectificationError("not applied: add --yes to apply (or --dry-run to only plan)")
    if not yes and not click.confirm(f"Apply {len(plan.changes)} change(s) in {plan.rows()} row(s)?", err=True):
        click.echo("Not applied.", err=True)
        sys.exit(1)
    result = apply_rectification(ws, plan)
    if as_json:
        _emit_json({"plan": plan.to_dict(), "applied": True, "result": result.to_dict()})
    else:
        click.echo(result.render())
