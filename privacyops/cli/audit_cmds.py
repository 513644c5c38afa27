"""`privacyops audit`: the hash-chained audit log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..ledger import audit
from ..ledger import audit_export as audit_export_mod
from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@_ws_option
@click.option("--against", "against", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A checkpoint file kept elsewhere (JSON lines); default: the sink the map names, and the head.")
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The workspace's Ed25519 public key (PEM) held elsewhere; default: keys/signing.pub.")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(workspace: Path | None, against: Path | None, public_key: Path | None, as_json: bool) -> None:
    """Check the audit log: hash chain, entry MACs, signed checkpoints; name the first broken entry (exit 5)."""
    result = audit.verify(open_workspace(workspace), against=against, public_key=public_key)
    _show(result, as_json)


def _show(result: audit.VerifyResult, as_json: bool) -> None:
    if as_json:
        _emit_json(result.to_dict())
    else:
        click.secho(str(result), fg="green" if result.ok else "red")
        for note in result.notes:
            click.secho(f"note: {note}", fg="yellow")
    sys.exit(0 if result.ok else 5)


@audit_group.command("export")
@_ws_option
@click.option("--from", "start", type=int, required=True, help="First entry (its seq).")
@click.option("--to", "end", type=int, required=True, help="Last entry (extended to the next checkpoint).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The JSON file to write.")
@click.option("--json", "as_json", is_flag=True)
def audit_export(workspace: Path | None, start: int, end: int, out: Path, as_json: bool) -> None:
    """Write entries FROM..TO with their signed checkpoints and the public key, for an auditor to verify offline."""
    bundle = audit_export_mod.write_bundle(open_workspace(workspace), start, end, out)
    summary = {"out": str(out), "from": bundle["from"], "to": bundle["to"], "entries": len(bundle["entries"]),
               "checkpoints": len(bundle["checkpoints"]), "key_id": bundle["key_id"]}
    if as_json:
        _emit_json(summary)
        return
    click.echo(f"wrote {out}: entries {bundle['from']}..{bundle['to']} ({len(bundle['entries'])}), "
               f"{len(bundle['checkpoints'])} checkpoint(s), key id {bundle['key_id']}")
    click.echo(f"an auditor checks it with: privacyops audit verify-export {out} --public-key signing.pub")


@audit_group.command("verify-export")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The controller's Ed25519 public key (PEM); default: the key carried in the file.")
@click.option("--json", "as_json", is_flag=True)
def audit_verify_export(bundle: Path, public_key: Path | None, as_json: bool) -> None:
    """Verify an exported part of the audit log offline (needs no workspace, only the public key)."""
    _show(audit_export_mod.verify_bundle(bundle, public_key), as_json)


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
    from .output import echo, table

    rows = [(e.seq, e.at[:19].replace("T", " "), e.actor, e.action, e.case_id or "",
             json.dumps(e.details, default=str, ensure_ascii=False)) for e in got]
    echo(table(["seq", "at (UTC)", "actor", "action", "case", "details"], rows, right=["seq"],
               keep=["seq", "at (UTC)", "action", "case"]))
