"""`privacyops …`: the command-line face of the same functions the notebooks and panels call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import DataMapError, PrivacyOpsError
from ..ledger import audit
from ..workspace import default_workspace_path, open_workspace


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class _Group(click.Group):
    """Turns privacyops errors into a clear message and the error's exit code (never a traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DataMapError as exc:
            click.secho(str(exc), fg="red", err=True)
            click.echo("Fix the map and run `privacyops check` again (format: docs/datamap.md).", err=True)
            sys.exit(exc.exit_code)
        except PrivacyOpsError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)


def _ws_option(f):
    return click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Workspace folder (default: $PRIVACYOPS_WORKSPACE or data/demo).")(f)


@click.group(cls=_Group)
@click.version_option(package_name="privacyops")
def main() -> None:
    """privacyops: data-subject rights under the GDPR — look up, export, rectify, erase, report, audit."""


@main.command()
@_ws_option
@click.option("--subjects", default=1000, show_default=True, help="How many customers to generate.")
@click.option("--seed", default=42, show_default=True, help="Random seed (same seed, same company).")
@click.option("--postgres", "postgres_dsn", default=None, metavar="DSN",
              help="Cross-store demo: billing in this PostgreSQL database, the newsletter list in SQLite, the "
                   "consent log in CSV (the DSN is kept in WORKSPACE/keys/billing.dsn, not in the map).")
