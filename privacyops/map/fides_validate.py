"""Checking a Fides dataset file before anything is imported: its shape, what fideslang's models accept, keys that
look like typos of known ones, and the data categories.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import DataMapError, MapProblem
from .categories import data_categories
from .checker import kind_of
from .fides_findings import META_KEYS, Findings, FPath, close_match, fmt_path, hint, meta_of

_LEGACY_PARTS = {"provided", "derived", "identifiable", "nonidentifiable"}  # fideslang 1 key parts, gone in 2


def top_datasets(log: Findings, data: Any) -> list:
    """The file's `dataset:` list; anything else is not a Fides dataset file (raised at once: nothing to check)."""
    expected = ("expected a top-level `dataset:` list of datasets, each with fides_key and collections (the "
                "Fides dataset manifest format)")
    if not isinstance(data, dict) or "dataset" not in data:
        found = (f"; found {', '.join(f'`{k}:`' for k in list(data)[:6])}" if isinstance(data, dict) and data
                 else f"; the file holds {kind_of(data)}")
        raise DataMapError([MapProblem("", f"not a Fides dataset file: {expected}{found}",
                                       log.lines.get((), 1), log.file)])
    raw = data["dataset"]
    if not isinstance(raw, list) or not raw:
        what = "an empty list" if raw == [] else kind_of(raw)
        if isinstance(raw, dict) and "fides_key" in raw:
            what += " (write each dataset as a list item: `- fides_key: ...`)"
        raise DataMapError([MapProblem("dataset", f"{expected}; got {what}", log.lines.get(("dataset",)),
                                       log.file)])
    return raw


def check_structure(log: Findings, raw: list) -> None:
    """What fideslang's models accept (checked with them), plus what an import needs (fields to import)."""
    # fideslang's models are imported on first use: they take about a quarter of a second, which only an import
    # should pay, not every command that imports the map package.
    from fideslang.models import Dataset

    for i, ds in enumerate(raw):
        p = ("dataset", i)
        before = len(log.problems)
        if not isinstance(ds, dict):
            log.add(p, f"expected a dataset (a mapping with fides_key and collections), got {kind_of(ds)}")
            continue
        cols = ds.get("collections")
        if not isinstance(cols, list) or not cols:
            log.add(p + ("collections",), "a dataset needs collections (its tables), each with a name and "
                                          "fields; got " + ("an empty list" if cols == [] else kind_of(cols)))
        else:
            for j, col in enumerate(cols):
                if isinstance(col, dict):
                    fields = col.get("fields")
                    if not isinstance(fields, list) or not fields:
                        log.add(p + ("collections", j, "fields"),
                                f"collection '{col.get('name')}' has no fields; list its columns (name, "
                                f"data_categories, fides_meta)")
        _near_miss_keys(log, ds, p)
        done = {pr.path for pr in log.problems[before:]}
        try:
            Dataset.model_validate(ds)
        except ValidationError as exc:
            for err in exc.errors():
                where = _raw_path(ds, p, err["loc"])
                if fmt_path(where) not in done:  # already reported in plainer words
                    log.add(where, _pydantic_message(err))


def _near_miss_keys(log: Findings, ds: dict, p: FPath) -> None:
    """Keys fideslang would silently ignore that are a typo of a known key (`data_categores`, `fides_mata`)."""
    # Imported on first use, as in check_structure.
    from fideslang.models import Dataset, DatasetCollection, DatasetField, FidesDatasetReference, FidesMeta

    def check(node: Any, path: FPath, known: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key in node:
            if key not in known:
                close = close_match(str(key), known, cutoff=0.8)
                if close:
                    log.add(path + (key,), f"unknown key '{key}' (did you mean '{close}'?); Fides would "
                                           f"ignore it")

    def fields(items: Any, path: FPath) -> None:
        for k, f in enumerate(items if isinstance(items, list) else []):
            fp = path + (k,)
            check(f, fp, list(DatasetField.model_fields) + ["fidesops_meta"])
            if isinstance(f, dict):
                key, meta = meta_of(f)
                if key:
                    check(meta, fp + (key,), list(FidesMeta.model_fields))
                    for r, ref in enumerate(meta.get("references") or []
                                            if isinstance(meta.get("references"), list) else []):
                        check(ref, fp + (key, "references", r), list(FidesDatasetReference.model_fields))
                fields(f.get("fields"), fp + ("fields",))

    check(ds, p, list(Dataset.model_fields) + ["fidesops_meta"])
    for j, col in enumerate(ds.get("collections") if isinstance(ds.get("collections"), list) else []):
        check(col, p + ("collections", j), list(DatasetCollection.model_fields) + ["fidesops_meta", "after"])
        if isinstance(col, dict):
            fields(col.get("fields"), p + ("collections", j, "fields"))


def _raw_path(raw: Any, base: FPath, loc: tuple) -> FPath:
    """A pydantic error location as a path in the file (fides_meta may be spelled fidesops_meta there)."""
    out = list(base)
    node = raw
    for part in loc:
        if part == "fides_meta" and isinstance(node, dict) and "fides_meta" not in node:
            part = next((k for k in META_KEYS if k in node), part)
        out.append(part)
        try:
            node = node[part] if isinstance(node, (dict, list)) else None
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(out)


def _pydantic_message(err: dict) -> str:
    """A pydantic error in the words of the Fides file (what is required, what was given)."""
    what = {"field": "the referenced field as COLLECTION.FIELD (e.g. customer.id)",
            "dataset": "the fides_key of the referenced dataset", "fides_key": "the dataset's key",
            "name": "its name", "fields": "a list of fields", "collections": "a list of collections"}
    last = err["loc"][-1] if err["loc"] else ""
    if err["type"] == "missing":
        return f"'{last}' is required: {what.get(str(last), 'see the Fides dataset docs')}"
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    inp = err.get("input")
    if isinstance(inp, (str, int, float, bool)) and repr(inp) not in msg and str(inp) not in msg:
        msg += f" (got {inp!r})"
    return msg


def categories(log: Findings, node: dict, path: FPath) -> list[str]:
    """The node's `data_categories` that fideslang knows; each unknown one is reported (with its fideslang 2 key
    when it is a fideslang 1 key)."""
    cats = node.get("data_categories") or []
    known = data_categories()
    out = []
    for k, cat in enumerate(cats):
        if cat in known:
            out.append(cat)
            continue
        modern = _modern_category(str(cat), known)
        why = f" (a fideslang 1 key; fideslang 2 renamed it: use '{modern}')" if modern else hint(str(cat), known)
        log.add(path + ("data_categories", k),
                f"'{cat}' is not a fideslang data category{why}; allowed: the keys of fideslang's default "
                f"taxonomy (e.g. user.contact.email, user.name, user.financial.credit_card, system.operations)")
    return out


def _modern_category(cat: str, known: frozenset[str]) -> str | None:
    """The fideslang 2 key for a fideslang 1 key (`user.provided.identifiable.contact.city` -> ...address.city)."""
    parts = cat.split(".")
    if not _LEGACY_PARTS & set(parts):
        return None
    stripped = ".".join(x for x in parts if x not in _LEGACY_PARTS)
    if stripped in known:
        return stripped
    same_leaf = [k for k in known if k.split(".")[0] == parts[0] and k.split(".")[-1] == parts[-1]]
    return same_leaf[0] if len(same_leaf) == 1 else None
