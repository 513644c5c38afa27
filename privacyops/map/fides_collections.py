"""Fides collections on their way to privacyops datasets: names, tables, fields, identities and primary keys.

References are only gathered here (as `Ref`s); resolving and orienting them needs every collection, which
`fides_references` does once all of them are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .checker import WORD
from .fides_findings import Findings, FPath, fmt_path, meta_of
from .fides_validate import categories

# Fides identity names -> privacyops identity kinds (others keep their own name as an exact identifier kind).
IDENTITY_KINDS = {"email": "email", "phone_number": "phone"}
# privacyops needs a data category on every identity column; used (and noted) when Fides gives none.
IDENTITY_CATEGORIES = {"email": "user.contact.email", "phone": "user.contact.phone_number"}
IDENTITY_FALLBACK_CATEGORY = "user.unique_id"


class Ref:
    """A Fides reference as written on a field (`nested`: on a sub-field, which privacyops cannot follow)."""

    def __init__(self, raw: dict, path: FPath, column: str, nested: bool):
        self.raw, self.path, self.column, self.nested = raw, path, column, nested


class Collection:
    """One Fides collection on its way to a privacyops dataset."""

    def __init__(self, log: Findings, key: str, raw: dict, path: FPath, name: str, ds_cats: list[str]):
        self.log, self.key, self.raw, self.path, self.name = log, key, raw, path, name
        self.ds_cats = ds_cats
        self.table = str(raw["name"])
        self.all_fields: list[str] = [str(f["name"]) for f in raw["fields"]]
        self.fields: dict[str, Any] = {}
        self.identities: dict[str, list[str]] = {}
        self.primary_key: list[str] = []
        self.references: dict[str, Any] = {}
        self.raw_refs: list[Ref] = []
        self.pk_marked: list[str] = []
        self.personal = False

    def read_fields(self) -> None:
        """Fields with their categories, identities, primary-key marks and raw references; notes on what is not
        imported as Fides wrote it."""
        log = self.log
        col_cats = categories(log, self.raw, self.path)
        uncategorised, nested_skipped, inherited = [], [], []
        for k, f in enumerate(self.raw["fields"]):
            fp = self.path + ("fields", k)
            name = str(f["name"])
            cats = categories(log, f, fp)
            meta_key, meta = meta_of(f)
            nested_skipped += self._read_nested(f, fp, name, cats)
            if meta.get("primary_key"):
                self.pk_marked.append(name)
            for r, ref in enumerate(meta.get("references") or []):
                self.raw_refs.append(Ref(ref, fp + (meta_key, "references", r), name, nested=False))
            kind = self._read_identity(meta, name)
            if not cats and (col_cats or self.ds_cats):
                cats = list(col_cats or self.ds_cats)
                inherited.append(name)
            if not cats and kind:
                cats = [IDENTITY_CATEGORIES.get(kind, IDENTITY_FALLBACK_CATEGORY)]
                log.notes.append(f"{self.name}: identity field {name} has no data category in Fides; listed as "
                                 f"{cats[0]} (privacyops needs one on every identity column): check it")
            if not cats:
                uncategorised.append(name)
                continue
            if any(c == "user" or c.startswith("user.") for c in cats):
                self.personal = True
            self.fields[name] = _field_spec(f, cats)
        if inherited:
            log.notes.append(f"{self.name}: fields without data categories of their own ({', '.join(inherited)}) "
                             f"were given the collection's/dataset's data_categories, which Fides applies to all "
                             f"its fields: check them")
        if uncategorised:
            log.notes.append(f"{self.name}: fields without a data category in Fides ({', '.join(uncategorised)}) "
                             f"are not listed in fields (privacyops still reads them): add a category if they hold "
                             f"personal data")
        if nested_skipped:
            log.notes.append(f"{self.name}: skipped nested fields {', '.join(nested_skipped)}: privacyops reads "
                             f"top-level columns only; their data categories are listed on the parent column")

    def _read_nested(self, f: dict, fp: FPath, name: str, cats: list[str]) -> list[str]:
        """The field's nested sub-fields (objects, typically NoSQL): skipped, their categories added to `cats`.

        privacyops quotes column names and reads top-level columns only, so sub-fields are not columns it can
        query; their categories stay on the parent column. Returns the skipped sub-fields' dotted names.
        """
        skipped = []
        for sub, sp, sub_meta_key, sub_meta in self._descendants(f, fp, name):
            skipped.append(sub)
            for c in categories(self.log, sp[1], sp[0]):
                if c not in cats:
                    cats.append(c)
            if sub_meta.get("identity"):
                self.log.notes.append(f"{self.name}: skipped identity {sub_meta['identity']} on nested field {sub}: "
                                      f"privacyops matches identities on top-level columns only")
            if sub_meta.get("primary_key"):
                self.log.notes.append(f"{self.name}: ignored primary_key on nested field {sub}")
            for r, ref in enumerate(sub_meta.get("references") or []):
                self.raw_refs.append(Ref(ref, sp[0] + (sub_meta_key, "references", r), sub, nested=True))
        return skipped

    def _read_identity(self, meta: dict, name: str) -> str | None:
        """The privacyops identity kind of a field Fides marks as an identity (recorded), or None."""
        if not meta.get("identity"):
            return None
        ident = str(meta["identity"])
        kind = IDENTITY_KINDS.get(ident, ident)
        if not WORD.match(kind):
            kind = re.sub(r"\W+", "_", kind).strip("_") or "identity"
            kind = kind if WORD.match(kind) else f"id_{kind}"
            self.log.notes.append(f"{self.name}: Fides identity '{ident}' on {name} became identity kind '{kind}' "
                                  f"(privacyops kinds are single words)")
        self.identities.setdefault(kind, []).append(name)
        return kind

    def _descendants(self, f: dict, fp: FPath, prefix: str) -> Iterator[tuple[str, tuple, str | None, dict]]:
        """Every sub-field, depth first: (dotted name, (its path, the field), its meta key, its meta)."""
        for k, sub in enumerate(f.get("fields") or []):
            sp = fp + ("fields", k)
            name = f"{prefix}.{sub['name']}"
            key, meta = meta_of(sub)
            yield name, (sp, sub), key, meta
            yield from self._descendants(sub, sp, name)

    def read_primary_key(self) -> None:
        """The fields marked primary_key, else an `id` field (noted), else a problem: rows need telling apart."""
        if self.pk_marked:
            self.primary_key = list(self.pk_marked)
        elif "id" in self.all_fields:
            self.primary_key = ["id"]
            self.log.notes.append(f"{self.name}: no field is marked fides_meta.primary_key: true; using its `id` "
                                  f"field: check that it is unique")
        else:
            self.log.add(self.path, f"collection '{self.raw['name']}' has no primary key: no field is marked "
                                    f"fides_meta: {{primary_key: true}} and there is no `id` field; privacyops needs "
                                    f"one to tell rows apart (mark the key field(s); several make a composite key)")

    def render(self, source: str, purposes: list[str] | None) -> dict:
        """The privacyops dataset, as it goes under `datasets:` of the map."""
        out: dict[str, Any] = {"source": source, "table": self.table}
        if self.raw.get("description"):
            out["description"] = str(self.raw["description"])
        out["primary_key"] = self.primary_key[0] if len(self.primary_key) == 1 else list(self.primary_key)
        if self.identities:
            out["identities"] = {k: v[0] if len(v) == 1 else list(v) for k, v in self.identities.items()}
        if self.references:
            out["references"] = dict(self.references)
        if purposes:
            out["purposes"] = list(purposes)
        if self.fields:
            out["fields"] = dict(self.fields)
        return out


def _field_spec(f: dict, cats: list[str]) -> Any:
    """A field as the map writes it: its category (or list of them), as a mapping when it has a description."""
    desc = f.get("description")
    if desc:
        spec: Any = {"category": cats[0]} if len(cats) == 1 else {"categories": cats}
        spec["description"] = str(desc)
    else:
        spec = cats[0] if len(cats) == 1 else cats
    return spec


def collect_collections(log: Findings, raw: list, source: str,
                        table_prefix: str | None) -> dict[tuple[str, str], Collection]:
    """Every collection of every dataset, keyed (fides_key, collection name), named `<prefix or key>.<name>`."""
    colls: dict[tuple[str, str], Collection] = {}
    by_name: dict[str, FPath] = {}
    keys: dict[str, int] = {}
    for i, ds in enumerate(raw):
        p = ("dataset", i)
        key = str(ds["fides_key"])
        if key in keys:
            log.add(p + ("fides_key",), f"fides_key '{key}' is also dataset[{keys[key]}]; each dataset needs "
                                        f"its own key")
            continue
        keys[key] = i
        ds_cats = categories(log, ds, p)
        schema = _schema(log, key, ds, source)
        for j, col in enumerate(ds["collections"]):
            cp = p + ("collections", j)
            name = f"{table_prefix or key}.{col['name']}"
            if name in by_name:
                log.add(cp + ("name",), f"would be dataset '{name}', like {fmt_path(by_name[name])}; "
                                        f"import the datasets separately or without a table prefix")
                continue
            by_name[name] = cp
            c = Collection(log, key, col, cp, name, ds_cats)
            c.table = f"{schema}.{col['name']}" if schema else str(col["name"])
            cmeta = col.get("fides_meta") if isinstance(col.get("fides_meta"), dict) else {}
            if cmeta.get("skip_processing"):
                log.notes.append(f"{name}: Fides skips this collection in privacy requests "
                                 f"(fides_meta.skip_processing); imported anyway: remove it if it holds no "
                                 f"personal data")
            colls[(key, str(col["name"]))] = c
    return colls


def _schema(log: Findings, key: str, ds: dict, source: str) -> Any:
    """The dataset's fides_meta.namespace schema (prefixed to its tables); notes on what else the namespace says."""
    meta = ds.get("fides_meta") if isinstance(ds.get("fides_meta"), dict) else {}
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), dict) else {}
    schema = namespace.get("schema")
    others = sorted(set(namespace) - {"schema", "connection_type", "database_name"})
    if others:
        log.notes.append(f"{key}: fides_meta.namespace has {', '.join(others)}; privacyops reads "
                         f"[schema.]table from its source: check each dataset's table:")
    if namespace.get("database_name"):
        log.notes.append(f"{key}: fides_meta.namespace names database '{namespace['database_name']}': "
                         f"make sure the source '{source}' is that database")
    return schema
