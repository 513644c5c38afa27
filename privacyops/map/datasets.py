"""The map's `datasets:` section: each table's fields, identities, references, purposes and erasure policy.

Also the checks that need every dataset at once: references point at datasets that exist, a person's row never
belongs to another person's, and belongs-to references form no cycle (walking up to the person must end).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .categories import data_categories
from .checker import WORD, Checker, did_you_mean, kind_of
from .model import (
    DATASET_KEYS,
    ERASURE_ACTIONS,
    ERASURE_KEYS,
    FIELD_KEYS,
    FILE_SOURCE_KINDS,
    MASK_KEYS,
    MASK_STRATEGIES,
    PLACEHOLDER,
    REFERENCE_KEYS,
    Dataset,
    ErasurePolicy,
    Field,
    Purpose,
    Recipient,
    Reference,
    RetentionRule,
    Source,
)
from .parties import context_fields as _context_fields
from .parties import parse_parties


def parse_datasets(c: Checker, raw: Any, purposes: dict[str, Purpose], retention: dict[str, RetentionRule],
                   recipients: dict[str, Recipient], sources: dict[str, Source],
                   declared_rules: set[str]) -> dict[str, Dataset]:
    """The `datasets:` section. `declared_rules` are the retention rule names written in the map, valid or not
    (a dataset naming a rule that has its own problems is not reported a second time)."""
    out: dict[str, Dataset] = {}
    raw_map = c.mapping(raw, ("datasets",))
    if not raw_map and isinstance(raw, dict):
        c.add(("datasets",), "no datasets; describe at least one table")
    for name, spec in raw_map.items():
        name = str(name)
        out[name] = _dataset(c, name, spec, purposes, retention, recipients, sources, declared_rules)
    return out


def _dataset(c: Checker, name: str, spec: Any, purposes: dict[str, Purpose], retention: dict[str, RetentionRule],
             recipients: dict[str, Recipient], sources: dict[str, Source], declared_rules: set[str]) -> Dataset:
    """One dataset; its parts are read in the order its problems have always been listed in."""
    p = ("datasets", name)
    s = c.mapping(spec, p, DATASET_KEYS, required=("source", "primary_key"))
    src, table = _source_and_table(c, s, p, name, sources)
    pk = c.names(s["primary_key"], p + ("primary_key",)) if s.get("primary_key") else ()
    fields = {str(f): _field(c, str(f), spec_f, p + ("fields", f))
              for f, spec_f in c.mapping(s.get("fields"), p + ("fields",)).items()}
    identities = _identities(c, s, p, fields)
    refs = _references(c, s, p, name)
    ds_purposes = _purposes(c, s, p, purposes, fields)
    rule = c.one_name(s.get("retention"), p + ("retention",), "retention rule")
    if rule is not None and rule not in declared_rules:
        c.add(p + ("retention",), f"unknown retention rule '{rule}'{did_you_mean(str(rule), retention)}; "
                                  f"defined: {', '.join(retention) or 'none'}")
    ds_recipients = _recipients(c, s, p, recipients)
    subject = s.get("subject")
    if subject is not None and not WORD.match(str(subject)):
        c.add(p + ("subject",), f"subject type '{subject}' must be a single word such as customer or employee")
    erasure = _erasure(c, s, p, pk)
    maintained = _maintained(c, s, p, pk, erasure)
    parties = parse_parties(c, s, p, fields, identities, refs)
    for party in parties:  # a party's identities are the dataset's too (seeds, indexes)
        for kind, cols in party.identities.items():
            identities[kind] = tuple(dict.fromkeys(identities.get(kind, ()) + cols))
    return Dataset(
        name=name, source=str(src or ""), table=table, primary_key=pk, fields=fields, identities=identities,
        references=tuple(refs), purposes=tuple(map(str, ds_purposes)), retention=rule,
        recipients=tuple(map(str, ds_recipients)), subject=str(subject) if subject else None,
        description=c.text(s.get("description"), p + ("description",)),
        collected_from=c.text(s.get("collected_from"), p + ("collected_from",)),
        erasure=erasure, parties=parties, context_fields=_context_fields(c, s, p, fields), maintained=maintained,
        for_subject=c.text(s.get("for_subject"), p + ("for_subject",)), label=_label(c, s, p, fields, refs),
    )


def _source_and_table(c: Checker, s: dict, p: tuple, name: str,
                      sources: dict[str, Source]) -> tuple[str | None, str]:
    """The dataset's source name and its table (for a file source: the file's path inside the source folder)."""
    src = c.one_name(s.get("source"), p + ("source",), "source")
    if src and src not in sources:
        c.add(p + ("source",), f"unknown source '{src}'{did_you_mean(str(src), sources)}; "
                               f"defined: {', '.join(sources) or 'none'}")
    table = c.one_name(s.get("table"), p + ("table",), "table") or name
    if src in sources and sources[src].kind in FILE_SOURCE_KINDS:
        if s.get("table") is None:
            table = f"{name}.{sources[src].kind}"
        if table.startswith("/") or ".." in Path(table).parts:
            c.add(p + ("table",), f"'{table}' must be a path inside the source folder (no '..', not absolute)")
    return src, table


def _field(c: Checker, name: str, spec: Any, p: tuple) -> Field:
    """One field: a category, a list of them, or a mapping with categories, description and free_text."""
    for_subject = None
    if isinstance(spec, str):
        cats, desc, free = (spec,), None, False
    elif isinstance(spec, list):
        cats, desc, free = tuple(str(x) for x in spec), None, False
    elif isinstance(spec, dict):
        s = c.mapping(spec, p, FIELD_KEYS)
        raw = s.get("categories", s.get("category"))
        cats = tuple(str(x) for x in raw) if isinstance(raw, list) else ((str(raw),) if raw else ())
        desc, free = c.text(s.get("description"), p + ("description",)), s.get("free_text", False)
        for_subject = c.text(s.get("for_subject"), p + ("for_subject",))
        if not isinstance(free, bool):
            c.add(p + ("free_text",), f"expected true or false, got {free!r}")
            free = False
        if not cats:
            c.add(p, "needs a data category: category: user.contact.email (fideslang taxonomy)")
    else:
        c.add(p, f"expected a data category (e.g. user.contact.email), got {kind_of(spec)}")
        cats, desc, free = (), None, False
    known = data_categories()
    for cat in cats:
        if cat not in known:
            c.add(p, f"'{cat}' is not a fideslang data category{did_you_mean(cat, known)}; see "
                     f"fideslang's default taxonomy (e.g. user.contact.email, user.name, system.operations)")
    return Field(name, cats, desc, free, for_subject)


def _label(c: Checker, s: dict, p: tuple, fields: dict[str, Field], refs: list[Reference]) -> tuple[str, ...]:
    """`label: [title]` or `label: [film_id.title]`: the fields that name a row when other rows point at it. A
    field of the dataset must be listed and must not be a person's data (unless it is one of the context_fields,
    shown with reference data anyway); `via.field` names a reference of the dataset (its target's field is checked
    with the references)."""
    if s.get("label") in (None, []):
        return ()
    lp = p + ("label",)
    raw = s["label"] if isinstance(s["label"], list) else [s["label"]]
    out = []
    context = set(s.get("context_fields") or []) if isinstance(s.get("context_fields"), list) else set()
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            c.add(lp, f"expected a field name (or REFERENCE.FIELD), got {kind_of(item)}")
            continue
        via, _, col = item.rpartition(".")
        if via:
            if not any(r.column == via for r in refs):
                c.add(lp, f"'{item}': '{via}' is not a reference of this dataset; list it under references")
        elif col not in fields:
            c.add(lp, f"label field '{col}' is not listed in fields{did_you_mean(col, fields)}")
        elif fields[col].personal and col not in context:
            c.add(lp, f"label field '{col}' is a person's data ({fields[col].category}); a label is shown to "
                      f"everyone whose rows point here: pick a field that is not personal, or list it in "
                      f"context_fields first")
        out.append(item)
    return tuple(out)


def _identities(c: Checker, s: dict, p: tuple, fields: dict[str, Field]) -> dict[str, tuple[str, ...]]:
    """Identity kind -> the columns holding it; every identity column must be a listed (categorised) field."""
    identities: dict[str, tuple[str, ...]] = {}
    for kind, cols in c.mapping(s.get("identities"), p + ("identities",)).items():
        ip = p + ("identities", kind)
        if not WORD.match(str(kind)):
            c.add(ip, f"identity kind '{kind}' must be a single word (email, phone, name, customer_id, ...)")
            continue
        names = c.names(cols, ip)
        for col in names:
            if col not in fields:
                c.add(ip, f"identity column '{col}' is not listed in fields; add it there with its data "
                          f"category (identities are personal data)")
        identities[str(kind)] = names
    return identities


def _references(c: Checker, s: dict, p: tuple, name: str) -> list[Reference]:
    """`column: DATASET.COLUMN` or `column: {to: DATASET.COLUMN, shared: true}`; targets are checked later."""
    refs = []
    for col, target in c.mapping(s.get("references"), p + ("references",)).items():
        rp = p + ("references", col)
        shared = owned = False
        if isinstance(target, dict):
            t = c.mapping(target, rp, REFERENCE_KEYS, required=("to",))
            shared, owned = c.flag(t, "shared", rp), c.flag(t, "owned", rp)
            if shared and owned:
                c.add(rp, "a reference is either shared (reference data, context only) or owned (the row is the "
                          "subject's own, e.g. their address), not both")
                owned = False
            target = t.get("to")
        if not isinstance(target, str) or "." not in target:
            c.add(rp, f"expected DATASET.COLUMN (e.g. crm.customers.customer_id), got {target!r}")
            continue
        to_ds, to_col = target.rsplit(".", 1)
        refs.append(Reference(name, str(col), to_ds, to_col, shared, owned))
    return refs


def _purposes(c: Checker, s: dict, p: tuple, purposes: dict[str, Purpose], fields: dict[str, Field]) -> list:
    """The purpose names the dataset serves; personal data with no purpose is refused."""
    ds_purposes = s.get("purposes") or []
    if not isinstance(ds_purposes, list):
        c.add(p + ("purposes",), "expected a list of purpose names")
        ds_purposes = []
    for i, pu in enumerate(ds_purposes):
        if isinstance(pu, (dict, list)):
            c.add(p + ("purposes", i), f"expected a purpose name, got {kind_of(pu)}")
            ds_purposes[i] = str(pu)
        elif pu not in purposes:
            c.add(p + ("purposes",), f"unknown purpose '{pu}'{did_you_mean(str(pu), purposes)}; "
                                     f"defined: {', '.join(purposes) or 'none'}")
    if fields and any(f.personal for f in fields.values()) and not ds_purposes:
        c.add(p + ("purposes",), "this dataset holds personal data but names no purpose; every processing "
                                 "needs a purpose and legal basis (Art. 5(1)(b), 6)")
    return ds_purposes


def _recipients(c: Checker, s: dict, p: tuple, recipients: dict[str, Recipient]) -> list:
    """The recipient names the dataset's data is disclosed to."""
    ds_recipients = s.get("recipients") or []
    if not isinstance(ds_recipients, list):
        c.add(p + ("recipients",), "expected a list of recipient names")
        ds_recipients = []
    for r in ds_recipients:
        if isinstance(r, (dict, list)):
            c.add(p + ("recipients",), f"expected a recipient name, got {kind_of(r)}")
        elif r not in recipients:
            c.add(p + ("recipients",), f"unknown recipient '{r}'; defined: {', '.join(recipients) or 'none'}")
    return ds_recipients


