"""People with their own keys for tests: make keys outside the workspace, act as one of them, register a team."""

from __future__ import annotations

from pathlib import Path

from privacyops.ledger.people import register_person
from privacyops.workspace.person import KEY_ENV, PersonKey, forget_proven, init_person_key

# name -> roles of the team `register_team` registers (dpo bootstraps the registry as its admin)
TEAM = {"dpo": "admin,approver", "alice": "preparer", "bob": "approver", "carol": "preparer,approver"}


def make_key(folder: Path, name: str) -> PersonKey:
    """A person's key in `folder` (outside any workspace)."""
    return init_person_key(name, Path(folder) / f"{name}.key")


def act_as(monkeypatch, key: PersonKey | None) -> None:
    """Act with this key (None: no key file at all); PRIVACYOPS_ACTOR is unset, as a registered person has it."""
    forget_proven()
    monkeypatch.delenv("PRIVACYOPS_ACTOR", raising=False)
    monkeypatch.setenv(KEY_ENV, str(key.path) if key else "/nonexistent/privacyops-person.key")


def register_team(ws, folder: Path, monkeypatch, team: dict[str, str] | None = None) -> dict[str, PersonKey]:
    """Keys for every member of `team` (default TEAM) in `folder`, registered by the first one (the bootstrap
    admin). Afterwards nobody acts (call `act_as`)."""
    team = team or TEAM
    keys = {name: make_key(folder, name) for name in team}
    admin = next(iter(team))
    act_as(monkeypatch, keys[admin])
    for name, roles in team.items():
        register_person(ws, name, keys[name].public_key, roles)
    forget_proven()
    return keys
