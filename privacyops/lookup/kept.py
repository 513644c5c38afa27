"""What an executed erasure kept about a person, found again from one of their identifiers.

After an erasure the person's identifiers are gone from the data (deleted or masked), yet some records stay: kept
under a retention rule (a legal obligation: Art. 17(3)(b)), restricted (Art. 18) and scheduled for erasure when
the rule ends. A lookup must still say so: "erased on …, certificate …; 9 records of billing.invoices kept under
`invoices` (legal obligation) until 2034-12-31".

How the person is found without their data: every erasure plan keeps, for each subject, keyed digests (HMAC-SHA256
under the workspace key, purpose "hold") of the normalised forms of every identifier the subject had —
`email:…`, `phone:<last digits>`, `id:…`, `ref:DATASET:KEY` (`ledger.holds.identifier_forms`) — inside its sealed
body. The query's forms are digested the same way and compared; no identifier is stored or compared in clear. The
kept rows come from the plan (rule, ground, until), and whether each is still kept from the erasure schedule and
the restriction register, whose row keys are sealed deterministically (AES-SIV), so SQL matches them.

Plan bodies never change once stored (their hash is checked when loaded), so what a body says about its subjects is
read once per process and kept; the schedule and the register are read fresh on every lookup that matches.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ledger import ledger_exists, open_ledger
from ..ledger.holds import HOLD_PURPOSE, identifier_forms
from ..ledger.keyring import workspace_key
from ..ledger.schedule import key_json
from ..workspace import Workspace, sealing
from ..workspace.keys import keyed_hash_generations

# Plan kinds and statuses as `erasure.plan` names them (a later layer: named here, not imported).
_SUBJECT_KINDS = ("request", "batch")  # due and retention runs erase by date, for nobody in particular
_EXECUTED = ("done", "unverified")
_KEPT_ACTIONS = ("retain", "blocked")
_FINISHED = ("done", "gone")  # schedule statuses: the kept row has since been erased (or vanished)
_ROWS_PER_STATEMENT = 200


@dataclass
class KeptDataset:
    """Records of one dataset an erasure kept, under one rule and until one day."""

    dataset: str
    rows: int
    rule: str | None  # the retention rule's name (None: kept for another reason, e.g. a legal hold)
    ground: str | None  # the rule's legal ground, as the map states it
    legal_bases: list[str]  # the legal bases of the dataset's purposes (e.g. legal_obligation)
    basis: str  # what the restriction register says (rule and ground, or the hold)
    until: dt.date | None  # kept through this day (None: the rule's start date is not known yet)
    erase_on: dt.date | None  # scheduled erasure date (None: looked at again on every due run)
    restricted: int = 0  # how many of the rows are in the restriction register (Art. 18: stored, not used)

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda v: v.isoformat() if v else None)
        return {"dataset": self.dataset, "rows": self.rows, "rule": self.rule, "ground": self.ground,
                "legal_bases": self.legal_bases, "basis": self.basis, "until": iso(self.until),
                "erase_on": iso(self.erase_on), "restricted": self.restricted}

    def rule_text(self) -> str:
        """The rule and its legal ground: "tax_records — Accounting Law s.28 (LV)", or the register's text (a
        legal hold, rows kept with others)."""
        if self.rule:
            return f"{self.rule} — {self.ground or 'no ground stated'}"
        return self.basis

    def until_text(self) -> str:
        if self.erase_on:
            return f"kept until {self.until or self.erase_on}, erased on {self.erase_on}"
        return "kept until its retention starts (looked at again on every due run)"


@dataclass
class ErasureOnRecord:
    """An executed erasure of the person the query names, and what it kept that is still kept."""

    plan_id: str
    case_id: str | None
    executed_at: dt.datetime | None
    certificate: str | None
    status: str  # done | unverified
    matched_on: list[str]  # which kinds of identifier matched: email, phone, id, ref
    kept: list[KeptDataset] = field(default_factory=list)

    @property
    def kept_rows(self) -> int:
        return sum(k.rows for k in self.kept)

    def to_dict(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "case_id": self.case_id,
                "executed_at": self.executed_at.isoformat() if self.executed_at else None,
                "certificate": self.certificate, "certificate_name": self.certificate_name, "status": self.status, "matched_on": self.matched_on,
                "kept_rows": self.kept_rows, "kept": [k.to_dict() for k in self.kept]}

    def line(self) -> str:
        """One line: which erasure, when, its certificate, how much is still kept."""
        when = f"{self.executed_at:%Y-%m-%d}" if self.executed_at else "(date not recorded)"
        kept = (f"{self.kept_rows} record(s) in {len({k.dataset for k in self.kept})} dataset(s) still kept"
                if self.kept else "nothing kept")
        return (f"Erased on {when} (case {self.case_id or '—'}, plan {self.plan_id}, certificate "
                f"{self.certificate_name or '—'}): {kept}")

    @property
    def certificate_name(self) -> str | None:
        """The certificate's file name (the ledger records where it was written: `certificates/PLAN.json`)."""
        return Path(self.certificate).name if self.certificate else None


