"""Import a Fides dataset file (the fideslang `dataset:` manifest) as a privacyops data-map fragment.

Fides (ethyca/fides) describes a database as a *dataset* of *collections* (tables) of *fields* (columns), each
field annotated with fideslang data categories and, under `fides_meta`, the facts a privacy-request graph needs:
`identity` (the field holds an identity such as an e-mail), `primary_key`, and `references` to fields of other
collections with an optional `direction`.

`direction` (Fides docs, "Datasets" guide, fides_meta.references): with `to`, Fides uses values found in the
*source* collection (the one holding the reference) to discover rows of the *referenced* collection; with `from`,
it uses values of the *referenced* collection to discover rows of the source collection; without a direction it
walks the link either way. In privacyops a reference `column: DATASET.COLUMN` on a dataset means the row holds a
value of that column and belongs to the referenced row: the lookup walks *from* the referenced rows *down* to it.
So the walk direction carries over:

* `from` on C.f -> T.t  (T's rows lead to C's):  on C, `references: {f: T.t}`   (C belongs to T)
* `to`   on C.f -> T.t  (C's rows lead to T's):  on T, `references: {t: C.f}`   (T belongs to C)
* none: read as `from` when T.t is T's primary key (a foreign key to a key, the usual case), as `to` when C.f is
  C's own primary key and T.t is not T's; reported in the notes either way.

Fides has no notion of shared reference data (a product bought by many people) nor of which tables hold people,
purposes, retention or erasure rules: those stay for the analyst (`render_fragment` says so in its header), and the
importer only adds notes where it sees a likely case.

    fragment = import_fides(Path("fides/postgres.yml"), source="app", purposes=["service"])
    text = merge_into(Path("privacyops.yaml").read_text(), fragment)    # or render_fragment(fragment)

A fragment is a dict: `datasets` (exactly what goes under `datasets:` of the map), `notes` (the importer's remarks
for the analyst: never written into the map) and `imported_from` (the Fides file).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import DataMapError, MapProblem
from .model import data_categories

# Fides identity names -> privacyops identity kinds (others keep their own name as an exact identifier kind).
IDENTITY_KINDS = {"email": "email", "phone_number": "phone"}
# privacyops needs a data category on every identity column; used (and noted) when Fides gives none.
IDENTITY_CATEGORIES = {"email": "user.contact.email", "phone": "user.contact.phone_number"}
IDENTITY_FALLBACK_CATEGORY = "user.unique_id"
DIRECTIONS = ("from", "to")
META_KEYS = ("fides_meta", "fidesops_meta")  # fidesops_meta: the older name fideslang still accepts

_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LEGACY_PARTS = {"provided", "derived", "identifiable", "nonidentifiable"}

FPath = tuple  # a path inside the Fides file: ("dataset", 0, "collections", 2, "fields", 1, ...)


def import_fides(path: Path, *, source: str, purposes: list[str] | None = None,
                 table_prefix: str | None = None) -> dict:
    """Read a Fides dataset YAML file into a privacyops map fragment (see the module docstring).

    `source` is the privacyops source (a name under `sources:` of the map) that holds these tables; `purposes`
    (names under `purposes:`) are given to every dataset; `table_prefix` names the datasets
    `<table_prefix>.<collection>` instead of `<fides_key>.<collection>`. Raises DataMapError listing every problem
    of the Fides file, each with its path in the file (`dataset[0].collections[2].fields[1]...`) and line.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise DataMapError([MapProblem("", "no such file; give a Fides dataset YAML file (a top-level `dataset:` "
                                           "list)", None, file)])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataMapError([MapProblem("", f"cannot read the file: {exc}", None, file)]) from None
    return parse_fides(text, source=source, purposes=purposes, table_prefix=table_prefix, file=file)


