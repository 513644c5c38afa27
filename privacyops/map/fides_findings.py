"""What the Fides import finds on its way: problems (each with its path in the file and its line) and notes.

Problems stop the import (all of them are listed at once); notes are remarks for the analyst that go into the
fragment's header, never into the map.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from ..errors import DataMapError, MapProblem
from .yaml_lines import compose

META_KEYS = ("fides_meta", "fidesops_meta")  # fidesops_meta: the older name fideslang still accepts

FPath = tuple  # a path inside the Fides file: ("dataset", 0, "collections", 2, "fields", 1, ...)


class Findings:
    """The problems and notes of one import, and the lines of the Fides file they point at."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[tuple, int] = {}
        self.problems: list[MapProblem] = []
        self.notes: list[str] = []
        self.reported: set[tuple[str, str]] = set()

    def add(self, path: FPath, message: str, line: int | None = None) -> None:
        """Record a problem once, on `line` or else on the line of `path`'s nearest ancestor that has one."""
        where = fmt_path(path)
        if (where, message) in self.reported:
            return
        self.reported.add((where, message))
        if line is None:
            for i in range(len(path), -1, -1):  # the nearest ancestor that has a line
                line = self.lines.get(tuple(path[:i]))
                if line:
                    break
        self.problems.append(MapProblem(where, message, line, self.file))

    def fail_if_problems(self) -> None:
        """Raise DataMapError listing every problem recorded so far, if there is one."""
        if self.problems:
            raise DataMapError(self.problems)

    def compose(self, text: str) -> Any:
        """The Fides file's data (None when empty); its lines kept for the problems, keys written twice reported."""
        data, self.lines, duplicates = compose(text, self.file)
        for path, line in duplicates:
            # The line of the occurrence found repeated: a third one of the same key adds no second problem.
            self.add(path, "this key appears twice; keep one", line)
        return data


def fmt_path(path: FPath) -> str:
    """A path as the problems show it: `dataset[0].collections[2].fields[1]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def close_match(word: str, options: Iterable, cutoff: float = 0.6) -> str | None:
    """The option closest to a misspelt word, or None when none is close enough."""
    got = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=cutoff)
    return got[0] if got else None


def hint(word: str, options: Iterable) -> str:
    """` (did you mean 'x'?)` for the closest option, or ""."""
    close = close_match(word, options)
    return f" (did you mean '{close}'?)" if close else ""


def meta_of(node: dict) -> tuple[str | None, dict]:
    """The field's/collection's fides_meta (or legacy fidesops_meta) and the key it sits under."""
    for key in META_KEYS:
        if isinstance(node.get(key), dict):
            return key, node[key]
    return None, {}