@click.option("--no-index", is_flag=True, help="Skip creating the lookup indexes.")
@click.option("--run-notebooks", is_flag=True, help="Then run every notebook headless on the demo.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where notebook outputs go (default: WORKSPACE/outputs).")
def demo(workspace: Path | None, subjects: int, seed: int, postgres_dsn: str | None, no_index: bool,
         run_notebooks: bool, out: Path | None) -> None:
    """Build the demo company (Baltic Software Factory) in the workspace."""
    from ..demo import generate_demo

    ws_path = workspace or default_workspace_path()
    try:
        summary = generate_demo(ws_path, subjects=subjects, seed=seed, progress=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if postgres_dsn:
        from ..demo import distribute

        moved = distribute(Path(ws_path), postgres_dsn, progress=True)
        click.echo("Spread over stores: " + ", ".join(f"{d} -> {s}" for d, s in moved.items()))
    if not no_index:
        from ..workspace import create_indexes

        create_indexes(open_workspace(ws_path), progress=True)
    total = sum(summary.rows.values())
    click.echo(f"Demo company built in {Path(ws_path).resolve()}: {summary.subjects:,} subjects, "
               f"{total:,} rows in {len(summary.rows)} datasets ({summary.seconds:.1f} s).")
    if run_notebooks:
        _run_notebooks(Path(ws_path), out)


def _run_notebooks(ws_path: Path, out: Path | None) -> None:
    from ..jobs import run_all

    open_workspace(ws_path)  # validate first: a bad map fails here with a clear message
    out_dir = (out or Path(ws_path) / "outputs").resolve()
    runs = run_all(ws_path, out_dir)
    click.echo(f"Ran {len(runs)} notebook(s) headless:")
    for r in runs:
        click.echo(f"  {r.notebook:32} {r.seconds:5.1f} s  -> {r.output.parent}")
    click.echo(f"Outputs are in {out_dir}")


@main.command("run-notebooks")
@_ws_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where outputs go (default: WORKSPACE/outputs).")
def run_notebooks_cmd(workspace: Path | None, out: Path | None) -> None:
    """Run every notebook headless (papermill) against the workspace."""
    _run_notebooks(workspace or default_workspace_path(), out)


@main.command("index")
@_ws_option
@click.option("--drop", is_flag=True, help="Remove the lookup indexes instead.")
def index_cmd(workspace: Path | None, drop: bool) -> None:
    """Create lookup indexes in the database sources (identity expressions, references, keys). Idempotent."""
    from ..workspace import create_indexes

    report = create_indexes(open_workspace(workspace), progress=True, drop=drop)
    if drop:
        click.echo(f"Dropped {len(report.dropped)} index(es) in {report.seconds:.1f} s.")
    else:
        click.echo(f"Created {len(report.created)} index(es), {len(report.existing)} already there, "
                   f"in {report.seconds:.1f} s.")
    if report.skipped:
        click.echo(f"File sources have no indexes: {', '.join(report.skipped)}")


@main.command()
@_ws_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-live", is_flag=True, help="Validate the map only; do not open the sources.")
def check(workspace: Path | None, as_json: bool, no_live: bool) -> None:
    """Validate the workspace: the data map, then the live sources (tables, columns, types)."""
    from ..workspace import CheckReport, check_workspace

    try:
        ws = open_workspace(workspace)
    except DataMapError as exc:
        if not as_json:
            raise
        _emit_json({"ok": False, "problems": [str(p) for p in exc.problems], "warnings": []})
        sys.exit(exc.exit_code)
    report = CheckReport() if no_live else check_workspace(ws)
    if as_json:
        _emit_json(report.to_dict())
    else:
        dm = ws.datamap
        click.echo(f"Data map {dm.path}: {len(dm.datasets)} datasets in {len(dm.sources)} sources, "
                   f"{len(dm.purposes)} purposes, {len(dm.retention)} retention rules — valid.")
        if not no_live:
            for name, n in report.rows.items():
                click.echo(f"  {name:40} {n:>12,} rows")
        for w in report.warnings:
            click.secho(f"warning: {w}", fg="yellow")
        for p in report.problems:
            click.secho(f"problem: {p}", fg="red")
        click.echo("OK" if report.ok else f"{len(report.problems)} problem(s) between the map and the data.")
    sys.exit(0 if report.ok else 2)


@main.command("lookup")
@click.argument("identifier", required=False)
@_ws_option
@click.option("--by", "kind", default="auto", show_default=True,
              help="Identity kind: auto, email, phone, name, id, or a kind from the map (e.g. customer_id).")
@click.option("--pick", default=None, help="Choose a candidate: DATASET:KEY (from an earlier ambiguous lookup).")
@click.option("--case", "case_id", default=None, help="Attach this lookup to a case.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every row).")
@click.option("--rows", default=5, show_default=True, help="Rows shown per dataset in human output (0: none).")
@click.option("--no-mentions", is_flag=True, help="Skip the search for mentions in other people's free text.")
def lookup_cmd(identifier: str | None, workspace: Path | None, kind: str, pick: str | None, case_id: str | None,
               as_json: bool, rows: int, no_mentions: bool) -> None:
    """Find every record about a person from an e-mail, phone number, id or name."""
    from ..lookup import lookup

    ws = open_workspace(workspace)
    result = lookup(ws, identifier, kind=kind, pick=pick, case_id=case_id, mentions=not no_mentions)
    if as_json:
        _emit_json(result.to_dict())
        return
    _print_lookup(result, rows)


def _print_lookup(result, rows: int) -> None:
    import pandas as pd

    if result.status == "not_found":
        click.echo(f"No records found for {result.query!r} (searched as {result.kind}).")
        return
    if result.status == "ambiguous":
        click.echo(f"{len(result.candidates)} candidate(s) for {result.query!r} — pick one with --pick REF:")
        for c in result.candidates:
            click.echo(f"  {c.ref:28} score {c.score:.3f}  {c.label}")
        return
    who = result.subject.label if result.subject else result.query
    click.echo(f"Subject: {who}" + (f"  [{result.subject.ref}]" if result.subject else ""))
    click.echo(f"{result.total_rows} record(s) in {len(result.records)} dataset(s), {result.elapsed_ms:.0f} ms\n")
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 40):
        click.echo(result.to_frame().to_string(index=False))
        click.echo("\nBy data category:")
        click.echo(result.by_category().to_string(index=False))
        if rows:
            for recs in result.records.values():
                click.echo(f"\n{recs.dataset} ({recs.count}):")
                click.echo(recs.frame().head(rows).to_string(index=False))
    if result.context:
        click.echo("\nContext (shared reference data, not the subject's): " +
                   ", ".join(f"{n} ({r.count})" for n, r in result.context.items()))
    if result.shared:
        click.echo("\nHeld under an identifier shared with another person (review before acting): " +
                   ", ".join(f"{n} ({r.count})" for n, r in result.shared.items()))
    if result.mentions:
        click.echo(f"\nMentions in other people's records ({len(result.mentions)}):")
        for m in result.mentions:
            click.echo(f"  {m.dataset}:{','.join(map(str, m.key))} field {m.field} ({m.matched})")


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


