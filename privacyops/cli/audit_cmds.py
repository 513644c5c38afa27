"""`privacyops audit`: the hash-chained audit log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..ledger import audit
from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def audit_verify(workspace: Path | None, as_json: bool) -> None:
    """Check the audit log's hash chain; name the first broken entry."""
    result = audit.verify(open_workspace(workspace))
    if as_json:
        _emit_json({"ok": result.ok, "entries": result.entries, "first_broken": result.first_broken,
                    "reason": result.reason})
    else:
        click.secho(str(result), fg="green" if result.ok else "red")
    sys.exit(0 if result.ok else 5)


@audit_group.command("log")
@_ws_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--action", default=None, help="Only this action (e.g. lookup).")
@click.option("--json", "as_json", is_flag=True)
def audit_log(workspace: Path | None, limit: int, action: str | None, as_json: bool) -> None:
    """Show the latest audit entries (what was done, never the data)."""
    got = audit.entries(open_workspace(workspace), limit=limit, action=action)
    if as_json:
        _emit_json([audit.as_dict(e) for e in got])
        return
    for e in got:
        click.echo(f"{e.seq:>6} {e.at[:19]} {e.actor:16} {e.action:14} {e.case_id or '-':14} "
                   f"{json.dumps(e.details, default=str)[:80]}")