def _erasure(c: Checker, s: dict, p: tuple, pk: tuple[str, ...]) -> ErasurePolicy:
    """How the dataset's rows are erased: deleted, or masked field by field (never the primary key). A field's
    mask is a strategy (null | redact | hmac) or a placeholder `{value: ...}`, whose fit to the column is checked
    against the live table (`privacyops check`, and when planning), not here."""
    e = c.mapping(s.get("erasure"), p + ("erasure",), ERASURE_KEYS)
    action = e.get("action", "delete")
    if action not in ERASURE_ACTIONS:
        c.add(p + ("erasure", "action"), f"'{action}' is not an erasure action; allowed: "
                                         f"{', '.join(ERASURE_ACTIONS)}")
    keep = c.names(e["keep_fields"], p + ("erasure", "keep_fields")) if e.get("keep_fields") else ()
    mask, placeholders = {}, {}
    for col, strategy in c.mapping(e.get("mask"), p + ("erasure", "mask")).items():
        mp = p + ("erasure", "mask", col)
        strategy = "null" if strategy is None else strategy  # YAML reads a bare `null` as None
        if isinstance(strategy, dict):
            value = _placeholder(c, strategy, mp, str(col))
            if value is not None:
                placeholders[str(col)] = value
            strategy = PLACEHOLDER
        elif not isinstance(strategy, str) or strategy not in MASK_STRATEGIES:
            c.add(mp, f"unknown masking strategy '{strategy}'{did_you_mean(str(strategy), MASK_STRATEGIES)}; "
                      f"allowed: {', '.join(MASK_STRATEGIES)}, or a placeholder: {col}: {{value: ...}}")
        if col in pk:
            c.add(mp, "a primary key column cannot be masked")
        mask[str(col)] = str(strategy)
    return ErasurePolicy(str(action), keep, mask, placeholders)


