"""People and their keys: `privacyops person init|register|list|revoke|whoami|grants`."""

from __future__ import annotations

from pathlib import Path

import click

from ..workspace import open_workspace
from .app import _emit_json, _ws_option, main


@main.group("person")
def person_group() -> None:
    """Who acts, proven by their own key: make a key (init), register it (an admin), list, revoke, whoami, and the
    PostgreSQL grants that make the approval columns and the registry writable only by the right roles."""


@person_group.command("init")
@click.option("--name", required=True, help="Your name as the admin will register it.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where the key goes (default: $PRIVACYOPS_PERSON_KEY or ~/.config/privacyops/person.key); never "
                   "inside a workspace.")
def person_init(name: str, out: Path | None) -> None:
    """Create your Ed25519 key pair (owner-only file, never overwritten) and print the public key for an admin."""
    from ..workspace.person import KEY_ENV, default_key_path, init_person_key

    key = init_person_key(name, out)
    click.echo(f"Wrote your private key to {key.path} (mode 600; keep it to yourself, back it up).")
    click.echo(f"Public key of {key.name} (key id {key.key_id}) — give this line to an admin:")
    click.echo(key.public_key)
    click.echo(f"They run: privacyops person register {_quote(key.name)} {key.public_key} --roles preparer")
    if out and Path(out).expanduser().resolve() != default_key_path().resolve():
        click.echo(f"Act with it: export {KEY_ENV}={key.path}")


def _quote(name: str) -> str:
    return f"'{name}'" if any(c.isspace() for c in name) else name


@person_group.command("register")
@click.argument("name")
@click.argument("public_key")
@_ws_option
@click.option("--roles", required=True, help="Comma-separated: preparer, approver, admin.")
@click.option("--db-role", default=None, help="The PostgreSQL role this person connects to a shared ledger as.")
def person_register(name: str, public_key: str, workspace: Path | None, roles: str, db_role: str | None) -> None:
    """Register a person's public key (an admin; the very first registration is your own key, as admin)."""
    from ..ledger.people import register_person

    p = register_person(open_workspace(workspace), name, public_key, roles, db_role)
    click.echo(f"Registered {p.name}: key {p.key_id}, roles {', '.join(p.roles)}"
               + (f", database role {p.db_role}" if p.db_role else "") + f" (by {p.registered_by}).")


@person_group.command("list")
@_ws_option
@click.option("--all", "show_all", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True)
def person_list(workspace: Path | None, show_all: bool, as_json: bool) -> None:
    """The people registered in this workspace."""
    from ..ledger.people import NOT_PROVEN, people

    rows = [p for p in people(open_workspace(workspace)) if show_all or p.active]
    if as_json:
        _emit_json([p.to_dict() for p in rows])
        return
    if not rows:
        click.echo(f"Nobody is registered: {NOT_PROVEN}. Start with: privacyops person init --name NAME, then "
                   f"privacyops person register NAME PUBLIC_KEY --roles admin,approver")
    for p in rows:
        state = f"revoked {p.revoked_at:%Y-%m-%d} by {p.revoked_by}" if not p.active else "active"
        click.echo(f"{p.name:<20} {p.key_id}  {','.join(p.roles):<24} {p.db_role or '-':<12} {state}")


@person_group.command("revoke")
@click.argument("who")
@_ws_option
@click.option("--reason", default=None, help="Why (recorded in the audit log).")
def person_revoke(who: str, workspace: Path | None, reason: str | None) -> None:
    """Revoke a key (by key id) or every active key of a person (by name); an admin."""
    from ..ledger.people import revoke_person

    for p in revoke_person(open_workspace(workspace), who, reason=reason):
        click.echo(f"Revoked key {p.key_id} of {p.name}.")


@person_group.command("whoami")
@_ws_option
@click.option("--json", "as_json", is_flag=True)
def person_whoami(workspace: Path | None, as_json: bool) -> None:
    """Who your key (in $PRIVACYOPS_PERSON_KEY or the default path) is in this workspace."""
    from ..ledger.people import whoami

    info = whoami(open_workspace(workspace))
    if as_json:
        _emit_json(info)
        return
    if info.get("name"):
        click.echo(f"{info['name']} (key {info['key_id']}, {info['key_file']}): {info['status']}; roles "
                   f"{', '.join(info['roles'])}" + (f"; database role {info['db_role']}" if info['db_role'] else ""))
    else:
        click.echo(f"key {info['key_id'] or '-'} ({info['key_file'] or 'no key file'}): {info['status']}")


@person_group.command("grants")
@_ws_option
def person_grants(workspace: Path | None) -> None:
    """GRANT/REVOKE SQL for a PostgreSQL ledger (run as the tables' owner): analysts' roles cannot UPDATE the
    approval columns of erasure plans or the people table."""
    from ..ledger.people import grants_sql

    click.echo(grants_sql(open_workspace(workspace)), nl=False)
