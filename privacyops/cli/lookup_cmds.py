"""`privacyops lookup`: every record about a person."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main

if TYPE_CHECKING:
    from ..lookup import SubjectRecords


@main.command("lookup")
@click.argument("identifier", required=False)
@_ws_option
@click.option("--by", "kind", default="auto", show_default=True,
              help="Identity kind: auto, email, phone, name, id, or a kind from the map (e.g. customer_id).")
@click.option("--pick", default=None, help="Choose a candidate: DATASET:KEY (from an earlier ambiguous lookup).")
@click.option("--case", "case_id", default=None, help="Attach this lookup to a case.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every row).")
@click.option("--rows", default=5, show_default=True, type=click.IntRange(0, 100_000), help="Rows shown per dataset in human output (0: none).")
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


def _print_lookup(result: SubjectRecords, rows: int) -> None:
    import pandas as pd

    if result.status == "not_found":
        click.echo(f"No records found for {result.query!r} (searched as {result.kind}).")
        return
    if result.status == "ambiguous":
        shown = result.candidates[:max(rows, 20)]
        click.echo(f"{result.candidates_heading(len(shown))}; pick one with --pick REF:")
        for c in shown:
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
