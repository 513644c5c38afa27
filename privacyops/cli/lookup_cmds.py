"""`privacyops lookup`: every record about a person."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main

if TYPE_CHECKING:
    from ..lookup import SubjectRecords


NOT_FOUND_EXIT = 1  # like grep: nothing found


@main.command("lookup")
@click.argument("identifier", required=False)
@_ws_option
@click.option("--by", "kind", default="auto", show_default=True,
              help="Identity kind: auto, email, phone, name, id, or a kind from the map (e.g. customer_id).")
@click.option("--pick", default=None, help="Choose a candidate: DATASET:KEY (from an earlier ambiguous lookup).")
@click.option("--case", "case_id", default=None, help="Attach this lookup to a case.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every row).")
@click.option("--rows", default=3, show_default=True, type=click.IntRange(0, 100_000),
              help="Rows shown per dataset in human output (0: none).")
@click.option("--no-mentions", is_flag=True, help="Skip the search for mentions in other people's free text.")
def lookup_cmd(identifier: str | None, workspace: Path | None, kind: str, pick: str | None, case_id: str | None,
               as_json: bool, rows: int, no_mentions: bool) -> None:
    """Find every record about a person from an e-mail, phone number, id or name."""
    from ..lookup import lookup

    ws = open_workspace(workspace)
    with _without_pandas():
        result = lookup(ws, identifier, kind=kind, pick=pick, case_id=case_id, mentions=not no_mentions)
    if as_json:
        _emit_json(result.to_dict())
    else:
        _print_lookup(result, rows)
    if result.status == "not_found" and not result.kept_rows:
        sys.exit(NOT_FOUND_EXIT)  # scripts can tell a miss from a person found (or records an erasure kept)


@contextmanager
def _without_pandas() -> Iterator[None]:
    """DuckDB (1.5) imports pandas on the first query with parameters, only to recognise pandas values among them;
    a lookup passes none, and pandas takes over half a second to import. While this process has not loaded pandas,
    the lookup runs with it marked unavailable (DuckDB then skips those checks); the mark is removed afterwards."""
    if "pandas" in sys.modules:
        yield
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if "pandas" in sys.modules and sys.modules["pandas"] is None:
            del sys.modules["pandas"]


def _print_lookup(result: SubjectRecords, rows: int) -> None:
    for note in result.notes:  # datasets the lookup index could not answer for: scanned (slower, still complete)
        click.secho(f"note: {note}", fg="yellow", err=True)
    from .output import echo, erasures_out, numeric_columns, rows_table, table

    if result.status == "not_found":
        searched = (result.kind or "").replace("/", ", ")
        if result.erasures:  # the identifiers are gone from the data; the erasure and what it kept are not
            held = (f"{result.kept_rows} record(s) are still kept (below: under which rule, until when)"
                    if result.kept_rows else "nothing of theirs is kept")
            echo(f"{result.query!r} names a person whose records were erased: {held}.",
                 *erasures_out(result.erasures))
            return
        click.echo(f"No records found for {result.query!r} (searched as: {searched}). Check the spelling, or "
                   f"search by another identifier (--by email, phone, name or an id kind).")
        return
    if result.status == "ambiguous":
        shown = result.candidates[:max(rows, 20)]
        echo(f"{result.candidates_heading(len(shown))}; pick one with --pick REF:",
             table(["REF", "score", "who"], [(c.ref, f"{c.score:.3f}", c.label) for c in shown], right=["score"]))
        return
    who = result.subject.label if result.subject else result.query
    out: list[Any] = [f"Subject: {who}" + (f"  [{result.subject.ref}]" if result.subject else ""),
                      (f"{result.total_rows} record(s) in {len(result.records)} dataset(s), "
                       f"{result.elapsed_ms:.0f} ms"), ""]
    # pandas-free (a lookup from the shell need not load it): the same tables as the frames would give
    keep = ["dataset", "records", "source", "location", "purposes", "legal bases", "retention"]
    summary = [[r[c] for c in keep] for r in result.summary_rows()]  # categories: by category below; all in --json
    out.append(rows_table(keep, summary, numeric=numeric_columns(keep, summary)[0], max_columns=len(keep),
                          keep=["dataset"])[0])
    out.append(table(["data category", "records", "datasets"],
                     [(c["category"], c["records"], c["datasets"]) for c in result.category_rows()],
                     right=["records"], keep=["data category"], title="By data category"))
    out.append("")
    for recs in (result.records.values() if rows else ()):
        numeric, every = numeric_columns(recs.columns, [[r.get(c) for c in recs.columns] for r in recs.rows])
        head = every[:rows]
        shown, left_out = rows_table(recs.columns, head, numeric=numeric, title=f"{recs.dataset} ({recs.count})")
        out += ["", shown]
        more = [f"{len(recs.rows) - rows} more row(s)"] if len(recs.rows) > rows else []
        more += [f"{left_out} more column(s)"] if left_out else []
        if more:
            out.append(f"  … {' and '.join(more)}: --rows N or --json for every row and column")
    if result.context:
        out.append("\nContext (shared reference data, not the subject's): " +
                   ", ".join(f"{n} ({r.count})" for n, r in result.context.items()))
    if result.shared:
        out.append("\nHeld under an identifier shared with another person (review before acting): " +
                   ", ".join(f"{n} ({r.count})" for n, r in result.shared.items()))
    if result.mentions:
        out.append(table(["record", "field", "matched"], [(f"{m.dataset}:{','.join(map(str, m.key))}", m.field,
                                                            m.matched) for m in result.mentions],
                         title=f"Mentions in other people's records ({len(result.mentions)})"))
    if result.erasures:
        out += ["", "Erased before: what that erasure still keeps, under which rule, until when",
                *erasures_out(result.erasures)]
    echo(*out)