@dataclass(frozen=True)
class _Subject:
    ref: str | None
    digests: frozenset[str]
    kept: tuple[tuple[str, str, str | None, str | None, str, str | None, str | None, bool], ...]


_BODIES: dict[tuple[str, str], tuple[_Subject, ...]] = {}  # (workspace, plan id) -> subjects: bodies never change
# workspace -> digest -> (plan id, subject's position): a lookup probes its few digests instead of looking through
# every subject of every executed plan (a batch erases thousands; a year of them, hundreds of thousands)
_BY_DIGEST: dict[str, dict[str, list[tuple[str, int]]]] = {}
_LOCK = threading.Lock()


def _subjects(body: dict[str, Any]) -> tuple[_Subject, ...]:
    """Each subject of a plan body with its digests and its kept rows (dataset, key, rule, ground, basis, until,
    due on, restricted). A batch names each row's subject; a batch subject without a person row gets none (its
    rows cannot be told from another such subject's)."""
    single = len(body.get("subjects") or []) == 1
    out = []
    for s in body.get("subjects") or []:
        ref = s.get("ref")
        kept = tuple((r["dataset"], key_json(r["key"]), r.get("rule"), r.get("ground"), r.get("basis") or r["reason"],
                      r.get("until"), r.get("due_on"), bool(r.get("restricted")))
                     for r in body.get("rows") or []
                     if r.get("action") in _KEPT_ACTIONS and (single or (ref and r.get("subject") == ref)))
        out.append(_Subject(ref, frozenset(s.get("hold_hashes") or []), kept))
    return tuple(out)


def _digests(secret: bytes, forms: set[str]) -> dict[str, str]:
    """{digest: kind of form} for every key generation (a plan made before a key rotation matches too)."""
    return {h: f.split(":", 1)[0] for f in forms for h in keyed_hash_generations(secret, f, HOLD_PURPOSE)}


def _plans(ws: Workspace, con: Any, secret: bytes) -> list[tuple[tuple, tuple[_Subject, ...]]]:
    """The executed subject plans: (ledger columns, subjects), opening only bodies not read before."""
    rows = con.execute("SELECT plan_id, case_id, status, executed_at, certificate FROM erasure_plans WHERE status IN "
                       f"({', '.join('?' for _ in _EXECUTED)}) AND kind IN ({', '.join('?' for _ in _SUBJECT_KINDS)})",
                       [*_EXECUTED, *_SUBJECT_KINDS]).fetchall()
    root = str(ws.root)
    with _LOCK:
        missing = [r[0] for r in rows if (root, r[0]) not in _BODIES]
    for i in range(0, len(missing), _ROWS_PER_STATEMENT):
        part = missing[i:i + _ROWS_PER_STATEMENT]
        for pid, body in con.execute(f"SELECT plan_id, body FROM erasure_plans WHERE plan_id IN "
                                     f"({', '.join('?' for _ in part)})", part).fetchall():
            subjects = _subjects(json.loads(sealing.open_text(secret, sealing.PLAN_BODY, body)))
            with _LOCK:
                if (root, pid) not in _BODIES:  # (another thread may have read it meanwhile)
                    index = _BY_DIGEST.setdefault(root, {})
                    for i, subject in enumerate(subjects):
                        for h in subject.digests:
                            index.setdefault(h, []).append((pid, i))
                _BODIES[(root, pid)] = subjects
    with _LOCK:
        return [(r, _BODIES[(root, r[0])]) for r in rows]


