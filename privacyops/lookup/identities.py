"""The lookup index's answers for identities (`Reader.identity_rows` with an index that answers for the dataset): the
entries a step asks for in one probe, and the rows they lead to read by primary key."""

from __future__ import annotations

from typing import Any, Iterable

from ..map import EMAIL, PHONE, Dataset
from ..sources import digits_of
from ..workspace.lookup_index import LookupIndex

Row = dict[str, Any]


class IdentityProbes:
    """Part of `Reader` (reader.py), which has the workspace's connectors (`con`, `indexed`, `fetch_keys`,
    `prefetch`, `norm`) and keeps the index's identity entries for one lookup (`_hits`: by (kind, probe))."""

    index: Any
    dm: Any
    _hits: dict[tuple, list]
    _identity_memo: dict[tuple, list[Row]]
    # The mention probe a later step will make (e-mails, phone needles: `mentions.mention_probe`), asked with the
    # next identity probe; and the answers so got.
    mention_ask: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    _mention_answers: dict[tuple, dict[str, set[tuple]]]

    def mention_hits(self, emails: list[str], needles: list[str]) -> dict[str, set[tuple]]:
        """`LookupIndex.mention_hits`, answered by the identity probe that asked it ahead when one did."""
        got = getattr(self, "_mention_answers", {}).pop((tuple(emails), tuple(needles)), None)
        return got if got is not None else self.index.mention_hits(emails, needles)

    def prime_identities(self, asks: Iterable[tuple[Dataset, str, tuple[str, ...], Iterable[str]]]) -> None:
        """Ahead of a step that asks `identity_rows` for each (dataset, kind, columns, values) of `asks`: the lookup
        index's entries for all of them in one probe (instead of one per kind), and the rows they lead to read ahead
        (`prefetch`). The step then asks as before and gets the same answers, from these."""
        if not isinstance(self.index, LookupIndex):  # none, or lookup_many's (which batches probes of many lookups)
            return
        todo_of = []
        for ds, kind, columns, values in asks:
            memo = (ds.name, kind, columns)
            todo = [v for v in self._identity_values(kind, values) if memo + (v,) not in self._identity_memo]
            if todo and self.indexed(ds):
                todo_of.append((ds, kind, columns, todo))
        probes = list(dict.fromkeys(m for m in (self._probe(ds, kind, columns, todo)[1]
                                                for ds, kind, columns, todo in todo_of) if m not in self._hits))
        ask, self.mention_ask = self.mention_ask, None
        if probes:
            got, mentioned = self.index.identity_hits_many(probes, self.dm.settings.phone_match_digits, ask)
            self._hits.update(zip(probes, got))
            if mentioned is not None:
                self.__dict__.setdefault("_mention_answers", {})[ask] = mentioned
        keys = [(ds, self._identity_keys(ds, kind, columns, todo)) for ds, kind, columns, todo in todo_of]
        self.prefetch([(ds, ds.primary_key[0], [k[0] for k in ks]) for ds, ks in keys if ks])

    def _identity_values(self, kind: str, values: Iterable[str]) -> list[str]:
        return sorted({self.norm(kind, v) if kind in (EMAIL, PHONE) else v.strip() for v in values})

    def _probe(self, ds: Dataset, kind: str, columns: tuple[str, ...],
               values: list[str]) -> tuple[dict[str, set[str]], tuple[str, tuple[str, ...]]]:
        """The values each column compares (ids only) and the index probe (kind, values) for them."""
        wanted: dict[str, set[str]] = {}
        if kind not in (EMAIL, PHONE):  # ids compare as the column's type: "007" finds 7 in an integer column
            con = self.con(ds)
            for c in columns:
                wanted[c] = {str(v) for v in con.coerce(ds, c, [v.strip() for v in values])}
            probe = sorted(set().union(*wanted.values())) if wanted else []
        else:
            probe = sorted(values)
        return wanted, (kind, tuple(probe))

    def _identity_keys(self, ds: Dataset, kind: str, columns: tuple[str, ...],
                       values: list[str]) -> dict[tuple, set[tuple[str, str]]]:
        """The keys of the rows of `ds` the index has for the values, with the (column, indexed value) matched."""
        wanted, memo = self._probe(ds, kind, columns, values)
        if memo not in self._hits:
            self._hits[memo] = self.index.identity_hits(kind, memo[1], self.dm.settings.phone_match_digits)
        keys: dict[tuple, set[tuple[str, str]]] = {}
        for value, name, col, key in self._hits[memo]:
            if name != ds.name or col not in columns or (wanted and value not in wanted.get(col, ())):
                continue
            keys.setdefault(key, set()).add((col, value))
        return keys

    def _indexed_identity(self, ds: Dataset, kind: str, columns: tuple[str, ...], values: list[str]) -> list[Row]:
        """`select_identity`'s answer from the lookup index: the same comparisons, on the values the index holds
        (the same expressions), then the rows read by primary key."""
        keys = self._identity_keys(ds, kind, columns, values)
        if not keys:
            return []
        tails = []
        if kind == PHONE:
            n = self.dm.settings.phone_match_digits
            tails = [d[-min(n, len(d)):] for d in (digits_of(v) for v in values) if min(n, len(d)) >= 6]
        rows = self.fetch_keys(ds, list(keys))
        return rows if kind != PHONE else [r for r in rows if _phone_match(ds, r, keys, tails)]


def _phone_match(ds: Dataset, row: Row, keys: dict[tuple, set[tuple[str, str]]], tails: list[str]) -> bool:
    """The scan's range on the reversed digits, then its exact check."""
    for col, value in keys.get(tuple(str(row[c]) for c in ds.primary_key), ()):
        for t in tails:
            if t[::-1] <= value < t[::-1] + ":" and row.get(col) is not None and digits_of(str(row[col])).endswith(t):
                return True
    return False
