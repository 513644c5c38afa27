"""Setting up and checking a workspace: `demo`, `run-notebooks`, `index`, `check`, `import fides`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import DataMapError
from ..workspace import default_workspace_path, open_workspace
from .app import OutPath, _emit_json, _ws_option, main


@main.command()
@_ws_option
@click.option("--subjects", default=1000, show_default=True, help="How many customers to generate.")
@click.option("--seed", default=42, show_default=True, help="Random seed (same seed, same company).")
@click.option("--postgres", "postgres_dsn", default=None, metavar="DSN",
              help="Cross-store demo: billing in this PostgreSQL database, the newsletter list in SQLite, the "
                   "consent log in CSV (the DSN is kept in WORKSPACE/keys/billing.dsn, not in the map).")
@click.option("--no-index", is_flag=True, help="Skip creating the lookup indexes.")
@click.option("--run-notebooks", is_flag=True, help="Then run every notebook headless on the demo.")
@click.option("--no-people", is_flag=True, help="Do not register the demo's two people (identities stay unproven).")
@click.option("--out", type=OutPath(), default=None,
              help="Where notebook outputs go (default: WORKSPACE/outputs).")
def demo(workspace: Path | None, subjects: int, seed: int, postgres_dsn: str | None, no_index: bool,
         run_notebooks: bool, no_people: bool, out: Path | None) -> None:
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
    keys = {} if no_people else _demo_people(Path(ws_path))
    if run_notebooks:
        import os

        from ..workspace.person import KEY_ENV

        if keys and not os.environ.get(KEY_ENV):  # the scheduled run acts as the analyst: it plans, never approves
            os.environ[KEY_ENV] = str(keys["analyst"])
            os.environ.pop("PRIVACYOPS_ACTOR", None)  # the key says who acts
        _run_notebooks(Path(ws_path), out)


def _demo_people(ws_path: Path) -> dict[str, Path]:
    """Register the demo's analyst and DPO (keys beside the workspace) and say how each acts."""
    from ..demo import DEMO_PEOPLE, register_demo_people

    keys = register_demo_people(ws_path)
    click.echo(f"People registered (keys outside the workspace, in {keys['dpo'].parent}):")
    for handle, path in keys.items():
        name, roles = DEMO_PEOPLE[handle]
        click.echo(f"  {name:<20} {roles:<16} export PRIVACYOPS_PERSON_KEY={path}")
    click.echo("The analyst prepares erasure plans, the DPO approves them (and registers people); unset "
               "PRIVACYOPS_ACTOR: the key says who acts.")
    return keys


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
@click.option("--out", type=OutPath(), default=None,
              help="Where outputs go (default: WORKSPACE/outputs).")
def run_notebooks_cmd(workspace: Path | None, out: Path | None) -> None:
    """Run every notebook headless (papermill) against the workspace."""
    _run_notebooks(workspace or default_workspace_path(), out)


@main.command("index")
@_ws_option
@click.option("--drop", is_flag=True, help="Remove the lookup indexes instead.")
@click.option("--refresh", is_flag=True, help="Say which datasets the lookup index is stale for, then rebuild it.")
def index_cmd(workspace: Path | None, drop: bool, refresh: bool) -> None:
    """Create lookup indexes: in the database sources (identity expressions, references, keys), and the workspace's
    identity and mention index (index.duckdb). Idempotent; the lookup index is rebuilt every time."""
    from ..workspace import create_indexes
    from ..workspace.lookup_index import index_status

    ws = open_workspace(workspace)
    if refresh:
        stale = {name: why for name, why in index_status(ws).items() if why}
        for name, why in stale.items():
            click.echo(f"stale: {name}: {why}")
        if not stale:
            click.echo("The lookup index is current for every dataset; rebuilding anyway.")
    report = create_indexes(ws, progress=True, drop=drop)
    if drop:
        click.echo(f"Dropped {len(report.dropped)} index(es)"
                   f"{' and the lookup index' if report.lookup_index_dropped else ''} in {report.seconds:.1f} s.")
    else:
        click.echo(f"Created {len(report.created)} index(es), {len(report.existing)} already there, "
                   f"in {report.seconds:.1f} s.")
    if report.lookup_index is not None:
        b = report.lookup_index
        click.echo(f"Lookup index {ws.root / 'index.duckdb'}: {b.identities:,} identity and {b.mentions:,} mention "
                   f"entries over {len(b.datasets)} datasets ({sum(b.datasets.values()):,} rows), {b.seconds:.1f} s.")
    if report.skipped:
        click.echo(f"File sources have no indexes: {', '.join(report.skipped)}")


def _stale_index_warnings(ws) -> list[str]:
    """`check`'s word on the lookup index: the datasets it is stale for (nothing when there is none)."""
    from ..workspace.lookup_index import index_path, index_status

    if not index_path(ws).exists():
        return []
    return [f"lookup index stale for {name}: {why}; lookups scan it until `privacyops index --refresh`"
            for name, why in index_status(ws).items() if why]


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
    _identity_warning(ws, report.warnings)
    if not no_live:
        report.warnings.extend(_stale_index_warnings(ws))
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
        from ..ledger.checkpoints import weak_sink_warning

        if note := weak_sink_warning(ws):  # where the audit checkpoints go (the map's audit: section)
            click.secho(f"note: {note}", fg="yellow")
        click.echo("OK" if report.ok else f"{len(report.problems)} problem(s) between the map and the data.")
    sys.exit(0 if report.ok else 2)


def _identity_warning(ws, warnings: list[str]) -> None:
    """Four-eyes without registered people is a convention: say so."""
    from ..ledger.people import NOT_PROVEN, registry_empty

    if registry_empty(ws):
        warnings.append(f"{NOT_PROVEN}: anyone can set PRIVACYOPS_ACTOR, so four-eyes approval is a convention, not "
                        f"a control — register people: privacyops person init, privacyops person register (see "
                        f"docs/people.md)")


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
@click.option("--out", type=OutPath(folder=False), default=None,
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