@main.command("rectify")
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
@click.option("--limit", default=20, show_default=True)
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


class _ExportGroup(click.Group):
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
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the archive here (default: WORKSPACE/exports/CASE_ID).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (with the password if generated).")
def export_create(subject: str | None, workspace: Path | None, case_id: str, pick: str | None,
                  password_file: Path | None, out: Path | None, as_json: bool) -> None:
    """Make the archive answering an access or portability request: the copy, the letter, a manifest."""
    from ..access import OPEN_HINT, export_subject, read_password_file

    ws = open_workspace(workspace)
    password = read_password_file(password_file) if password_file else None
    result = export_subject(ws, case_id, subject, pick=pick, password=password, out_dir=out)
    if as_json:
        _emit_json({**result.to_dict(), **({"password": result.password} if result.password else {})})
        return
    for line in result.plan.lines() if result.plan else []:
        click.echo(line)
    click.echo(f"\nArchive: {result.path}")
    click.echo(f"SHA-256: {result.sha256}  ({result.size:,} bytes, export {result.export_id})")
    if result.password:
        click.secho(f"Password (shown once, stored nowhere): {result.password}", bold=True)
        click.echo("Send the password to the subject through another channel than the archive "
                   "(e.g. read it out on the phone when the archive goes by e-mail).")
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


@main.group("import")
def import_group() -> None:
    """Import data maps from other tools (Fides)."""


@import_group.command("fides")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="The privacyops source (a name under `sources:`) holding these tables.")
@click.option("--purpose", "purposes", multiple=True,
              help="A purpose (a name under `purposes:`) for every imported dataset; repeat for more.")
@click.option("--table-prefix", default=None,
              help="Name datasets PREFIX.<collection> instead of <fides_key>.<collection>.")
