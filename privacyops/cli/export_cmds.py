"""`privacyops export`: access and portability archives (Art. 15, 20)."""

from __future__ import annotations

from pathlib import Path

import click

from ..workspace import open_workspace
from .app import GuardedGroup, OutPath, _emit_json, _ws_option, main


class _ExportGroup(GuardedGroup):
    """`privacyops export SUBJECT --case ID` is `privacyops export create SUBJECT --case ID`: a first argument that
    is not a subcommand (or an option other than --help) goes to `create`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["create", *args]
        return super().parse_args(ctx, args)


@main.group("export", cls=_ExportGroup)
def export_group() -> None:
    """Access and portability: the subject's copy as one encrypted archive (export SUBJECT --case ID)."""


@export_group.command("create")
@click.argument("subject", required=False)
@_ws_option
@click.option("--case", "case_id", default=None, help="The open access or portability case this answers.")
@click.option("--pick", default=None, help="Choose a person: DATASET:KEY (when several match).")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Use the password on the first line of this file (default: generate one).")
@click.option("--password-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the generated password into this file (0600, replaced if it exists) instead of showing "
                   "it.")
@click.option("--out", type=OutPath(), default=None,
              help="Write the archive here (default: WORKSPACE/exports/CASE_ID).")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output (with the password if generated and not written to --password-out).")
def export_create(subject: str | None, workspace: Path | None, case_id: str, pick: str | None,
                  password_file: Path | None, password_out: Path | None, out: Path | None, as_json: bool) -> None:
    """Make the archive answering an access or portability request: the copy, the letter, a manifest."""
    from ..access import (
        OPEN_HINT,
        PASSWORD_CHANNEL_HINT,
        check_password_out,
        export_subject,
        keep_password,
        read_password_file,
    )

    if password_file and password_out:
        raise click.UsageError("--password-out keeps a generated password; with --password-file the password is "
                               "yours already: give one of the two")
    ws = open_workspace(workspace)
    password = read_password_file(password_file) if password_file else None
    if password_out:
        check_password_out(password_out)  # before anything is made
    result = export_subject(ws, case_id, subject, pick=pick, password=password, out_dir=out)
    kept = keep_password(result, password_out) if password_out else None
    shown = result.password if kept is None else None
    if as_json:
        _emit_json({**result.to_dict(), **({"password": shown} if shown else {}),
                    **({"password_file": str(kept)} if kept else {})})
        return
    for line in result.plan.lines() if result.plan else []:
        click.echo(line)
    click.echo(f"\nArchive: {result.path}")
    click.echo(f"SHA-256: {result.sha256}  ({result.size:,} bytes, export {result.export_id})")
    if kept:
        click.echo(f"Password: in {kept} (readable by you only); delete the file once it reached the subject.")
    elif shown:
        click.secho(f"Password (shown once, stored nowhere): {shown}", bold=True)
    if kept or shown:
        click.echo(PASSWORD_CHANNEL_HINT)
    click.echo(OPEN_HINT)


@export_group.command("list")
@_ws_option
@click.option("--case", "case_id", default=None, help="Only this case's archives.")
@click.option("--json", "as_json", is_flag=True)
def export_list(workspace: Path | None, case_id: str | None, as_json: bool) -> None:
    """The archives made (the register keeps their SHA-256, never their content)."""
    from ..access import list_exports

    got = list_exports(open_workspace(workspace), case_id)
    if as_json:
        _emit_json([e.to_dict() for e in got])
        return
    for e in got:
        click.echo(f"{e.export_id}  {e.case_id}  {e.created_at:%Y-%m-%d %H:%M}  {e.status:9} {e.sha256[:16]}…  "
                   f"{e.path}")


@export_group.command("delivered")
@click.argument("export_id")
@_ws_option
def export_delivered(export_id: str, workspace: Path | None) -> None:
    """Record that an archive was sent to the subject."""
    from ..access import mark_delivered

    e = mark_delivered(open_workspace(workspace), export_id)
    click.echo(f"{e.export_id}  {e.status}")


@export_group.command("purge")
@_ws_option
@click.option("--older-than", required=True, help="Age of the archives to remove: 12h, 30d, 2w.")
@click.option("--json", "as_json", is_flag=True)
def export_purge(workspace: Path | None, older_than: str, as_json: bool) -> None:
    """Remove archives older than the age from WORKSPACE/exports and mark them purged in the register."""
    from ..access import purge_exports

    result = purge_exports(open_workspace(workspace), older_than)
    if as_json:
        _emit_json(result.to_dict())
        return
    click.echo(f"Removed {len(result.removed)} archive file(s) older than {result.older_than} "
               f"({result.bytes:,} bytes); {len(result.export_ids)} marked purged in the register"
               + (f", {result.missing} of them already gone" if result.missing else "")
               + (f"; {result.unregistered} file(s) the register did not know" if result.unregistered else "")
               + ".")
