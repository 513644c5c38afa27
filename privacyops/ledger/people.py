"""The people registry: who may act in a workspace, proven by their own Ed25519 key (privacyops.workspace.person).

A row of `people` names a person, their public key (and its id), their roles — `preparer` (plans erasures,
applies rectifications), `approver` (approves another person's erasure plan, releases holds), `admin` (registers
and revokes people) — and, with a PostgreSQL ledger, the database role they connect as. Keys are never deleted:
revoking stamps `revoked_at`.

**Bootstrap.** While the registry is empty the workspace runs as before (the actor is `PRIVACYOPS_ACTOR` or the OS
user) and approvals and certificates say `identity not proven (no people registered)`. The first registration must
be the acting person's own key, as admin; from then on only an admin, proven by their key, registers or revokes.

**Acting.** `acting_person(ws, role, ...)` is called by every acting command (prepare, approve, execute, retry,
cancel, rectify, hold add/release, register): with registered people it loads the key file, finds it in the
registry (unrevoked, with one of the roles), refuses a `PRIVACYOPS_ACTOR` naming someone else, checks the
PostgreSQL session user against the person's `db_role`, and returns an `Acting` that signs. `check_signature`
verifies a stored signature against the registry (used before an erasure runs).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Any

from ..errors import IdentityError, PrivacyOpsError
from ..workspace import Workspace
from ..workspace.person import (
    PersonKey,
    forget_proven,
    key_id_of,
    load_person_key,
    parse_public_key,
    remember_proven,
    verify,
)
from . import audit
from .store import SCHEMA, ledger_exists, open_ledger

PREPARER, APPROVER, ADMIN = "preparer", "approver", "admin"
ROLES = (PREPARER, APPROVER, ADMIN)
NOT_PROVEN = "identity not proven (no people registered)"
_COLS = "key_id, name, public_key, roles, db_role, registered_by, registered_at, revoked_at, revoked_by"


@dataclass(frozen=True)
class Person:
    """One registered key of a person."""

    key_id: str
    name: str
    public_key: str  # ed25519:<base64>
    roles: tuple[str, ...]
    db_role: str | None
    registered_by: str
    registered_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def public_raw(self) -> bytes:
        return parse_public_key(self.public_key)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key_id": self.key_id, "public_key": self.public_key, "roles": list(self.roles),
                "db_role": self.db_role, "registered_by": self.registered_by,
                "registered_at": str(self.registered_at), "revoked_at": str(self.revoked_at or "") or None,
                "revoked_by": self.revoked_by}


def _person(row: tuple) -> Person:
    kid, name, pub, roles, db_role, by, at, rat, rby = row
    return Person(kid, name, pub, tuple(r for r in roles.split(",") if r), db_role, by, at, rat, rby)


def signature_payload(purpose: str, person: str, key_id: str, **fields: Any) -> dict[str, Any]:
    """What a person signs: the purpose (e.g. `erasure.approve`), who, with which key, and the fields it binds."""
    return {"purpose": purpose, "person": person, "key_id": key_id, **{k: v for k, v in fields.items()}}


@dataclass(frozen=True)
class Acting:
    """The proven acting person: their registry row and their private key."""

    person: Person
    key: PersonKey

    @property
    def name(self) -> str:
        return self.person.name

    def sign(self, purpose: str, **fields: Any) -> dict[str, Any]:
        """{person, key_id, public_key, sig}: the signature over `signature_payload(purpose, ..., **fields)`."""
        payload = signature_payload(purpose, self.name, self.key.key_id, **fields)
        return {"person": self.name, "key_id": self.key.key_id, "public_key": self.person.public_key,
                "sig": self.key.sign(payload)}


def people(ws: Workspace) -> list[Person]:
    """Every registered key, revoked ones included, in the order they were registered."""
    if not ledger_exists(ws):
        return []
    with open_ledger(ws) as con:
        rows = con.execute(f"SELECT {_COLS} FROM people ORDER BY registered_at, key_id").fetchall()
    return [_person(r) for r in rows]


def registry_empty(ws: Workspace) -> bool:
    """No people registered: the workspace acts as before, with unproven identities."""
    if not ledger_exists(ws):
        return True
    with open_ledger(ws) as con:
        return con.execute("SELECT count(*) FROM people").fetchone()[0] == 0


def _row(con, key_id: str) -> Person | None:
    row = con.execute(f"SELECT {_COLS} FROM people WHERE key_id = ?", [key_id]).fetchone()
    return _person(row) if row else None


def _refuse(key_id: str | None, message: str) -> None:
    if key_id:
        forget_proven(key_id)
    raise IdentityError(message)


def acting_person(ws: Workspace, *roles: str, action: str, key: PersonKey | None = None) -> Acting | None:
    """The proven acting person, who must hold one of `roles` to do `action`; None while nobody is registered
    (unproven, as before). Refusals say what is missing and how to fix it."""
    if not ledger_exists(ws):
        return None
    key = key or load_person_key(required=False)
    with open_ledger(ws) as con:  # one opening: acting commands pay it every time
        if con.execute("SELECT count(*) FROM people").fetchone()[0] == 0:
            return None
        person = _row(con, key.key_id) if key is not None else None
        session_user = con.execute("SELECT session_user").fetchone()[0] if con.kind == "postgres" else None
    if key is None:
        key = load_person_key()  # raises: how to make a key
    if person is None:
        _refuse(key.key_id, f"cannot {action}: your key {key.key_id} ({key.path}) is not registered in this "
                            f"workspace; an admin registers it: privacyops person register NAME {key.public_key} "
                            f"--roles {roles[0] if roles else PREPARER}")
    assert person is not None
    if not person.active:
        _refuse(key.key_id, f"cannot {action}: the key {key.key_id} of {person.name} was revoked on "
                            f"{person.revoked_at:%Y-%m-%d} by {person.revoked_by}; make a new key (privacyops person "
                            f"init) and have an admin register it")
    claimed = os.environ.get("PRIVACYOPS_ACTOR", "").strip()
    if claimed and claimed != person.name:
        _refuse(key.key_id, f"PRIVACYOPS_ACTOR is set to '{claimed}', but your key ({key.path}) is registered as "
                            f"'{person.name}': with registered people who acts is proven by the key, never named by "
                            f"the variable — unset PRIVACYOPS_ACTOR (or use that person's own key)")
    if roles and not set(roles) & set(person.roles):
        _refuse(key.key_id, f"{person.name} may not {action}: that needs the role {' or '.join(roles)}, and "
                            f"{person.name} is registered as {', '.join(person.roles) or 'nothing'}; an admin adds "
                            f"the role (privacyops person register '{person.name}' {person.public_key} --roles ...)")
    if session_user is not None and person.db_role and session_user != person.db_role:
        _refuse(key.key_id, f"cannot {action}: {person.name} works as the database role '{person.db_role}', but the "
                            f"ledger connection is '{session_user}'; connect with your own role (the ledger DSN's "
                            f"user) so the database's grants apply to you")
    remember_proven(key.key_id, person.name)
    return Acting(person, key)


def confirm_person(ws: Workspace) -> str | None:
    """The registered name of the key in place, remembered so `current_actor()` names them (a panel's "acting
    as"); None when nobody is registered or the key is not (an acting command then refuses, saying why). Never
    raises: it is for display."""
    try:
        key = None if registry_empty(ws) else load_person_key(required=False)
        if key is None:
            return None
        with open_ledger(ws) as con:
            person = _row(con, key.key_id)
    except PrivacyOpsError:
        return None
    if person is None or not person.active:
        return None
    remember_proven(key.key_id, person.name)
    return person.name


def _roles(roles: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = [r.strip().lower() for r in (roles.split(",") if isinstance(roles, str) else roles) if r.strip()]
    bad = [r for r in items if r not in ROLES]
    if bad or not items:
        raise IdentityError(f"roles must be some of {', '.join(ROLES)} (comma-separated); got "
                            f"{', '.join(bad) or 'none'}")
    return tuple(r for r in ROLES if r in items)


def register_person(ws: Workspace, name: str, public_key: str, roles: str | list[str],
                    db_role: str | None = None, *, key: PersonKey | None = None) -> Person:
    """Register (or, for a key already registered, change the roles of) a person's key; audited and signed. With
    nobody registered, only the acting person's own key, as admin (bootstrap); afterwards only an admin."""
    name = (name or "").strip()
    if not name:
        raise IdentityError("give the person's name")
    raw = parse_public_key(public_key)
    kid, wanted = key_id_of(raw), _roles(roles)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    bootstrap = registry_empty(ws)
    if bootstrap:
        me = key or load_person_key()
        if me.key_id != kid:
            raise IdentityError(f"nobody is registered yet: the first registration must be your own key (bootstrap) "
                                f"— the key given is {kid}, yours ({me.path}) is {me.key_id}")
        if ADMIN not in wanted:
            raise IdentityError("nobody is registered yet: the first person registered is an admin (--roles "
                                f"{','.join(wanted)},admin), who then registers everyone else")
        acting = Acting(Person(kid, name, public_key.strip(), wanted, db_role, name, now), me)
    else:
        acting = acting_person(ws, ADMIN, action="register people", key=key)
    with open_ledger(ws) as con:
        with con.transaction(lock=True):
            if bootstrap and con.execute("SELECT count(*) FROM people").fetchone()[0]:
                raise IdentityError("someone registered the first person meanwhile; run the command again as an "
                                    "admin")
            old = _row(con, kid)
            if old is not None and not old.active:
                raise IdentityError(f"key {kid} was revoked on {old.revoked_at:%Y-%m-%d}; a revoked key is never "
                                    f"registered again (make a new one: privacyops person init)")
            if old is not None and old.name != name:
                raise IdentityError(f"key {kid} is registered as {old.name}, not {name}")
            if old is None:
                con.execute(f"INSERT INTO people ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                            [kid, name, public_key.strip(), ",".join(wanted), db_role, acting.name, now])
            else:
                con.execute("UPDATE people SET roles = ?, db_role = ? WHERE key_id = ?",
                            [",".join(wanted), db_role, kid])
    if bootstrap:
        remember_proven(kid, name)
    sig = acting.sign("person.register", registered=name, registered_key_id=kid, roles=",".join(wanted),
                      db_role=db_role)
    audit.record(ws, "person.register" if old is None else "person.roles",
                 {"name": name, "key_id": kid, "roles": list(wanted), "db_role": db_role, "bootstrap": bootstrap,
                  "signature": _short(sig)}, actor=acting.name)
    with open_ledger(ws) as con:
        return _row(con, kid)  # type: ignore[return-value]


def _short(sig: dict[str, Any]) -> dict[str, Any]:
    """A signature as the audit log keeps it: {person, key_id, sig}."""
    return {"person": sig["person"], "key_id": sig["key_id"], "sig": sig["sig"]}


def revoke_person(ws: Workspace, who: str, *, reason: str | None = None, key: PersonKey | None = None) -> list[Person]:
    """Revoke a key (by key id) or every active key of a person (by name); admin only, audited and signed. The
    last active admin key is never revoked (nobody could register anyone again)."""
    acting = acting_person(ws, ADMIN, action="revoke people", key=key)
    if acting is None:
        raise IdentityError("nobody is registered in this workspace: there is nothing to revoke")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with open_ledger(ws) as con:
        with con.transaction(lock=True):
            everyone = [_person(r) for r in con.execute(f"SELECT {_COLS} FROM people").fetchall()]
            hit = [p for p in everyone if p.active and (p.key_id == who or p.name == who)]
            if not hit:
                raise IdentityError(f"no active registered key or person '{who}' (privacyops person list)")
            admins = [p for p in everyone if p.active and ADMIN in p.roles and p not in hit]
            if not admins:
                raise IdentityError(f"revoking {who} would leave no active admin, and nobody could register or revoke "
                                    f"anyone again; register another admin first")
            for p in hit:
                con.execute("UPDATE people SET revoked_at = ?, revoked_by = ? WHERE key_id = ?",
                            [now, acting.name, p.key_id])
    for p in hit:
        forget_proven(p.key_id)
        sig = acting.sign("person.revoke", revoked=p.name, revoked_key_id=p.key_id)
        audit.record(ws, "person.revoke", {"name": p.name, "key_id": p.key_id, "reason": reason,
                                           "signature": _short(sig)}, actor=acting.name)
    return hit


def whoami(ws: Workspace) -> dict[str, Any]:
    """Who the key in place is here: registered (name, roles, db role), revoked, unknown, or no people registered."""
    key = load_person_key(required=False)
    out: dict[str, Any] = {"key_file": str(key.path) if key else None, "key_id": key.key_id if key else None,
                           "registry": "empty" if registry_empty(ws) else "in use"}
    if out["registry"] == "empty":
        out["status"] = NOT_PROVEN
        return out
    if key is None:
        out["status"] = "no person key: privacyops person init --name NAME"
        return out
    with open_ledger(ws) as con:
        person = _row(con, key.key_id)
    if person is None:
        out["status"] = "not registered"
    else:
        out.update(person.to_dict())
        out["status"] = "registered" if person.active else "revoked"
    return out


def check_signature(ws: Workspace, sig: dict[str, Any] | None, purpose: str, roles: tuple[str, ...], what: str,
                    **fields: Any) -> Person:
    """The registered, unrevoked person whose key made `sig` over `fields` (holding one of `roles`); refused with
    what is wrong otherwise."""
    if not sig or not sig.get("sig") or not sig.get("key_id"):
        raise IdentityError(f"{what} carries no signature (it was not made through privacyops by a registered "
                            f"person, or was written into the ledger directly)")
    with open_ledger(ws) as con:
        person = _row(con, str(sig["key_id"]))
    if person is None:
        raise IdentityError(f"{what} was signed with key {sig['key_id']}, which is not registered in this workspace")
    if not person.active:
        raise IdentityError(f"{what} was signed by {person.name} with key {person.key_id}, revoked on "
                            f"{person.revoked_at:%Y-%m-%d}")
    if roles and not set(roles) & set(person.roles):
        raise IdentityError(f"{what} was signed by {person.name}, who is not registered as {' or '.join(roles)}")
    payload = signature_payload(purpose, person.name, person.key_id, **fields)
    if sig.get("person") != person.name or not verify(person.public_raw, payload, str(sig["sig"])):
        raise IdentityError(f"{what}: the signature by key {person.key_id} ({person.name}) does not verify — the "
                            f"signature, the name or what it signs was changed after signing")
    return person


def sign_as(acting: Acting | None, actor: str, purpose: str, **fields: Any) -> dict[str, Any]:
    """The acting person's signature over `fields` for `purpose`; while nobody is registered, a mark that the
    identity (`actor`) is not proven."""
    if acting is None:
        return {"person": actor, "identity": NOT_PROVEN}
    return acting.sign(purpose, **fields)


def audit_signature(sig: dict[str, Any] | None, mark: bool = True) -> dict[str, Any]:
    """What an audit entry keeps of a signature: {signature: {person, key_id, sig}}; unsigned, that the identity is
    not proven (`mark`; without it nothing, so entries made without registered people stay as they were)."""
    if not sig or not sig.get("sig"):
        return {"identity": NOT_PROVEN} if mark else {}
    return {"signature": _short(sig)}


_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
# Columns of erasure_plans only approvers may change; everything else a preparer's execution writes.
APPROVAL_COLUMNS = ("approved_by", "approved_at", "approval_note", "approved_sig")
EXECUTION_COLUMNS = ("status", "executed_by", "executed_at", "certificate", "executed_sig")


def grants_sql(ws: Workspace) -> str:
    """GRANT/REVOKE statements for a PostgreSQL ledger: every registered database role reads the ledger and writes
    what its people's work writes; only approvers' roles may UPDATE the approval columns of `erasure_plans`, only
    admins' roles may write `people`, and nobody's may rewrite the audit log. Run them as the tables' owner."""
    tables = [t for stmt in SCHEMA for t in _TABLE.findall(stmt)]
    by_role: dict[str, set[str]] = {}
    for p in people(ws):
        if p.active and p.db_role:
            by_role.setdefault(p.db_role, set()).update(p.roles)
    if not by_role:
        return "-- no registered person names a database role (privacyops person register ... --db-role ROLE)\n"
    q = (lambda n: '"' + n.replace('"', '""') + '"')
    plain = [t for t in tables if t not in ("people", "erasure_plans", "audit_log", "audit_head", "meta")]
    lines = ["-- privacyops person grants: run as the owner of the ledger tables (not as one of these roles)"]
    for role, roles in sorted(by_role.items()):
        r = q(role)
        lines += [f"-- {role}: {', '.join(sorted(roles))}",
                  f"REVOKE ALL ON {', '.join(q(t) for t in tables)} FROM {r};",
                  f"GRANT USAGE ON SCHEMA public TO {r};",
                  f"GRANT SELECT ON {', '.join(q(t) for t in tables)} TO {r};",
                  f"GRANT INSERT, UPDATE, DELETE ON {', '.join(q(t) for t in plain)} TO {r};",
                  f"GRANT INSERT ON {q('audit_log')} TO {r};",
                  f"GRANT INSERT ON {q('meta')} TO {r};",  # first-use records (e.g. the signing key's id), no UPDATE
                  f"GRANT INSERT, UPDATE ON {q('audit_head')} TO {r};",
                  f"GRANT INSERT ON {q('erasure_plans')} TO {r};",
                  f"GRANT UPDATE ({', '.join(EXECUTION_COLUMNS)}) ON {q('erasure_plans')} TO {r};"]
        if APPROVER in roles:
            lines.append(f"GRANT UPDATE ({', '.join(APPROVAL_COLUMNS)}) ON {q('erasure_plans')} TO {r};")
        if ADMIN in roles:
            lines.append(f"GRANT INSERT, UPDATE ON {q('people')} TO {r};")
    return "\n".join(lines) + "\n"


__all__ = ["ADMIN", "APPROVAL_COLUMNS", "APPROVER", "Acting", "NOT_PROVEN", "PREPARER", "Person", "ROLES",
           "acting_person", "check_signature", "confirm_person", "grants_sql", "people", "register_person", "registry_empty",
           "revoke_person", "sign_as", "audit_signature", "signature_payload", "whoami"]