def parse_fides(text: str, *, source: str, purposes: list[str] | None = None, table_prefix: str | None = None,
                file: str | None = None) -> dict:
    """`import_fides` on YAML text (`file` is only used in the problems and the fragment's `imported_from`)."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError("source must name a privacyops source (a key under `sources:` of the map)")
    if purposes is not None and (isinstance(purposes, str) or not all(isinstance(p, str) and p for p in purposes)):
        raise ValueError("purposes must be a list of purpose names")
    if table_prefix is not None and (not isinstance(table_prefix, str) or not table_prefix.strip()):
        raise ValueError("table_prefix must be non-empty text")
    imp = _Importer(file or "<fides>")
    return imp.run(text, source=source, purposes=list(purposes) if purposes else None, table_prefix=table_prefix)


# ---------------------------------------------------------------------------------------------------------------
# The importer.


def _fmt(path: FPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "nothing"}.get(type(value), type(value).__name__)


def _close(word: str, options, cutoff: float = 0.6) -> str | None:
    got = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=cutoff)
    return got[0] if got else None


def _hint(word: str, options) -> str:
    close = _close(word, options)
    return f" (did you mean '{close}'?)" if close else ""


def _meta(node: dict) -> tuple[str | None, dict]:
    """The field's/collection's fides_meta (or legacy fidesops_meta) and the key it sits under."""
    for key in META_KEYS:
        if isinstance(node.get(key), dict):
            return key, node[key]
    return None, {}


class _Importer:
    def __init__(self, file: str):
        self.file = file
        self.lines: dict[tuple, int] = {}
        self.problems: list[MapProblem] = []
        self.notes: list[str] = []
        self.reported: set[tuple[str, str]] = set()
        self.skipped: dict[tuple[str, str], list[str]] = {}

    # -- problems -------------------------------------------------------------------------------------------------
    def add(self, path: FPath, message: str) -> None:
        where = _fmt(path)
        if (where, message) in self.reported:
            return
        self.reported.add((where, message))
        line = None
        for i in range(len(path), -1, -1):  # the nearest ancestor that has a line
            line = self.lines.get(tuple(path[:i]))
            if line:
                break
        self.problems.append(MapProblem(where, message, line, self.file))

    def fail_if_problems(self) -> None:
        if self.problems:
            raise DataMapError(self.problems)

    # -- YAML with lines ------------------------------------------------------------------------------------------
    def compose(self, text: str) -> Any:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            what = getattr(exc, "problem", None) or str(exc)
            raise DataMapError([MapProblem("", f"not valid YAML: {what}", mark.line + 1 if mark else None,
                                           self.file)]) from None

        def walk(n: yaml.Node, path: tuple) -> None:
            self.lines.setdefault(path, n.start_mark.line + 1)
            if isinstance(n, yaml.MappingNode):
                seen: set = set()
                for k, v in n.value:
                    key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
                    self.lines[path + (key,)] = k.start_mark.line + 1
                    if key in seen:
                        self.add(path + (key,), "this key appears twice; keep one")
                    seen.add(key)
                    walk(v, path + (key,))
            elif isinstance(n, yaml.SequenceNode):
                for i, v in enumerate(n.value):
                    walk(v, path + (i,))

        if node is not None:
            walk(node, ())
        return yaml.load(text, Loader=yaml.SafeLoader) if node is not None else None

    # -- structure and fideslang validation -----------------------------------------------------------------------
    def top(self, data: Any) -> list:
        expected = ("expected a top-level `dataset:` list of datasets, each with fides_key and collections (the "
                    "Fides dataset manifest format)")
        if not isinstance(data, dict) or "dataset" not in data:
            found = (f"; found {', '.join(f'`{k}:`' for k in list(data)[:6])}" if isinstance(data, dict) and data
                     else f"; the file holds {_kind(data)}")
            raise DataMapError([MapProblem("", f"not a Fides dataset file: {expected}{found}",
                                           self.lines.get((), 1), self.file)])
        raw = data["dataset"]
        if not isinstance(raw, list) or not raw:
            what = "an empty list" if raw == [] else _kind(raw)
            if isinstance(raw, dict) and "fides_key" in raw:
                what += " (write each dataset as a list item: `- fides_key: ...`)"
            raise DataMapError([MapProblem("dataset", f"{expected}; got {what}", self.lines.get(("dataset",)),
                                           self.file)])
        return raw

    def structure(self, raw: list) -> None:
        """What fideslang's models accept (checked with them), plus what an import needs (fields to import)."""
        from fideslang.models import Dataset

        for i, ds in enumerate(raw):
            p = ("dataset", i)
            before = len(self.problems)
            if not isinstance(ds, dict):
                self.add(p, f"expected a dataset (a mapping with fides_key and collections), got {_kind(ds)}")
                continue
            cols = ds.get("collections")
            if not isinstance(cols, list) or not cols:
                self.add(p + ("collections",), "a dataset needs collections (its tables), each with a name and "
                                               "fields; got " + ("an empty list" if cols == [] else _kind(cols)))
            else:
                for j, col in enumerate(cols):
                    if isinstance(col, dict):
                        fields = col.get("fields")
                        if not isinstance(fields, list) or not fields:
                            self.add(p + ("collections", j, "fields"),
                                     f"collection '{col.get('name')}' has no fields; list its columns (name, "
                                     f"data_categories, fides_meta)")
            self.near_miss_keys(ds, p)
            done = {pr.path for pr in self.problems[before:]}
            try:
                Dataset.model_validate(ds)
            except ValidationError as exc:
                for err in exc.errors():
                    where = self.raw_path(ds, p, err["loc"])
                    if _fmt(where) not in done:  # already reported in plainer words
                        self.add(where, self.pydantic_message(err))

    def near_miss_keys(self, ds: dict, p: FPath) -> None:
        """Keys fideslang would silently ignore that are a typo of a known key (`data_categores`, `fides_mata`)."""
        from fideslang.models import Dataset, DatasetCollection, DatasetField, FidesDatasetReference, FidesMeta

        def check(node: Any, path: FPath, known: list[str]) -> None:
            if not isinstance(node, dict):
                return
            for key in node:
                if key not in known:
                    close = _close(str(key), known, cutoff=0.8)
                    if close:
                        self.add(path + (key,), f"unknown key '{key}' (did you mean '{close}'?); Fides would "
                                                f"ignore it")

        def fields(items: Any, path: FPath) -> None:
            for k, f in enumerate(items if isinstance(items, list) else []):
                fp = path + (k,)
                check(f, fp, list(DatasetField.model_fields) + ["fidesops_meta"])
                if isinstance(f, dict):
                    key, meta = _meta(f)
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

    @staticmethod
    def raw_path(raw: Any, base: FPath, loc: tuple) -> FPath:
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

    @staticmethod
    def pydantic_message(err: dict) -> str:
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

    # -- data categories ------------------------------------------------------------------------------------------
    def categories(self, node: dict, path: FPath) -> list[str]:
        cats = node.get("data_categories") or []
        known = data_categories()
        out = []
        for k, cat in enumerate(cats):
            if cat in known:
                out.append(cat)
                continue
            modern = _modern_category(str(cat), known)
            hint = f" (a fideslang 1 key; fideslang 2 renamed it: use '{modern}')" if modern else _hint(str(cat), known)
            self.add(path + ("data_categories", k),
                     f"'{cat}' is not a fideslang data category{hint}; allowed: the keys of fideslang's default "
                     f"taxonomy (e.g. user.contact.email, user.name, user.financial.credit_card, system.operations)")
        return out

    # -- the import -----------------------------------------------------------------------------------------------
    def run(self, text: str, *, source: str, purposes: list[str] | None, table_prefix: str | None) -> dict:
        data = self.compose(text)
        raw = self.top(data)
        self.structure(raw)
        self.fail_if_problems()

        # Pass 1: every collection, its privacyops name, fields, primary key.
        colls: dict[tuple[str, str], _Coll] = {}
        by_name: dict[str, FPath] = {}
        keys: dict[str, int] = {}
        for i, ds in enumerate(raw):
            p = ("dataset", i)
            key = str(ds["fides_key"])
            if key in keys:
                self.add(p + ("fides_key",), f"fides_key '{key}' is also dataset[{keys[key]}]; each dataset needs "
                                             f"its own key")
                continue
            keys[key] = i
            ds_cats = self.categories(ds, p)
            meta = ds.get("fides_meta") if isinstance(ds.get("fides_meta"), dict) else {}
            namespace = meta.get("namespace") if isinstance(meta.get("namespace"), dict) else {}
            schema = namespace.get("schema")
            others = sorted(set(namespace) - {"schema", "connection_type", "database_name"})
            if others:
                self.notes.append(f"{key}: fides_meta.namespace has {', '.join(others)}; privacyops reads "
                                  f"[schema.]table from its source: check each dataset's table:")
            if namespace.get("database_name"):
                self.notes.append(f"{key}: fides_meta.namespace names database '{namespace['database_name']}': "
                                  f"make sure the source '{source}' is that database")
            for j, col in enumerate(ds["collections"]):
                cp = p + ("collections", j)
                name = f"{table_prefix or key}.{col['name']}"
                if name in by_name:
                    self.add(cp + ("name",), f"would be dataset '{name}', like {_fmt(by_name[name])}; "
                                             f"import the datasets separately or without a table prefix")
                    continue
                by_name[name] = cp
                c = _Coll(self, key, col, cp, name, ds_cats)
                c.table = f"{schema}.{col['name']}" if schema else str(col["name"])
                cmeta = col.get("fides_meta") if isinstance(col.get("fides_meta"), dict) else {}
                if cmeta.get("skip_processing"):
                    self.notes.append(f"{name}: Fides skips this collection in privacy requests "
                                      f"(fides_meta.skip_processing); imported anyway: remove it if it holds no "
                                      f"personal data")
                colls[(key, str(col["name"]))] = c
        for c in colls.values():
            c.read_fields()
        for c in colls.values():
            c.read_primary_key()

        # Pass 2: references, resolved and oriented.
        for c in colls.values():
            for ref in c.raw_refs:
                self.reference(c, ref, colls)
        self.fail_if_problems()
        for (name, column), others in self.skipped.items():
            kept = next(c for c in colls.values() if c.name == name).references[column]
            self.notes.append(f"{name}: by Fides, its rows would also belong to {', '.join(others)}, but privacyops "
                              f"holds one reference per column: imported only {column}: {kept}, so rows reached "
                              f"only through the others are not found")

        # The fragment.
        datasets: dict[str, dict] = {}
        for c in colls.values():
            datasets[c.name] = c.render(source, purposes)
        tops = [c.name for c in colls.values() if c.identities and not any(
            isinstance(r, str) or not r.get("shared") for r in c.references.values())]
        if tops:
            self.notes.append("rows of " + ", ".join(tops) + " are found by identity and belong to no other row: "
                              "if their rows ARE people, add subject: <type> (e.g. customer, employee)")
        return {"datasets": datasets, "notes": self.sorted_notes(list(colls.values())), "imported_from": self.file}

    def sorted_notes(self, colls: list[_Coll]) -> list[str]:
        """Notes grouped by dataset, in file order (notes about a whole Fides dataset first, general ones last)."""
        rank: dict[str, float] = {}
        for i, c in enumerate(colls):
            rank.setdefault(c.key, i - 0.5)
            rank[c.name] = i

        def key(note: str) -> float:
            hits = [n for n in rank if note.startswith(n + ":") or note.startswith(n + " ")]
            return rank[max(hits, key=len)] if hits else len(colls)

        return sorted(self.notes, key=key)

    def reference(self, c: _Coll, ref: _Ref, colls: dict) -> None:
        rp = ref.path
        target_key = str(ref.raw["dataset"])
        if target_key not in {k for k, _ in colls}:
            known = sorted({k for k, _ in colls})
            self.add(rp + ("dataset",), f"references dataset '{target_key}'{_hint(target_key, known)}, which is not "
                                        f"in this file; datasets here: {', '.join(known)} (put the datasets that "
                                        f"reference each other in one file)")
            return
        spec = str(ref.raw["field"])
        if "." not in spec:
            self.add(rp + ("field",), f"'{spec}' is not COLLECTION.FIELD (e.g. customer.id)")
            return
        coll_name, field_path = spec.split(".", 1)
        target = colls.get((target_key, coll_name))
        if target is None:
            names = [n for k, n in colls if k == target_key]
            self.add(rp + ("field",), f"references unknown collection '{coll_name}'{_hint(coll_name, names)} of "
                                      f"dataset '{target_key}'; its collections: {', '.join(names)}")
            return
        top_field = field_path.split(".", 1)[0]
        if top_field not in target.all_fields:
            self.add(rp + ("field",), f"references unknown field '{top_field}'"
                                      f"{_hint(top_field, target.all_fields)} of collection '{coll_name}'; its "
                                      f"fields: {', '.join(target.all_fields)}")
            return
        if ref.nested or "." in field_path:
            self.notes.append(f"{c.name}: skipped the reference {ref.column} -> {target_key}.{spec}: privacyops "
                              f"follows references between top-level columns only")
            return
        direction = ref.raw.get("direction")
        direction = getattr(direction, "value", direction)
        if direction is None:
            if field_path in target.primary_key or ref.column not in c.primary_key:
                direction = "from"
            else:
                direction = "to"
            self.notes.append(f"{c.name}: the reference {ref.column} -> {target.name}.{field_path} has no "
                              f"direction in Fides; read as '{direction}' ("
                              + (f"{c.name} rows belong to {target.name} rows" if direction == "from" else
                                 f"{target.name} rows belong to {c.name} rows") + "): check it")
        if direction == "from":  # the referenced rows lead to this collection's rows: this row belongs to them
            child, column, parent, to_column = c, ref.column, target, field_path
        else:  # "to": this collection's rows lead to the referenced rows: those belong to this row
            child, column, parent, to_column = target, field_path, c, ref.column
        if column in child.references:
            self.skipped.setdefault((child.name, column), []).append(f"{parent.name}.{to_column}")
            return
        if child is parent:
            child.references[column] = {"to": f"{parent.name}.{to_column}", "shared": True}
            self.notes.append(f"{child.name}: {column} -> {to_column} points at rows of the same table (a peer, "
                              f"e.g. a manager); imported as shared: true (a belongs-to link to itself is a cycle)")
            return
        child.references[column] = f"{parent.name}.{to_column}"
        both = sorted(set(child.identities) & set(parent.identities))
        if both:
            self.notes.append(
                f"{child.name} has its own {', '.join(both)} identity and belongs to {parent.name} (through "
                f"{column}), which has one too: if they can be different people (a customer's ticket handled by "
                f"staff), make it {column}: {{to: {parent.name}.{to_column}, shared: true}}; as imported, a lookup "
                f"that finds a {child.name} row by its identity climbs to the {parent.name} row and collects "
                f"that row's other records")
        if direction == "to" and not child.personal:
            self.notes.append(
                f"{child.name} rows are found from {parent.name}.{to_column} (Fides direction: to) and hold no "
                f"user.* data categories: if they are shared reference data, drop `{column}` from "
                f"{child.name}'s references and add to {parent.name}: references: {{{to_column}: "
                f"{{to: {child.name}.{column}, shared: true}}}}")


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


