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

from pathlib import Path
from typing import Any

import yaml

from ..errors import DataMapError, MapProblem
from .fides_collections import Collection, collect_collections
from .fides_findings import Findings
from .fides_references import link_references
from .fides_validate import check_structure, top_datasets


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
    return _import(Findings(file or "<fides>"), text, source=source, purposes=list(purposes) if purposes else None,
                   table_prefix=table_prefix)


def _import(log: Findings, text: str, *, source: str, purposes: list[str] | None, table_prefix: str | None) -> dict:
    """The import, problems first: nothing is read into datasets until the file's shape is sound."""
    raw = top_datasets(log, log.compose(text))
    check_structure(log, raw)
    log.fail_if_problems()

    # Pass 1: every collection, its privacyops name, fields, primary key.
    colls = collect_collections(log, raw, source, table_prefix)
    for c in colls.values():
        c.read_fields()
    for c in colls.values():
        c.read_primary_key()

    # Pass 2: references, resolved and oriented (they need every collection's fields and keys).
    link_references(log, colls)

    # The fragment.
    datasets: dict[str, dict] = {}
    for c in colls.values():
        datasets[c.name] = c.render(source, purposes)
    tops = [c.name for c in colls.values() if c.identities and not any(
        isinstance(r, str) or not r.get("shared") for r in c.references.values())]
    if tops:
        log.notes.append("rows of " + ", ".join(tops) + " are found by identity and belong to no other row: "
                         "if their rows ARE people, add subject: <type> (e.g. customer, employee)")
    return {"datasets": datasets, "notes": _sorted_notes(log.notes, list(colls.values())), "imported_from": log.file}


def _sorted_notes(notes: list[str], colls: list[Collection]) -> list[str]:
    """Notes grouped by dataset, in file order (notes about a whole Fides dataset first, general ones last)."""
    rank: dict[str, float] = {}
    for i, c in enumerate(colls):
        rank.setdefault(c.key, i - 0.5)
        rank[c.name] = i

    def key(note: str) -> float:
        hits = [n for n in rank if note.startswith(n + ":") or note.startswith(n + " ")]
        return rank[max(hits, key=len)] if hits else len(colls)

    return sorted(notes, key=key)


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
