"""The demo's two people, so the demo runs with proven identities (docs/people.md).

An analyst (preparer) and a data protection officer (approver, admin) get their own key files OUTSIDE the demo
workspace, in the sibling folder `<workspace>-people/` (e.g. `data/demo-people/`, git-ignored), and are registered
in the demo's ledger: the DPO's key bootstraps the registry and registers the analyst. Keys already there are
reused (a rebuilt demo keeps its people).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..ledger.people import people, register_person
from ..workspace import open_workspace
from ..workspace.person import PersonKey, forget_proven, init_person_key, load_person_key

# handle -> (registered name, roles); the DPO comes first: they bootstrap the registry as its admin
DEMO_PEOPLE = {"dpo": ("Dace (DPO)", "approver,admin"), "analyst": ("Andris (analyst)", "preparer")}


def people_folder(workspace: str | Path) -> Path:
    """Where the demo people's keys live: beside the workspace, never inside it."""
    ws = Path(workspace).resolve()
    return ws.parent / f"{ws.name}-people"


@contextmanager
def _no_claimed_actor() -> Iterator[None]:
    """The generator acts with the DPO's key: a PRIVACYOPS_ACTOR left in the shell must not be taken as a claim."""
    before = os.environ.pop("PRIVACYOPS_ACTOR", None)
    try:
        yield
    finally:
        if before is not None:
            os.environ["PRIVACYOPS_ACTOR"] = before


def register_demo_people(workspace: str | Path) -> dict[str, Path]:
    """Make (or reuse) the demo people's keys and register them in the demo's ledger; returns {handle: key path}."""
    folder = people_folder(workspace)
    keys: dict[str, PersonKey] = {}
    for handle, (name, _) in DEMO_PEOPLE.items():
        path = folder / f"{handle}.key"
        keys[handle] = load_person_key(path, required=False) or init_person_key(name, path)
    ws = open_workspace(workspace)
    known = {p.key_id for p in people(ws) if p.active}
    with _no_claimed_actor():
        for handle, (name, roles) in DEMO_PEOPLE.items():
            if keys[handle].key_id not in known:
                register_person(ws, name, keys[handle].public_key, roles, key=keys["dpo"])
    forget_proven()  # the generator acted as the DPO; whoever runs next acts as their own key
    return {h: k.path for h, k in keys.items()}


__all__ = ["DEMO_PEOPLE", "people_folder", "register_demo_people"]
