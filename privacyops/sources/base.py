"""The connector interface and the SQL every connector shares.

Values always travel as query parameters. Table and column names come only from the validated data map and are
quoted with `quote()`; the few expressions that differ between stores (normalising an e-mail or a phone number,
name similarity) are methods a connector may override.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import SourceError
from ..map import Dataset, Source
from ..values import ascii_int
from .constraints import StoreConstraints
from .queries import LookupQueries
from .types import PHONE_SEPARATORS, Rows, type_family
from .writes import StoreWrites


class Connector(LookupQueries, StoreWrites, StoreConstraints, ABC):
    """One open store. Subclasses implement `execute`, `relation` and `describe`; a store that declares foreign
    keys, column constraints or triggers overrides the readers of `StoreConstraints`."""

    param = "?"  # the driver's placeholder

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        self.source = source
        self.root = root
        self.read_only = read_only
        self._columns: dict[str, dict[str, str]] = {}

    def database_file(self) -> Path:
        """The source's database file (relative paths: to the workspace folder); a clear error when missing."""
        path = Path(self.source.path)
        path = path if path.is_absolute() else self.root / path
        if not path.is_file():
            raise SourceError(f"source '{self.source.name}': database file {path} not found; check "
                              f"sources.{self.source.name}.path in the map (relative to the workspace folder)")
        return path

    # -- what each store provides -------------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one parameterised statement and return its rows."""

    @abstractmethod
    def relation(self, dataset: Dataset) -> str:
        """The quoted FROM target of a dataset."""

    @abstractmethod
    def describe(self, dataset: Dataset) -> dict[str, str]:
        """Live columns of a dataset: name -> store type. Raises SourceError when the table is missing."""

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- dialect hooks ------------------------------------------------------------------------------------------
    @staticmethod
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def email_expr(self, col: str) -> str:
        return f"lower(trim({col}))"

    def phone_key_expr(self, col: str) -> str:
        """A phone number's digits, reversed: "the last k digits match" becomes a prefix, i.e. a range an index
        answers. (Plain replace() calls, not a regexp: DuckDB uses expression indexes only for such forms.)"""
        expr = col
        for sep in PHONE_SEPARATORS:
            expr = f"replace({expr}, '{sep}', '')"
        return f"reverse({expr})"

    def digits_expr(self, col: str) -> str:
        return f"regexp_replace({col}, '[^0-9]', '', 'g')"

    def name_expr(self, col: str) -> str:
        return f"lower(strip_accents({col}))"

    def similarity_expr(self, a: str, b: str) -> str:
        return f"jaro_winkler_similarity({a}, {b})"

    def contains_expr(self, haystack: str, needle: str) -> str:
        return f"contains({haystack}, {needle})"

    def lower_expr(self, text: str) -> str:
        """Unicode lowercase (the exact-spelling tie-break of name similarity)."""
        return f"lower({text})"

    # -- lookup indexes (`privacyops index`) --------------------------------------------------------------------
    def can_index(self, kind: str) -> bool:
        """Whether an index may serve identity kind (or "ref"/"key") lookups in this store."""
        return True

    def create_index(self, dataset: Dataset, name: str, expr: str) -> None:
        self.execute(f"CREATE INDEX {self.quote(name)} ON {self.relation(dataset)} (({expr}))")

    def drop_index(self, dataset: Dataset, name: str) -> None:
        schema = dataset.table.split(".")[0] if "." in dataset.table else None
        qualified = f"{self.quote(schema)}.{self.quote(name)}" if schema else self.quote(name)
        self.execute(f"DROP INDEX IF EXISTS {qualified}")

    # -- what lookup needs of every store --------------------------------------------------------------------
    def columns(self, dataset: Dataset) -> dict[str, str]:
        if dataset.name not in self._columns:
            self._columns[dataset.name] = self.describe(dataset)
        return self._columns[dataset.name]

    def _placeholders(self, n: int) -> str:
        return ", ".join([self.param] * n)

    def coerce(self, dataset: Dataset, column: str, values: Iterable[Any]) -> list[Any]:
        """Values converted to the column's type; values that cannot be of that type are dropped."""
        family = type_family(self.columns(dataset).get(column, ""))
        out = []
        for v in values:
            if v is None:
                continue
            if family == "integer":
                n = ascii_int(v)  # ASCII digits only: int() would read '1_0' as 10 and '١' as 1
                if n is not None:
                    out.append(n)
            elif family == "text":
                out.append(str(v))
            else:
                out.append(v)
        return list(dict.fromkeys(out))

    def index_names(self, dataset: Dataset) -> set[str]:
        """Names of the indexes on a dataset's table (stores without indexes: none)."""
        return set()

    def count(self, dataset: Dataset) -> int:
        return int(self.execute(f"SELECT count(*) FROM {self.relation(dataset)}").rows[0][0])
