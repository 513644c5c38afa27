"""`privacyops hold` (legal holds) and `privacyops suppress` (the suppression list)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main


@main.group("hold")
def hold_group() -> None:
    """Legal holds: records that must not be erased while they apply."""


@hold_group.command("add")
@_ws_option
@click.option("--subject", default=None,
              help="The person: an identifier (e-mail, phone, id) or DATASET:KEY; looked up first (a name lists "
                   "the people to choose from).")
@click.option("--dataset", default=None, help="Hold a whole dataset instead (and the records that belong to it).")
@click.option("--reason", required=True, help="Why (e.g. litigation reference, tax audit).")
@click.option("--owner", required=True, help="Who answers for the hold and releases it.")
@click.option("--since", default=None, help="Since when (YYYY-MM-DD; default today).")
@click.option("--review", "review_on", default=None, help="When to review it (YYYY-MM-DD).")
@click.option("--case", "case_id", default=None, help="The case the hold belongs to.")
@click.option("--json", "as_json", is_flag=True)
def hold_add(workspace: Path | None, subject: str | None, dataset: str | None, reason: str, owner: str,
             since: str | None, review_on: str | None, case_id: str | None, as_json: bool) -> None:
    """Place a legal hold on a person or a dataset (the person is kept only as keyed hashes of their identifiers)."""
    from ..erasure.holds_resolve import place_hold

    hold, person = place_hold(open_workspace(workspace), reason=reason, owner=owner, subject=subject,
                              dataset=dataset, since=since, review_on=review_on, case_id=case_id)
    if as_json:
        _emit_json(hold.to_dict() | ({"subject": {"ref": person.ref, "identifiers": len(person.forms),
                                                  "shared_left_out": person.left_out}} if person else {}))
        return
    click.echo(f"{hold.hold_id}  {hold.describe()}" + (f"; review {hold.review_on}" if hold.review_on else ""))
    if person is not None:
        click.echo(f"  protects {person.ref or 'the records of'} ({person.label}) under {len(person.forms)} "
                   f"identifier form(s)" + (f"; {person.left_out} identifier(s) shared with another person are not "
                                            f"held (they would block that person too)" if person.left_out else ""))


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