def _current(con: Any, secret: bytes, rows: list[tuple[str, str]]) -> tuple[dict, set]:
    """For kept rows (dataset, key JSON): their schedule entry {row: (status, due on, until)} and the set of those
    with an active restriction. Keys are compared sealed (and clear, as an earlier privacyops wrote them)."""
    sched: dict[tuple[str, str], tuple] = {}
    restricted: set[tuple[str, str]] = set()
    by_ds: dict[str, dict[str, str]] = {}
    for ds, kj in rows:
        by_ds.setdefault(ds, {})[sealing.seal_deterministic(secret, sealing.ROW_KEY, kj)] = kj
        by_ds[ds][kj] = kj
    for ds, tokens in by_ds.items():
        items = list(tokens)
        for i in range(0, len(items), _ROWS_PER_STATEMENT):
            part = items[i:i + _ROWS_PER_STATEMENT]
            marks = ", ".join("?" for _ in part)
            for tok, status, due_on, until in con.execute(
                    f"SELECT row_key, status, due_on, retain_until FROM erasure_schedule WHERE dataset = ? AND "
                    f"row_key IN ({marks})", [ds, *part]).fetchall():
                sched[(ds, tokens[tok])] = (status, due_on, until)
            for (tok,) in con.execute(f"SELECT row_key FROM restrictions WHERE dataset = ? AND lifted_at IS NULL AND "
                                      f"row_key IN ({marks})", [ds, *part]).fetchall():
                restricted.add((ds, tokens[tok]))
    return sched, restricted


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _kept(ws: Workspace, subject: _Subject, sched: dict, restricted: set) -> list[KeptDataset]:
    """The subject's kept rows that are still kept, one entry per dataset, rule and date."""
    groups: dict[tuple, KeptDataset] = {}
    for ds, kj, rule, ground, basis, until, due_on, was_restricted in subject.kept:
        status, now_due, now_until = sched.get((ds, kj), (None, None, None))
        if status in _FINISHED or (status is None and was_restricted and (ds, kj) not in restricted):
            continue  # erased since (a due run), or its restriction lifted: no longer kept
        until_d = _day(now_until) if status else _day(until)
        due_d = _day(now_due) if status else _day(due_on)
        dataset = ws.datamap.datasets.get(ds)
        bases = sorted({ws.datamap.purposes[p].legal_basis for p in dataset.purposes
                        if p in ws.datamap.purposes}) if dataset else []
        key = (ds, rule, basis, until_d, due_d)
        k = groups.setdefault(key, KeptDataset(ds, 0, rule, ground, bases, basis, until_d, due_d))
        k.rows += 1
        k.restricted += (ds, kj) in restricted
    order = {n: i for i, n in enumerate(ws.datamap.datasets)}
    return sorted(groups.values(), key=lambda k: (order.get(k.dataset, len(order)), k.dataset,
                                                  k.erase_on or dt.date.max))


def erasures_on_record(ws: Workspace, identifier: str | None, pick: str | None = None,
                       refs: tuple[str, ...] = ()) -> list[ErasureOnRecord]:
    """The executed erasures of the person `identifier` (an e-mail, phone or id; names never match) or `pick` /
    `refs` (`DATASET:KEY`) names, oldest first, each with what it kept that is still kept. Empty when the workspace
    has no ledger or nothing matches. Reads the ledger only; nothing is written."""
    if not ledger_exists(ws):
        return []
    digits = ws.datamap.settings.phone_match_digits
    forms = identifier_forms(identifier, digits) if identifier and identifier.strip() else set()
    forms |= {"ref:" + r for r in (pick, *refs) if r}
    if not forms:
        return []
    secret = workspace_key(ws)
    wanted = _digests(secret, forms)
    out: list[ErasureOnRecord] = []
    with open_ledger(ws) as con:
        plans = _plans(ws, con, secret)
        at = {row[0]: n for n, (row, _) in enumerate(plans)}
        hits: dict[tuple[int, int], set[str]] = {}  # (plan's position, subject's position) -> kinds matched
        with _LOCK:
            index = _BY_DIGEST.get(str(ws.root), {})
            for h, kind in wanted.items():
                for pid, i in index.get(h, ()):
                    if pid in at:  # an executed plan of a subject kind
                        hits.setdefault((at[pid], i), set()).add(kind)
        for (n, i), kinds in sorted(hits.items()):
            (pid, case_id, status, executed_at, certificate), subjects = plans[n]
            s = subjects[i]
            sched, restricted = _current(con, secret, [(ds, kj) for ds, kj, *_ in s.kept])
            out.append(ErasureOnRecord(pid, case_id, executed_at, certificate, status, sorted(kinds),
                                       _kept(ws, s, sched, restricted)))
    return sorted(out, key=lambda e: (e.executed_at or dt.datetime.min, e.plan_id))


__all__ = ["ErasureOnRecord", "KeptDataset", "erasures_on_record"]