def _placeholder(c: Checker, spec: dict, mp: tuple, col: str) -> Any:
    """The value of `{value: ...}`: one scalar (text, number, true/false, a date); None when it is not one."""
    if "value" in spec and spec["value"] is None:
        c.add(mp + ("value",), f"a placeholder of NULL is the null strategy: write {col}: null")
        return None
    m = c.mapping(spec, mp, MASK_KEYS, required=("value",))
    if "value" not in m:
        return None
    value = m["value"]
    if isinstance(value, (dict, list)):
        c.add(mp + ("value",), f"expected one value (text, a number, true/false or a date), got {kind_of(value)}")
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()  # YAML reads 1970-01-01 as a date: kept as the text written
    return value


def _maintained(c: Checker, s: dict, p: tuple, pk: tuple[str, ...], erasure: ErasurePolicy) -> tuple[str, ...]:
    """Columns the store keeps current itself (`maintained: [last_update]`): never the primary key, never masked
    (the store would write over the mask)."""
    if s.get("maintained") in (None, []):
        return ()
    mp = p + ("maintained",)
    names = c.names(s["maintained"], mp)
    for col in names:
        if col in pk:
            c.add(mp, f"'{col}' is part of the primary key: the store cannot maintain it for erasure to ignore")
        elif col in erasure.mask:
            c.add(mp, f"'{col}' is masked by erasure.mask but the store maintains it, which would write over the "
                      f"mask; remove it from one of the two")
    return names


