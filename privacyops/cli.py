"""`privacyops …`: the command-line face of the same functions the notebooks and panels call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from . import audit
from .errors import DataMapError, PrivacyOpsError
from .workspace import default_workspace_path, open_workspace


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
    from .demo import generate_demo

    ws_path = workspace or default_workspace_path()
    try:
        summary = generate_demo(ws_path, subjects=subjects, seed=seed, progress=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if postgres_dsn:
        from .demo_stores import distribute

        moved = distribute(Path(ws_path), postgres_dsn, progress=True)
        click.echo("Spread over stores: " + ", ".join(f"{d} -> {s}" for d, s in moved.items()))
    if not no_index:
        from .indexes import create_indexes

        create_indexes(open_workspace(ws_path), progress=True)
    total = sum(summary.rows.values())
    click.echo(f"Demo company built in {Path(ws_path).resolve()}: {summary.subjects:,} subjects, "
               f"{total:,} rows in {len(summary.rows)} datasets ({summary.seconds:.1f} s).")
    if run_notebooks:
        _run_notebooks(Path(ws_path), out)


def _run_notebooks(ws_path: Path, out: Path | None) -> None:
    from .runner import run_all

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
    from .indexes import create_indexes

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
    from .check import CheckReport, check_workspace

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
    from .lookup import lookup

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
    return click.get_text_stream("stdin").isatty()


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
    from .rectify import RectificationError, apply_rectification, parse_assignments, plan_rectification

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
    from .cases import open_case

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
    from .cases import list_cases

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
    from .cases import extend_case

    case = extend_case(open_workspace(workspace), case_id, months, reason, informed=informed)
    click.echo(f"{case.case_id}  now due {case.deadline} (was {case.due}); subject informed {case.subject_informed}")


@case_group.command("close")
@click.argument("case_id")
@_ws_option
@click.option("--outcome", required=True, help="What was done, or why the request was refused.")
def case_close(case_id: str, workspace: Path | None, outcome: str) -> None:
    """Close a case with its outcome."""
    from .cases import close_case

    case = close_case(open_workspace(workspace), case_id, outcome)
    on_time = "on time" if case.closed_at.date() <= case.deadline else f"LATE (deadline {case.deadline})"
    click.echo(f"{case.case_id}  closed {case.closed_at:%Y-%m-%d}, {on_time}: {case.outcome}")


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
    from .datamap import parse_datamap
    from .fides import import_fides, merge_into, render_fragment

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


if __name__ == "__main__":  # pragma: no cover
    main()
