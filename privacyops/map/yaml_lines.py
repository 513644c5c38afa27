"""YAML with line numbers: the parsed data plus where each key and item was written, and the keys written twice.

Both the data map and the Fides import report problems by line, and PyYAML's plain loader forgets lines and keeps
the last of two equal keys without a word; composing the node tree first keeps both facts.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import DataMapError, MapProblem

# libyaml's loader when PyYAML has it (same nodes, marks and data; ten times faster: a map loads on every command)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KeyPath = tuple  # keys and list indexes from the document's root: ("datasets", "shop.orders", "fields", "email")


def compose(text: str, file: str | None) -> tuple[Any, dict[KeyPath, int], list[tuple[KeyPath, int]]]:
    """Parse YAML text into (data, lines, duplicates).

    `data` is what `yaml.safe_load` gives; `lines` maps each key path to its 1-based line (the root's path is (),
    so `lines` is empty only for an empty document, whose `data` is None); `duplicates` holds (key path, line)
    for every repeated occurrence of a key, in file order. Text that is not YAML raises DataMapError naming
    `file` and the parser's line.
    """
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(exc, "problem", None) or str(exc)
        raise DataMapError([MapProblem("", f"not valid YAML: {what}", line, file)]) from None
    if node is None:
        return None, {}, []
    lines: dict[KeyPath, int] = {}
    duplicates: list[tuple[KeyPath, int]] = []
    _walk(node, (), lines, duplicates)
    return yaml.load(text, Loader=_LOADER), lines, duplicates


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], duplicates: list[tuple[KeyPath, int]]) -> None:
    """Record the lines under `node` and the keys repeated in its mappings."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            if key in seen:
                duplicates.append((path + (key,), k.start_mark.line + 1))
            seen.add(key)
            # A repeated key's line is its last occurrence's, like the value safe_load keeps.
            lines[path + (key,)] = k.start_mark.line + 1
            _walk(v, path + (key,), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), lines, duplicates)