class _Ref:
    def __init__(self, raw: dict, path: FPath, column: str, nested: bool):
        self.raw, self.path, self.column, self.nested = raw, path, column, nested


class _Coll:
    """One Fides collection on its way to a privacyops dataset."""

    def __init__(self, imp: _Importer, key: str, raw: dict, path: FPath, name: str, ds_cats: list[str]):
        self.imp, self.key, self.raw, self.path, self.name = imp, key, raw, path, name
        self.ds_cats = ds_cats
        self.table = str(raw["name"])
        self.all_fields: list[str] = [str(f["name"]) for f in raw["fields"]]
        self.fields: dict[str, Any] = {}
        self.identities: dict[str, list[str]] = {}
        self.primary_key: list[str] = []
        self.references: dict[str, Any] = {}
        self.raw_refs: list[_Ref] = []
        self.pk_marked: list[str] = []
        self.personal = False

    def read_fields(self) -> None:
        imp = self.imp
        col_cats = imp.categories(self.raw, self.path)
        uncategorised, nested_skipped, inherited = [], [], []
        for k, f in enumerate(self.raw["fields"]):
            fp = self.path + ("fields", k)
            name = str(f["name"])
            cats = imp.categories(f, fp)
            meta_key, meta = _meta(f)
            # Nested fields (objects, typically NoSQL): privacyops quotes column names and reads top-level columns
            # only, so sub-fields are not columns it can query. Their categories stay on the parent column.
            for sub, sp, sub_meta_key, sub_meta in self._descendants(f, fp, name):
                nested_skipped.append(sub)
                for c in imp.categories(sp[1], sp[0]):
                    if c not in cats:
                        cats.append(c)
                if sub_meta.get("identity"):
                    imp.notes.append(f"{self.name}: skipped identity {sub_meta['identity']} on nested field {sub}: "
                                     f"privacyops matches identities on top-level columns only")
                if sub_meta.get("primary_key"):
                    imp.notes.append(f"{self.name}: ignored primary_key on nested field {sub}")
                for r, ref in enumerate(sub_meta.get("references") or []):
                    self.raw_refs.append(_Ref(ref, sp[0] + (sub_meta_key, "references", r), sub, nested=True))
            if meta.get("primary_key"):
                self.pk_marked.append(name)
            for r, ref in enumerate(meta.get("references") or []):
                self.raw_refs.append(_Ref(ref, fp + (meta_key, "references", r), name, nested=False))
            kind = None
            if meta.get("identity"):
                ident = str(meta["identity"])
                kind = IDENTITY_KINDS.get(ident, ident)
                if not _WORD.match(kind):
                    kind = re.sub(r"\W+", "_", kind).strip("_") or "identity"
                    kind = kind if _WORD.match(kind) else f"id_{kind}"
                    imp.notes.append(f"{self.name}: Fides identity '{ident}' on {name} became identity kind '{kind}' "
                                     f"(privacyops kinds are single words)")
                self.identities.setdefault(kind, []).append(name)
            if not cats and (col_cats or self.ds_cats):
                cats = list(col_cats or self.ds_cats)
                inherited.append(name)
            if not cats and kind:
                cats = [IDENTITY_CATEGORIES.get(kind, IDENTITY_FALLBACK_CATEGORY)]
                imp.notes.append(f"{self.name}: identity field {name} has no data category in Fides; listed as "
                                 f"{cats[0]} (privacyops needs one on every identity column): check it")
            if not cats:
                uncategorised.append(name)
                continue
            if any(c == "user" or c.startswith("user.") for c in cats):
                self.personal = True
            desc = f.get("description")
            if desc:
                spec: Any = {"category": cats[0]} if len(cats) == 1 else {"categories": cats}
                spec["description"] = str(desc)
            else:
                spec = cats[0] if len(cats) == 1 else cats
            self.fields[name] = spec
        if inherited:
            imp.notes.append(f"{self.name}: fields without data categories of their own ({', '.join(inherited)}) "
                             f"were given the collection's/dataset's data_categories, which Fides applies to all "
                             f"its fields: check them")
        if uncategorised:
            imp.notes.append(f"{self.name}: fields without a data category in Fides ({', '.join(uncategorised)}) "
                             f"are not listed in fields (privacyops still reads them): add a category if they hold "
                             f"personal data")
        if nested_skipped:
            imp.notes.append(f"{self.name}: skipped nested fields {', '.join(nested_skipped)}: privacyops reads "
                             f"top-level columns only; their data categories are listed on the parent column")

    def _descendants(self, f: dict, fp: FPath, prefix: str):
        for k, sub in enumerate(f.get("fields") or []):
            sp = fp + ("fields", k)
            name = f"{prefix}.{sub['name']}"
            key, meta = _meta(sub)
            yield name, (sp, sub), key, meta
            yield from self._descendants(sub, sp, name)

    def read_primary_key(self) -> None:
        if self.pk_marked:
            self.primary_key = list(self.pk_marked)
        elif "id" in self.all_fields:
            self.primary_key = ["id"]
            self.imp.notes.append(f"{self.name}: no field is marked fides_meta.primary_key: true; using its `id` "
                                  f"field: check that it is unique")
        else:
            self.imp.add(self.path, f"collection '{self.raw['name']}' has no primary key: no field is marked "
                                    f"fides_meta: {{primary_key: true}} and there is no `id` field; privacyops needs "
                                    f"one to tell rows apart (mark the key field(s); several make a composite key)")

    def render(self, source: str, purposes: list[str] | None) -> dict:
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


