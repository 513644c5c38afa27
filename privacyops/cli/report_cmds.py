"""`privacyops report` (retention, consent, requests) and `privacyops ropa` (Art. 30)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..workspace import default_workspace_path, open_workspace
from .app import _emit_json, _ws_option, main


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
    from ..jobs import REPORTS, NotebookRunError, run_report
    from ..jobs.runner import NOTEBOOKS_DIR, shared_kernel
    from ..reports.retention_report import parse_as_of

    ws_path = workspace or default_workspace_path()
    open_workspace(ws_path)  # a bad map fails here, with its problems, before any notebook starts
    day = parse_as_of(as_of)
    out_dir = (out or Path(ws_path) / "outputs" / "reports").resolve()
    runs, failed = [], []
    with shared_kernel(NOTEBOOKS_DIR):  # `all`: the three notebooks run in one kernel, reset between them
        for name in (list(REPORTS) if which == "all" else [which]):
            try:
                run = run_report(name, ws_path, out_dir, day)
            except NotebookRunError as exc:
                failed.append({"report": name, "error": str(exc)})
                click.secho(f"error: {name} report: {exc}", fg="red", err=True)
                continue
            runs.append(run)
            if not as_json:
                click.echo(f"{name:10} as of {day}  {run.seconds:5.1f} s  -> "
                           + ", ".join(str(p) for p in run.outputs))
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
