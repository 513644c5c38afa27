"""`privacyops key`: show, rotate, back up and restore the workspace's keys (fingerprints only, never a secret)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import WorkspaceKeyError
from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main

PASSPHRASE_ENV = "PRIVACYOPS_BACKUP_PASSPHRASE"


@main.group("key")
def key_group() -> None:
    """The workspace's keys: the ledger's keyed hashes and the certificates' signatures depend on them."""


def _passphrase(passphrase_file: Path | None, confirm: bool) -> str:
    """From --passphrase-file, else $PRIVACYOPS_BACKUP_PASSPHRASE, else a prompt (hidden; asked twice for a
    backup). Never echoed."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise WorkspaceKeyError(f"cannot read the passphrase file {passphrase_file} ({exc.strerror or exc})") \
                from None
        return text.splitlines()[0] if text.strip() else ""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    return click.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm, err=True)


@key_group.command("show")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def key_show(workspace: Path | None, as_json: bool) -> None:
    """Fingerprints and generations of the keys on disk and of those the ledger was made with."""
    from ..ledger.keyring import key_status

    st = key_status(open_workspace(workspace))
    if as_json:
        _emit_json({"workspace_key": st.on_disk, "generations": st.generations, "problem": st.problem,
                    "ledger_workspace_key": st.recorded, "ledger_generations": st.recorded_generations,
                    "signing_key": st.signing_on_disk, "ledger_signing_key": st.signing_recorded, "ok": st.ok})
        return
    click.echo(f"workspace key  {st.on_disk or '(missing)'}" + (f"  {st.generations} generation(s)" if st.on_disk
                                                                else "") + (f"  PROBLEM: {st.problem}"
                                                                            if st.problem else ""))
    click.echo(f"  the ledger    {st.recorded or '(nothing recorded yet)'}" +
               (f"  {st.recorded_generations} generation(s)" if st.recorded_generations else ""))
    click.echo(f"signing key    {st.signing_on_disk or '(none)'}")
    click.echo(f"  the ledger    {st.signing_recorded or '(nothing signed yet)'}")
    if st.on_disk is None and st.recorded is None and st.problem is None:
        click.echo("no key yet: a new workspace makes its key when its ledger is first written")
    else:
        click.echo("keys match the ledger" if st.ok else "KEYS DO NOT MATCH THE LEDGER: restore them with "
                                                         "`privacyops key restore BACKUP`")


@key_group.command("rotate")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def key_rotate(workspace: Path | None, as_json: bool) -> None:
    """Add a key generation and re-key every keyed hash in the ledger (one transaction). Back up afterwards."""
    from ..ledger.rekey import rotate

    got = rotate(open_workspace(workspace))
    if as_json:
        _emit_json(got.to_dict())
        return
    click.echo(f"workspace key rotated: {got.old} -> {got.new} ({got.generations} generations); re-keyed "
               + ", ".join(f"{n} {t}" for t, n in got.rekeyed.items()))
    click.echo("Earlier backups hold the old key, which this ledger now refuses: run `privacyops key backup` now.")


@key_group.command("backup")
@_ws_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (never overwritten; owner-only).")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help=f"Read the passphrase from this file's first line (else ${PASSPHRASE_ENV}, else a prompt).")
def key_backup(workspace: Path | None, out: Path, passphrase_file: Path | None) -> None:
    """Every file in keys/, encrypted under a passphrase (scrypt + AES-GCM). Keep it away from the workspace."""
    from ..workspace.key_backup import write_backup

    ws = open_workspace(workspace)
    if not ws.keys_dir.is_dir():
        raise WorkspaceKeyError(f"{ws.keys_dir} does not exist: there are no keys to back up")
    if out.exists():  # said before the passphrase is asked for (write_backup refuses it too)
        raise WorkspaceKeyError(f"{out} already exists: a backup never overwrites a file; choose another name")
    names = write_backup(ws.keys_dir, out, _passphrase(passphrase_file, confirm=True))
    click.echo(f"backed up {', '.join(names)} to {out} (owner-only)")


@key_group.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_ws_option
@click.option("--passphrase-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help=f"Read the passphrase from this file's first line (else ${PASSPHRASE_ENV}, else a prompt).")
def key_restore(backup: Path, workspace: Path | None, passphrase_file: Path | None) -> None:
    """Put a backup's keys back into keys/ (refused when they are not the keys the ledger was made with)."""
    from ..ledger.rekey import restore
    from ..workspace.key_backup import header_of, open_backup

    ws = open_workspace(workspace)
    header_of(backup.read_bytes())  # not a backup: said before a passphrase is asked for
    got = restore(ws, open_backup(backup, _passphrase(passphrase_file, confirm=False)))
    click.echo(f"restored {', '.join(got.files)}: workspace key {got.workspace_key}"
               + (f", signing key {got.signing_key}" if got.signing_key else ""))
