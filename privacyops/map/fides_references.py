"""Fides references resolved to collections and turned into privacyops belongs-to references.

A Fides reference's `direction` says which way Fides walks it (see the `fides` module docstring); privacyops walks a
reference from the referenced row down to the row holding it, so `from` stays on the collection that wrote it and
`to` is turned around onto the referenced collection. Without a direction, a reference to the target's primary key
is read as `from` (a foreign key, the usual case).
"""

from __future__ import annotations

from .fides_collections import Collection, Ref
from .fides_findings import Findings, hint

DIRECTIONS = ("from", "to")  # Fides' fides_meta.references[].direction values

Collections = dict[tuple[str, str], Collection]  # (fides_key, collection name) -> collection


def link_references(log: Findings, colls: Collections) -> None:
    """Resolve and orient every collection's references; raises DataMapError when one cannot be resolved.

    privacyops holds one reference per column: when Fides makes a column belong to several rows, the first is kept
    and the others are noted.
    """
    skipped: dict[tuple[str, str], list[str]] = {}
    for c in colls.values():
        for ref in c.raw_refs:
            target = _resolve(log, c, ref, colls)
            if target is not None:
                _attach(log, c, ref, target[0], target[1], skipped)
    log.fail_if_problems()
    for (name, column), others in skipped.items():
        kept = next(c for c in colls.values() if c.name == name).references[column]
        log.notes.append(f"{name}: by Fides, its rows would also belong to {', '.join(others)}, but privacyops "
                         f"holds one reference per column: imported only {column}: {kept}, so rows reached "
                         f"only through the others are not found")


def _resolve(log: Findings, c: Collection, ref: Ref, colls: Collections) -> tuple[Collection, str] | None:
    """The referenced collection and top-level field; None when the reference is reported or skipped (noted)."""
    rp = ref.path
    target_key = str(ref.raw["dataset"])
    if target_key not in {k for k, _ in colls}:
        known = sorted({k for k, _ in colls})
        log.add(rp + ("dataset",), f"references dataset '{target_key}'{hint(target_key, known)}, which is not "
                                   f"in this file; datasets here: {', '.join(known)} (put the datasets that "
                                   f"reference each other in one file)")
        return None
    spec = str(ref.raw["field"])
    if "." not in spec:
        log.add(rp + ("field",), f"'{spec}' is not COLLECTION.FIELD (e.g. customer.id)")
        return None
    coll_name, field_path = spec.split(".", 1)
    target = colls.get((target_key, coll_name))
    if target is None:
        names = [n for k, n in colls if k == target_key]
        log.add(rp + ("field",), f"references unknown collection '{coll_name}'{hint(coll_name, names)} of "
                                 f"dataset '{target_key}'; its collections: {', '.join(names)}")
        return None
    top_field = field_path.split(".", 1)[0]
    if top_field not in target.all_fields:
        log.add(rp + ("field",), f"references unknown field '{top_field}'"
                                 f"{hint(top_field, target.all_fields)} of collection '{coll_name}'; its "
                                 f"fields: {', '.join(target.all_fields)}")
        return None
    if ref.nested or "." in field_path:
        log.notes.append(f"{c.name}: skipped the reference {ref.column} -> {target_key}.{spec}: privacyops "
                         f"follows references between top-level columns only")
        return None
    return target, field_path


def _attach(log: Findings, c: Collection, ref: Ref, target: Collection, field_path: str,
            skipped: dict[tuple[str, str], list[str]]) -> None:
    """Put the reference on the collection that belongs to the other, as Fides' direction says; notes on what an
    analyst should look at (a guessed direction, a likely shared or peer link)."""
    direction = ref.raw.get("direction")
    direction = getattr(direction, "value", direction)
    if direction is None:
        if field_path in target.primary_key or ref.column not in c.primary_key:
            direction = "from"
        else:
            direction = "to"
        log.notes.append(f"{c.name}: the reference {ref.column} -> {target.name}.{field_path} has no "
                         f"direction in Fides; read as '{direction}' ("
                         + (f"{c.name} rows belong to {target.name} rows" if direction == "from" else
                            f"{target.name} rows belong to {c.name} rows") + "): check it")
    if direction == "from":  # the referenced rows lead to this collection's rows: this row belongs to them
        child, column, parent, to_column = c, ref.column, target, field_path
    else:  # "to": this collection's rows lead to the referenced rows: those belong to this row
        child, column, parent, to_column = target, field_path, c, ref.column
    if column in child.references:
        skipped.setdefault((child.name, column), []).append(f"{parent.name}.{to_column}")
        return
    if child is parent:
        child.references[column] = {"to": f"{parent.name}.{to_column}", "shared": True}
        log.notes.append(f"{child.name}: {column} -> {to_column} points at rows of the same table (a peer, "
                         f"e.g. a manager); imported as shared: true (a belongs-to link to itself is a cycle)")
        return
    child.references[column] = f"{parent.name}.{to_column}"
    both = sorted(set(child.identities) & set(parent.identities))
    if both:
        log.notes.append(
            f"{child.name} has its own {', '.join(both)} identity and belongs to {parent.name} (through "
            f"{column}), which has one too: if they can be different people (a customer's ticket handled by "
            f"staff), make it {column}: {{to: {parent.name}.{to_column}, shared: true}}; as imported, a lookup "
            f"that finds a {child.name} row by its identity climbs to the {parent.name} row and collects "
            f"that row's other records")
    if direction == "to" and not child.personal:
        log.notes.append(
            f"{child.name} rows are found from {parent.name}.{to_column} (Fides direction: to) and hold no "
            f"user.* data categories: if they are shared reference data, drop `{column}` from "
            f"{child.name}'s references and add to {parent.name}: references: {{{to_column}: "
            f"{{to: {child.name}.{column}, shared: true}}}}")