# ---------------------------------------------------------------------------------------------------------------
# Output: the fragment as YAML, or merged into a map.


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key (as the map docs write them)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: ARG002
        return super().increase_indent(flow, False)


def _dump(data: Any, indent: int = 0) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=110)
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def _todo(fragment: dict) -> list[str]:
    datasets = fragment.get("datasets") or {}
    has_purposes = datasets and all(d.get("purposes") for d in datasets.values())
    todo = []
    if not has_purposes:
        todo.append("purposes: [..]   the purposes (names under `purposes:`) each dataset serves")
    todo += [
        "retention: RULE  where a law or contract says how long rows are kept (a name under `retention:`)",
        "erasure:         delete (default) or mask, keep_fields, mask: {field: null|redact|hmac}",
        "subject: TYPE    on tables whose rows ARE people (customer, employee); Fides does not say which",
        "shared: true     on references to shared reference data (products, stores, staff):",
        "                 references: {product_id: {to: DATASET.id, shared: true}} on the referencing table",
        "identities       add name: COLUMN to find people by name; free_text: true on free-text fields",
        "table:           for a parquet/csv source, the files' path inside the source folder (globs allowed)",
    ]
    return todo


def render_fragment(fragment: dict) -> str:
    """The fragment as YAML, headed by comments telling the analyst what to complete and the importer's notes."""
    datasets = fragment.get("datasets") or {}
    src = fragment.get("imported_from") or "a Fides dataset file"
    head = [f"privacyops data-map fragment: {len(datasets)} dataset(s) imported from {src}",
            "(one per Fides collection). Merge it under `datasets:` of privacyops.yaml",
            "(privacyops import fides FILE --source NAME --into privacyops.yaml), then complete, per dataset:"]
    head += ["  " + t for t in _todo(fragment)]
    head.append("and run `privacyops check`.")
    notes = fragment.get("notes") or []
    if notes:
        head += ["", "Notes from the import:"] + [f"  - {n}" for n in notes]
    header = "".join(f"# {h}".rstrip() + "\n" for h in head)
    return header + "\n" + _dump({"datasets": datasets})


