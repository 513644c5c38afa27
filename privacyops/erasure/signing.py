"""Who prepared, approved and executed an erasure, proven by their signatures (privacyops.ledger.people).

With people registered, the preparer signs the plan (`erasure.prepare`), the approver the approval
(`erasure.approve`) and the executor the execution (`erasure.execute`); each signature binds the plan id and the
plan hash. Before anything changes, `check_execution` refuses a plan whose preparation or approval does not verify
against a registered, unrevoked key with the role, whose approver is the preparer, or whose `approved_by` names
someone other than the signer (an approval row written straight into the ledger). The certificate carries the
signatures with the signers' public keys; `check_certificate_signers` checks them offline.

Due and retention plans carry no approval signature: they are approved by the plan that scheduled them or by the
map's retention rules (see erasure_due); their preparer and executor still sign.
"""

from __future__ import annotations

import base64
from typing import Any

from ..errors import IdentityError
from ..ledger.people import APPROVER, NOT_PROVEN, PREPARER, Acting, acting_person, check_signature
from ..workspace.person import key_id_of, parse_public_key, verify
from .plan import BATCH, PLANNED, REQUEST, ErasurePlan

PREPARE, APPROVE, EXECUTE = "erasure.prepare", "erasure.approve", "erasure.execute"
SIGNED = (("prepared", PREPARE), ("approved", APPROVE), ("executed", EXECUTE))


def needs_approval_signature(plan: ErasurePlan) -> bool:
    """Request and batch plans are approved by a person; due and retention plans by their origin or the rules."""
    return plan.kind in (REQUEST, BATCH)


def check_execution(ws, plan: ErasurePlan) -> Acting | None:
    """The proven executor (a preparer or approver), after checking the plan's signatures against the registry;
    None while nobody is registered. Raises IdentityError (nothing changed) when a signature is missing, does not
    verify, or the approver is the preparer."""
    acting = acting_person(ws, PREPARER, APPROVER, action=f"execute erasure plan {plan.plan_id}")
    if acting is None:
        return None
    pid, fields = plan.plan_id, {"plan_id": plan.plan_id, "plan_hash": plan.plan_hash}
    prepared = plan.signatures.get("prepared")
    if not prepared or not prepared.get("sig"):
        raise IdentityError(f"plan {pid} was prepared without a signature ({NOT_PROVEN} when it was made, or written "
                            f"into the ledger directly); now that people are registered only signed plans run: plan "
                            f"again. Nothing was changed")
    # due plans and sweeps may be run by approvers too (erasure_due): they sign the preparation
    prep_roles = (PREPARER,) if needs_approval_signature(plan) else (PREPARER, APPROVER)
    preparer = check_signature(ws, prepared, PREPARE, prep_roles, f"the preparation of plan {pid}", **fields)
    if preparer.name != plan.prepared_by:
        raise IdentityError(f"the ledger says plan {pid} was prepared by {plan.prepared_by}, but {preparer.name} "
                            f"signed it: the plan row was changed outside privacyops. Nothing was changed")
    if not needs_approval_signature(plan) or (plan.status == PLANNED and not ws.datamap.settings.four_eyes):
        return acting  # four-eyes off: the executor approves (and signs) in the same step
    approver = check_signature(ws, plan.signatures.get("approved"), APPROVE, (APPROVER,),
                               f"the approval of plan {pid}", **fields)
    if approver.name != plan.approved_by:
        raise IdentityError(f"the ledger says plan {pid} was approved by {plan.approved_by}, but the approval was "
                            f"signed by {approver.name}: the approval was changed outside privacyops. Nothing was "
                            f"changed")
    if ws.datamap.settings.four_eyes and (approver.key_id == preparer.key_id or approver.name == preparer.name):
        raise IdentityError(f"plan {pid} was approved by the person who prepared it ({preparer.name}); four-eyes "
                            f"needs another registered approver. Nothing was changed")
    return acting


def certificate_block(plan: ErasurePlan) -> dict[str, Any]:
    """The certificate's `identity` and `signatures`: each signer's name, key id, public key and signature."""
    sigs = {k: {f: v for f, v in s.items() if f in ("person", "key_id", "public_key", "sig")}
            for k, s in plan.signatures.items() if s.get("sig")}
    proven = bool(sigs.get("prepared"))
    return {"identity": "proven (signed by registered people)" if proven else NOT_PROVEN, "signatures": sigs}


def check_certificate_signers(content: dict[str, Any]) -> tuple[list[str], str]:
    """Offline: every person's signature on a certificate against the public key it carries (and the names the plan
    section gives). Returns (problems, a summary such as "approved by X, prepared by Y (different people: yes)")."""
    plan = content.get("plan") or {}
    sigs = content.get("signatures") or {}
    if not isinstance(sigs, dict) or not sigs:
        return [], (f"{content.get('identity') or NOT_PROVEN}: prepared by {plan.get('prepared_by')}, approved by "
                    f"{plan.get('approved_by')}")
    problems: list[str] = []
    fields = {"plan_id": plan.get("plan_id"), "plan_hash": plan.get("plan_hash")}
    for which, purpose in SIGNED:
        s = sigs.get(which)
        if not s:
            continue
        try:
            raw = parse_public_key(str(s.get("public_key")))
            base64.b64decode(str(s.get("sig")), validate=True)
        except (IdentityError, ValueError):
            problems.append(f"the {which} signature is damaged (public key or value unreadable)")
            continue
        payload = {"purpose": purpose, "person": s.get("person"), "key_id": s.get("key_id"), **fields}
        if key_id_of(raw) != s.get("key_id") or not verify(raw, payload, str(s.get("sig"))):
            problems.append(f"the {which} signature of {s.get('person')} does not verify: the signature, the name "
                            f"or the plan it signs was changed")
        named = plan.get(f"{which}_by")
        if named != s.get("person"):
            problems.append(f"the plan says {which} by {named}, but the {which} signature is {s.get('person')}'s")
    if needs_approval_kind(plan.get("kind")) and "approved" not in sigs:
        problems.append("the approval carries no signature")
    p, a = sigs.get("prepared") or {}, sigs.get("approved") or {}
    different = bool(p and a) and p.get("person") != a.get("person") and p.get("key_id") != a.get("key_id")
    who = ", ".join(f"{w} by {sigs[w].get('person')} (key {sigs[w].get('key_id')})" for w in ("approved", "prepared",
                                                                                               "executed") if w in sigs)
    return problems, who + (f" (different people: {'yes' if different else 'NO'})" if a else "")


def needs_approval_kind(kind: str | None) -> bool:
    return kind in (REQUEST, BATCH)


__all__ = ["APPROVE", "EXECUTE", "PREPARE", "certificate_block", "check_certificate_signers", "check_execution"]
