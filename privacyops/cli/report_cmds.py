"""`privacyops report` (retention, consent, requests) and `privacyops ropa` (Art. 30)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..workspace import default_workspace_path, open_workspace
from .app import OutPath, _emit_json, _ws_option, main


@main.command("report", short_help="Run the retention, consent or requests report (or all) headless.")
@click.argument("which", type=click.Choice(["retention", "consent", "requests", "all"]))
@_ws_option
@click.option("--as-of", default=None, help="The report date (YYYY-MM-DD; default today).")
@click.option("--out", type=OutPath(), default=None,
              help="Where the reports go (default: WORKSPACE/outputs/reports), one folder per report.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report_cmd(which: str, workspace: Path | None, as_of: str | None, out: Path | None, as_json: bool) -> None:
    """Run report notebooks headless: the report (HTML with its charts, JSON), the executed notebook as evidence
    and its HTML without code. Exit 6 when a run fails (the executed notebook is kept)."""
    from ..jobs import REPORTS, NotebookRunError
    from ..jobs.runner import NOTEBOOKS_DIR, shared_kernel, warm_up

    day = _report_date(as_of)
    ws_path = workspace or default_workspace_path()
    # The kernel starts first and imports the report jobs while this process checks the map and loads papermill
    # (the reports themselves are computed in the kernel, never imported here). `all`: the three notebooks run in
    # this one kernel, reset between them.
    with shared_kernel(NOTEBOOKS_DIR) as kernel:
        kernel.start()
        warm_up(kernel, "privacyops.jobs.report_jobs")
        open_workspace(ws_path)  # a bad map fails here, with its problems, before any notebook runs
        out_dir = (out or Path(ws_path) / "outputs" / "reports").resolve()
        runs, failed = _run_reports(list(REPORTS) if which == "all" else [which], ws_path, out_dir, day, as_json)
    if as_json:
        _emit_json({"as_of": day.isoformat(), "out": str(out_dir), "runs": [r.to_dict() for r in runs],
                    "failed": failed})
    if failed:
        sys.exit(NotebookRunError.exit_code)


def _report_date(value: str | None) -> dt.date:
    """The report date (default today), read here without importing the reports."""
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date written YYYY-MM-DD", param_hint="--as-of") from None


def _run_reports(names: list[str], ws_path: Path, out_dir: Path, day: dt.date,
                 as_json: bool) -> tuple[list, list[dict[str, str]]]:
    from ..jobs import NotebookRunError, run_report

    runs, failed = [], []
    for name in names:
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
    return runs, failed


@main.command("ropa", short_help="The record of processing activities (GDPR Art 30) as HTML and CSV.")
@_ws_option
@click.option("--out", type=OutPath(), default=None,
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