@click.option("--into", "into", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Merge into this data map (e.g. WORKSPACE/privacyops.yaml).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result here (default: stdout; with --into: the map itself, only if it stays valid).")
def import_fides_cmd(file: Path, source: str, purposes: tuple[str, ...], table_prefix: str | None,
                     into: Path | None, out: Path | None) -> None:
    """Turn a Fides dataset YAML file into privacyops datasets (one per Fides collection)."""
    from ..map import import_fides, parse_datamap
    from ..map.fides import merge_into, render_fragment

    def problems(title: str, exc: DataMapError) -> None:
        click.secho(f"{title} ({len(exc.problems)}):", fg="red", err=True)
        for p in exc.problems:
            click.secho(f"  - {p}", fg="red", err=True)

    try:
        fragment = import_fides(file, source=source, purposes=list(purposes) or None, table_prefix=table_prefix)
    except DataMapError as exc:
        problems(f"{file} is not a Fides dataset file privacyops can import", exc)
        sys.exit(exc.exit_code)
    names = list(fragment["datasets"])
    notes = fragment["notes"]

    if into is None:
        text = render_fragment(fragment)
        if out is None:
            click.echo(text, nl=False)  # the YAML on stdout; the summary on stderr
        else:
            out.write_text(text, encoding="utf-8")
        click.echo(f"Imported {len(names)} dataset(s) from {file}"
                   + (f" into {out}" if out else "") + f"; {len(notes)} note(s) in the header.", err=True)
        return

    try:
        merged = merge_into(into.read_text(encoding="utf-8"), fragment, file=str(into))
    except DataMapError as exc:
        problems(f"cannot merge into {into}", exc)
        sys.exit(exc.exit_code)
    target = out or into
    try:
        parse_datamap(merged, file=str(target))
        left: list = []
    except DataMapError as exc:
        left = exc.problems
    if left and out is None:
        click.secho(f"Not written: {into} would not be valid with these datasets ({len(left)} problem(s)):",
                    fg="red", err=True)
        for p in left:
            click.secho(f"  - {p}", fg="red", err=True)
        click.echo("Give --purpose (and check --source), or write a draft with --out FILE and complete it.",
                   err=True)
        sys.exit(2)
    target.write_text(merged, encoding="utf-8")
    click.echo(f"Added {len(names)} dataset(s) from {file} to {target}: {', '.join(names)}")
    for n in notes:
        click.echo(f"  note: {n}")
    click.echo("Complete per dataset: retention, erasure, subject: on person tables, shared: true on references "
               "to shared reference data" + ("" if purposes else ", purposes") + "; then run `privacyops check`.")
    if left:
        click.secho(f"{target} is a draft: {len(left)} problem(s) to fix before privacyops can use it:", fg="yellow")
        for p in left:
            click.secho(f"  - {p}", fg="yellow")


# -- erasure (Art. 17), legal holds, suppression, certificates ---------------------------------------------------


class _EraseGroup(click.Group):
    """`erase SUBJECT --case ID` plans (= `erase plan ...`); `erase --due` is `erase due`; `erase --from-file F` is
    `erase batch --from-file F`; `erase approve|execute|show|list|schedule ...` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            if "--due" in args:
                args = ["due", *[a for a in args if a != "--due"]]
            elif any(a == "--from-file" or a.startswith("--from-file=") for a in args):
                args = ["batch", *args]
            else:
                args = ["plan", *args]
        return super().parse_args(ctx, args)


@main.group("erase", cls=_EraseGroup)
def erase_group() -> None:
    """Erasure (Art. 17): plan (erase SUBJECT --case ID), approve (another person), execute; erase --due runs
    what has come due; erase --from-file FILE --case ID plans a batch."""


def _print_plan(plan, as_json: bool) -> None:
    if as_json:
        _emit_json(plan.to_dict())
        return
    click.echo(plan.render())


@erase_group.command("plan")
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
            import pandas as pd

            with pd.option_context("display.width", 200, "display.max_colwidth", 100):
                click.echo("\n" + plan.rows_frame().to_string(index=False))
        click.echo(f"\nStored as {plan.plan_id}. Another person approves it: privacyops erase approve "
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
        click.echo("\n" + plan.rows_frame().to_string(index=False))


@erase_group.command("list")
@_ws_option
@click.option("--status", default=None, help="planned, approved, done, refused, ...")
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


@erase_group.command("approve")
@click.argument("plan_id")
@_ws_option
@click.option("--note", default=None, help="A note kept with the approval.")
@click.option("--json", "as_json", is_flag=True)
def erase_approve(plan_id: str, workspace: Path | None, note: str | None, as_json: bool) -> None:
    """Approve a plan (four-eyes: not its preparer; set PRIVACYOPS_ACTOR)."""
    from ..erasure import approve_plan

    plan = approve_plan(open_workspace(workspace), plan_id, note)
    if as_json:
        _emit_json({"plan_id": plan.plan_id, "status": plan.status, "approved_by": plan.approved_by})
        return
    click.echo(f"{plan.plan_id} approved by {plan.approved_by}; execute it: privacyops erase execute {plan.plan_id}")


def _print_results(results, as_json: bool) -> None:
    if as_json:
        _emit_json([r.to_dict() for r in results])
    else:
        for r in results:
            click.echo(r.render())
    if any(not r.ok for r in results):
        click.secho("error: verification found problems (see above); the certificate records them", fg="red",
                    err=True)
        sys.exit(1)


@erase_group.command("execute")
@click.argument("plan_id")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def erase_execute(plan_id: str, workspace: Path | None, as_json: bool) -> None:
    """Execute an approved plan: per source all or nothing, verified, certified. Re-run to finish an
    interrupted one."""
    from ..erasure import execute_plan

    result = execute_plan(open_workspace(workspace), plan_id, progress=not as_json)
    _print_results([result], as_json)


@erase_group.command("due")
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


@erase_group.command("retention")
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


@erase_group.command("batch")
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
        click.echo(f"\nStored as {plan.plan_id} ({len(plan.subjects)} subject(s), {len(plan.skipped)} line(s) "
                   f"skipped). Another person approves it: privacyops erase approve {plan.plan_id}")


@erase_group.command("schedule")
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


@erase_group.command("restrictions")
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
    """Check a certificate's signature (and whether this workspace's key made it). Exit 1 when invalid."""
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


@main.group("hold")
def hold_group() -> None:
    """Legal holds: records that must not be erased while they apply."""


@hold_group.command("add")
@_ws_option
@click.option("--subject", default=None, help="An identifier of the person (e-mail, phone, id) or DATASET:KEY.")
@click.option("--dataset", default=None, help="Hold a whole dataset instead.")
@click.option("--reason", required=True, help="Why (e.g. litigation reference, tax audit).")
@click.option("--owner", required=True, help="Who answers for the hold and releases it.")
@click.option("--since", default=None, help="Since when (YYYY-MM-DD; default today).")
@click.option("--review", "review_on", default=None, help="When to review it (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True)
def hold_add(workspace: Path | None, subject: str | None, dataset: str | None, reason: str, owner: str,
             since: str | None, review_on: str | None, as_json: bool) -> None:
    """Place a legal hold on a subject or a dataset (the subject is kept only as keyed hashes)."""
    from ..ledger import add_hold

    hold = add_hold(open_workspace(workspace), reason=reason, owner=owner, subject=subject, dataset=dataset,
                    since=since, review_on=review_on)
    if as_json:
        _emit_json(hold.to_dict())
        return
    click.echo(f"{hold.hold_id}  {hold.describe()}" + (f"; review {hold.review_on}" if hold.review_on else ""))


@hold_group.command("release")
@click.argument("hold_id")
@_ws_option
@click.option("--note", default=None, help="Why it ends.")
def hold_release(hold_id: str, workspace: Path | None, note: str | None) -> None:
    """Release a hold; scheduled erasures it blocked run on the next `erase --due`."""
    from ..ledger import release_hold

    hold = release_hold(open_workspace(workspace), hold_id, note)
    click.echo(f"{hold.hold_id} released by {hold.released_by}")


@hold_group.command("list")
@_ws_option
@click.option("--all", "show_all", is_flag=True, help="Also released holds.")
@click.option("--json", "as_json", is_flag=True)
def hold_list(workspace: Path | None, show_all: bool, as_json: bool) -> None:
    """The legal holds (active ones unless --all)."""
    from ..ledger import list_holds

    got = list_holds(open_workspace(workspace), active_only=not show_all)
    if as_json:
        _emit_json([h.to_dict() for h in got])
        return
    if not got:
        click.echo("No holds." if show_all else "No active holds.")
    for h in got:
        what = h.dataset if h.scope == "dataset" else "subject"
        state = "active" if h.active else f"released {h.released_at:%Y-%m-%d}"
        click.echo(f"{h.hold_id}  {what:28} since {h.since}  owner {h.owner:16} {state:20} {h.reason}"
                   + (f"  (review {h.review_on})" if h.review_on else ""))


@main.group("suppress")
def suppress_group() -> None:
    """The suppression list: never mail people who withdrew consent or objected (kept as keyed hashes)."""


@suppress_group.command("add")
@click.argument("email")
@_ws_option
@click.option("--reason", type=click.Choice(["withdrawal", "objection"]), required=True)
@click.option("--case", "case_id", default=None)
def suppress_add(email: str, workspace: Path | None, reason: str, case_id: str | None) -> None:
    """Put an e-mail address on the suppression list (stored as a keyed hash, not the address)."""
    from ..ledger import suppress

    entry, new = suppress(open_workspace(workspace), email, reason, case_id)
    click.echo(("Added" if new else f"Already listed ({entry.reason}, {entry.added_at:%Y-%m-%d})") +
               f": hash {entry.email_hash[:16]}…")


@suppress_group.command("check")
@click.argument("email")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def suppress_check(email: str, workspace: Path | None, as_json: bool) -> None:
    """Whether an address is suppressed: exit 0 and 'suppressed', or exit 1 and 'not suppressed'."""
    from ..ledger.suppression import check

    entry = check(open_workspace(workspace), email)
    if as_json:
        _emit_json({"suppressed": entry is not None, **(entry.to_dict() if entry else {})})
    else:
        click.echo(f"suppressed ({entry.reason} since {entry.added_at:%Y-%m-%d})" if entry else "not suppressed")
    sys.exit(0 if entry else 1)


# -- reports, the record of processing activities, the consent ledger ------------------------------------------


@main.command("report", short_help="Run the retention, consent or requests report (or all) headless.")
@click.argument("which", type=click.Choice(["retention", "consent", "requests", "all"]))
@_ws_option
@click.option("--as-of", default=None, help="The report date (YYYY-MM-DD; default today).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the reports go (default: WORKSPACE/outputs/reports), one folder per report.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report_cmd(which: str, workspace: Path | None, as_of: str | None, out: Path | None, as_json: bool) -> None:
    """Run report notebooks headless: the report (HTML with its charts, JSON), the executed notebook as evidence
    and its HTML without code. Exit 6 when a run fails (the executed notebook is kept)."""
    from ..jobs import NotebookRunError
    from ..reports import REPORTS, run_report
    from ..reports.retention_report import parse_as_of

    ws_path = workspace or default_workspace_path()
    open_workspace(ws_path)  # a bad map fails here, with its problems, before any notebook starts
    day = parse_as_of(as_of)
    out_dir = (out or Path(ws_path) / "outputs" / "reports").resolve()
    runs, failed = [], []
    for name in (list(REPORTS) if which == "all" else [which]):
        try:
            run = run_report(name, ws_path, out_dir, day)
        except NotebookRunError as exc:
            failed.append({"report": name, "error": str(exc)})
            click.secho(f"error: {name} report: {exc}", fg="red", err=True)
            continue
        runs.append(run)
        if not as_json:
            click.echo(f"{name:10} as of {day}  {run.seconds:5.1f} s  -> " + ", ".join(str(p) for p in run.outputs))
            click.echo(f"{'':10} evidence: {run.notebook} (and {run.html.name})")
    if as_json:
        _emit_json({"as_of": day.isoformat(), "out": str(out_dir), "runs": [r.to_dict() for r in runs],
                    "failed": failed})
    if failed:
        sys.exit(NotebookRunError.exit_code)


@main.command("ropa", short_help="The record of processing activities (GDPR Art 30) as HTML and CSV.")
@_ws_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where ropa.html and ropa.csv go (default: WORKSPACE/outputs/ropa).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON too.")
def ropa_cmd(workspace: Path | None, out: Path | None, as_json: bool) -> None:
    """The record of processing activities (Art. 30(1)) from the data map, as HTML and CSV."""
    from ..reports import ropa

    ws = open_workspace(workspace)
    record = ropa(ws)
    page, table = record.write(out or ws.outputs_dir / "ropa")
    if as_json:
        _emit_json({**record.to_dict(), "html": str(page), "csv": str(table)})
        return
    click.echo(f"Record of processing activities: {len(record.activities)} activities -> {page}, {table}")
    if not record.security_measures:
        click.secho("warning: security measures (Art. 30(1)(g)) are not described in the data map; add "
                    "organisation.security_measures", fg="yellow")


@main.group("consent")
def consent_group() -> None:
    """The consent ledger: consent given (record) or withdrawn (withdraw, in effect at once)."""


def _print_consent(result, as_json: bool) -> None:
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


if __name__ == "__main__":  # pragma: no cover
    main()