def dataset_columns(ds: Dataset) -> set[str]:
    """Every column the map declares for a dataset (what `privacyops check` compares with the live table)."""
    cols = set(ds.fields) | set(ds.primary_key) | {r.column for r in ds.references}
    return cols | {c for cols_ in ds.identities.values() for c in cols_}


def check_references(c: Checker, datasets: dict[str, Dataset], retention: dict[str, RetentionRule]) -> None:
    """Targets exist; a person never belongs to another person; belongs-to references (walked up, and owned ones
    walked back from the owned row) form no cycle; an anchor through a reference names a reference and a column of
    its target."""
    for ds in datasets.values():
        for r in ds.references:
            rp = ("datasets", ds.name, "references", r.column)
            if r.to_dataset not in datasets:
                c.add(rp, f"references unknown dataset '{r.to_dataset}'"
                          f"{did_you_mean(r.to_dataset, datasets)}; defined: {', '.join(datasets)}")
            elif not r.shared and ds.subject and datasets[r.to_dataset].subject:
                # Walking down such a link would hand one person's records to another (a support rep would
                # "own" their customers): refuse the map rather than leak.
                c.add(rp, f"{ds.name} rows are people ({ds.subject}) and so are {r.to_dataset} rows "
                          f"({datasets[r.to_dataset].subject}): one person never belongs to another; mark the "
                          f"reference shared: true")
        _check_anchor(c, ds, datasets, retention)
        _check_label(c, ds, datasets)
    _check_cycles(c, datasets)


def _check_label(c: Checker, ds: Dataset, datasets: dict[str, Dataset]) -> None:
    """A `via.field` label names a field of the reference's target that is not a person's data."""
    for item in ds.label:
        via, _, col = item.rpartition(".")
        ref = ds.reference(via) if via else None
        target = datasets.get(ref.to_dataset) if ref else None
        if target is None:
            continue
        f = target.fields.get(col)
        if f is None:
            c.add(("datasets", ds.name, "label"), f"'{item}': '{col}' is not a field of {target.name} in the map")
        elif f.personal and col not in target.context_fields:
            c.add(("datasets", ds.name, "label"), f"'{item}': '{col}' is a person's data in {target.name}; pick a "
                                                  f"field that is not personal")


def _check_anchor(c: Checker, ds: Dataset, datasets: dict[str, Dataset], retention: dict[str, RetentionRule]) -> None:
    rule = retention.get(ds.retention) if ds.retention else None
    if rule is None or rule.anchor.via is None:
        return
    ref = ds.reference(rule.anchor.via)
    where = ("datasets", ds.name, "retention")
    if ref is None:
        c.add(where, f"rule {rule.name} counts from {rule.anchor.column}, but {ds.name} has no reference "
                     f"'{rule.anchor.via}'; list it under references or give the rule a column of this dataset")
    elif ref.to_dataset in datasets and rule.anchor.field not in dataset_columns(datasets[ref.to_dataset]):
        c.add(where, f"rule {rule.name} counts from {rule.anchor.column}: '{rule.anchor.field}' is not a column of "
                     f"{ref.to_dataset} in the map; list it under that dataset's fields")


def _check_cycles(c: Checker, datasets: dict[str, Dataset]) -> None:
    """Depth-first search for a cycle among the edges the walk up follows."""
    ups: dict[str, list[tuple[str, str, str]]] = {n: [] for n in datasets}  # dataset -> (to, where, column)
    for ds in datasets.values():
        for r in ds.references:
            if r.to_dataset not in datasets or r.shared:
                continue
            if r.owned:  # from the owned row back to its owner
                ups[r.to_dataset].append((ds.name, ds.name, r.column))
            else:
                ups[ds.name].append((r.to_dataset, ds.name, r.column))
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for to, where, column in ups[name]:
            if state.get(to) == 1:
                cycle = " -> ".join(trail + [name, to])
                c.add(("datasets", where, "references", column),
                      f"belongs-to references form a cycle ({cycle}); mark the reference that points at shared or "
                      f"peer rows with shared: true (e.g. an employee's manager)")
            elif not state.get(to):
                visit(to, trail + [name])
        state[name] = 2

    for name in datasets:
        if not state.get(name):
            visit(name, [])