def merge_into(base_map_text: str, fragment: dict, *, file: str | None = None) -> str:
    """The base map's YAML text with the fragment's datasets added under `datasets:`.

    Refuses (DataMapError) a dataset name the map already has. The base text is kept as written (comments too);
    the new datasets go after the last existing one, indented like them. When the base's `datasets:` is written in
    flow style ({...}) or empty, that part is rewritten in block style.
    """
    new = fragment.get("datasets") if isinstance(fragment, dict) else None
    if not isinstance(new, dict) or not new:
        raise ValueError("the fragment has no datasets to merge")
    try:
        root = yaml.compose(base_map_text, Loader=yaml.SafeLoader)
        base = yaml.load(base_map_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataMapError([MapProblem("", f"the map is not valid YAML: {getattr(exc, 'problem', None) or exc}",
                                       mark.line + 1 if mark else None, file)]) from None
    if root is None:
        base, root = {}, None
    elif not isinstance(root, yaml.MappingNode) or not isinstance(base, dict):
        raise DataMapError([MapProblem("", "the map must be a mapping (version, organisation, sources, datasets...)",
                                       1, file)])
    key_node = val_node = None
    for k, v in (root.value if root is not None else []):
        if isinstance(k, yaml.ScalarNode) and k.value == "datasets":
            key_node, val_node = k, v
    existing = base.get("datasets") if isinstance(base.get("datasets"), dict) else {}
    if base.get("datasets") is not None and not isinstance(base.get("datasets"), dict):
        raise DataMapError([MapProblem("datasets", "expected a mapping of dataset name -> dataset",
                                       key_node.start_mark.line + 1 if key_node else None, file)])
    lines_of = {}
    if isinstance(val_node, yaml.MappingNode):
        lines_of = {k.value: k.start_mark.line + 1 for k, _ in val_node.value if isinstance(k, yaml.ScalarNode)}
    dups = [name for name in new if name in existing]
    if dups:
        raise DataMapError([MapProblem(f"datasets.{name}", f"the map already has a dataset named '{name}'; import "
                                                           f"with a table prefix (--table-prefix) or remove/rename "
                                                           f"the existing one first", lines_of.get(name), file)
                            for name in dups])

    src = fragment.get("imported_from") or "a Fides dataset file"
    todo = "retention, erasure, subject: and shared: references"
    if not all(d.get("purposes") for d in new.values()):
        todo = "purposes, " + todo
    comment = f"# Imported from {src}: complete {todo}.\n"
    text = base_map_text
    if text and not text.endswith("\n"):
        text += "\n"
    lines = text.splitlines(keepends=True)
    if key_node is None:
        merged = text + "datasets:\n" + "  " + comment + _dump(new, 2)
    elif isinstance(val_node, yaml.MappingNode) and not val_node.flow_style and val_node.value:
        indent = val_node.value[0][0].start_mark.column
        end = _last_end(val_node)
        at = end.line if end.column == 0 else end.line + 1
        merged = "".join(lines[:at]) + " " * indent + comment + _dump(new, indent) + "".join(lines[at:])
    else:  # `datasets:` empty, null or {flow}: rewrite its value in block style
        cut = text[:val_node.start_mark.index] + text[val_node.end_mark.index:]
        cut_lines = cut.splitlines(keepends=True)
        at = key_node.start_mark.line + 1
        merged = ("".join(cut_lines[:at]) + "  " + comment + _dump({**existing, **new}, 2)
                  + "".join(cut_lines[at:]))

    expected = dict(base)
    expected["datasets"] = {**existing, **new}
    try:
        ok = yaml.load(merged, Loader=yaml.SafeLoader) == expected
    except yaml.YAMLError:
        ok = False
    if not ok:  # an unusual layout: keep the content right, at the cost of the comments
        merged = ("# Rewritten by privacyops import (the original layout could not be kept).\n"
                  + _dump(expected))
    return merged


def _last_end(node: yaml.Node) -> yaml.Mark:
    """Where the last value inside a block collection ends."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark
