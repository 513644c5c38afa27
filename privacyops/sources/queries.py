"""The SQL lookup asks every store (a connector mixin): rows by key, by identity, by name, by mention.

Values always travel as query parameters; table and column names come only from the validated data map and are
quoted with `quote()`. The expressions that differ between stores are the connector's dialect hooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..map import Dataset, Settings
from . import names
from .types import CHUNK, PHONE_GAP, SCORE, Rows, digits_of, index_name, type_family

# Helper columns of the name SQL, dropped before rows leave the connector.
_BEST, _SPELLING, _EXACT = "_privacyops_best", "_privacyops_spelling", "_privacyops_exact"
_TOTAL, _RANK = "_privacyops_total", "_privacyops_rank"
_HELPERS = (_BEST, _SPELLING, _EXACT, _TOTAL, _RANK, SCORE)


@dataclass
class NameMatches:
    """A name query's answer from one dataset: `rows` (best first, the score column SCORE last) and `total`, how
    many rows scored at least the threshold, of which `rows` are every exact match and the best others."""

    rows: Rows
    total: int

    @property
    def exact(self) -> int:
        """How many exact folded matches (all of them are in `rows`)."""
        return sum(1 for r in self.rows.rows if r[-1] >= names.EXACT)


def _without_helpers(got: Rows) -> Rows:
    """The table's columns, then the score: the helper columns of the name SQL dropped."""
    keep = [i for i, c in enumerate(got.columns) if c not in _HELPERS]
    score = got.columns.index(SCORE)
    return Rows([got.columns[i] for i in keep] + [SCORE], [tuple(r[i] for i in keep) + (r[score],) for r in got.rows])


class NameQueries:
    """Name search (a mixin of LookupQueries): the SQL stores score names in one statement; PostgreSQL overrides
    `name_matches` (a pre-filter, then names.ranked_matches in Python)."""

    def name_matches(self, dataset: Dataset, columns: Sequence[str], query: str, threshold: float,
                     limit: int = 20) -> NameMatches:
        """A name query's answer: the rows it returns, best first, and how many rows matched in all.

        Returned: every exact folded match (accents, case and word order ignored, the name columns joined), however
        many, then the best non-exact rows up to `limit`, rows tied at the cut all kept (namesakes score alike).
        `total` counts every row scoring at least `threshold`. One set-based statement; the score is
        `_name_scored_sql`'s, and names.ranked_matches computes the same in Python.
        """
        scored, params = self._name_scored_sql(dataset, columns, query)
        keep = max(int(limit), 1)  # at least the best row, so `total` travels even when no exact row matches
        sql = (f"SELECT *, count(*) OVER () AS {_TOTAL}, rank() OVER (PARTITION BY {SCORE} >= {names.EXACT} "
               f"ORDER BY {SCORE} DESC) AS {_RANK} FROM ({scored}) s WHERE {SCORE} >= {self.param}")
        order = ", ".join([f"{SCORE} DESC", *(self.quote(k) for k in dataset.primary_key)])  # ties: by key
        got = self.execute(f"SELECT * FROM ({sql}) m WHERE {SCORE} >= {names.EXACT} OR {_RANK} <= {keep} "
                           f"ORDER BY {order}", [*params, threshold])
        total = int(got.rows[0][got.columns.index(_TOTAL)]) if got.rows else 0
        rows = _without_helpers(got)
        if limit < 1:
            rows.rows = [r for r in rows.rows if r[-1] >= names.EXACT]
        return NameMatches(rows, total)

    def name_candidates(self, dataset: Dataset, columns: Sequence[str], query: str, threshold: float,
                        limit: int = 20) -> Rows:
        """The rows `name_matches` returns (with the score column last), without the total."""
        return self.name_matches(dataset, columns, query, threshold, limit).rows

    def name_match_count(self, dataset: Dataset, columns: Sequence[str], query: str, threshold: float) -> int:
        """How many rows of `dataset` score at least `threshold` against `query` (`name_matches(...).total`)."""
        return self.name_matches(dataset, columns, query, threshold, limit=0).total

    def _name_scored_sql(self, dataset: Dataset, columns: Sequence[str], query: str) -> tuple[str, list[Any]]:
        """SELECT every row with a name, plus its score against `query` (as names.NameScorer): the one place the
        SQL stores define the score.

        Several name columns are scored joined and one by one, and in any word order ("Berzins Janis").
        Accent- and case-blind similarity decides; the exact spelling breaks ties, so "Jānis Bērziņš" ranks the
        person spelled that way first and the ASCII variant right after. The joined name's folded words equal to
        the query's (sorted) is an exact match, scoring at least names.EXACT; all other rows score below it.
        """
        cols = [self.quote(c) for c in columns]
        exprs = cols if len(cols) == 1 else [f"concat_ws(' ', {', '.join(cols)})", *cols]
        p, qn = self.param, self.name_expr(self.param)
        parts, params = [], []
        for e in exprs:
            norm = self.name_expr(e)
            parts.append(f"{self.similarity_expr(norm, qn)}")
            parts.append(f"CASE WHEN {self.contains_expr(norm, qn)} THEN 0.9 ELSE 0 END")
            parts.append(f"{self.similarity_expr(self.sorted_words_expr(norm), self.sorted_words_expr(qn))}")
            params += [query, query, query]
        full = exprs[0]
        q_key = self.sorted_words_expr(qn)
        inner = (f"SELECT *, greatest({', '.join(parts)}) AS {_BEST}, "
                 f"{self.similarity_expr(self.lower_expr(full), self.lower_expr(p))} AS {_SPELLING}, "
                 f"({self.sorted_words_expr(self.name_expr(full))} = {q_key} AND {q_key} <> '') AS {_EXACT} "
                 f"FROM {self.relation(dataset)} WHERE {' OR '.join(f'{c} IS NOT NULL' for c in cols)}")
        params += [query, query, query]
        similarity = (f"CASE WHEN {_BEST} <= {names.KNEE} THEN {_BEST} "  # names.compress
                      f"ELSE {names.KNEE} + ({_BEST} - {names.KNEE}) * {names.SLOPE} END")
        score = (f"CASE WHEN {_EXACT} THEN {names.EXACT} + 0.03 * {_SPELLING} "
                 f"ELSE 0.97 * ({similarity}) + 0.03 * {_SPELLING} END")
        return f"SELECT *, {score} AS {SCORE} FROM ({inner}) i", params

    def sorted_words_expr(self, text: str) -> str:
        return f"array_to_string(list_sort(list_filter(string_split({text}, ' '), lambda w: w <> '')), ' ')"


class LookupQueries(NameQueries):
    """Reads for lookup, over a connector's `execute`, `relation`, `columns`, `coerce` and dialect hooks."""

    # -- operations used by lookup ------------------------------------------------------------------------------
    def select_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> Rows:
        """Rows whose `column` holds one of `values` (chunked IN lists)."""
        vals = self.coerce(dataset, column, values)
        result = Rows(list(self.columns(dataset)), [])
        for i in range(0, len(vals), CHUNK):
            part = vals[i:i + CHUNK]
            sql = (f"SELECT * FROM {self.relation(dataset)} WHERE {self.quote(column)} "
                   f"IN ({self._placeholders(len(part))})")
            got = self.execute(sql, part)
            result.columns = got.columns
            result.rows.extend(got.rows)
        return result

    def _dedupe(self, dataset: Dataset, rows: Rows) -> Rows:
        seen, out = set(), []
        pk = [rows.columns.index(c) for c in dataset.primary_key if c in rows.columns]
        for r in rows.rows:
            k = tuple(r[i] for i in pk) if pk else r
            if k not in seen:
                seen.add(k)
                out.append(r)
        return Rows(rows.columns, out)

    def select_identity(self, dataset: Dataset, kind: str, columns: Sequence[str], values: Sequence[str],
                        settings: Settings) -> Rows:
        """Rows whose identity columns of `kind` match one of `values` (normalised for e-mail and phone).

        Where `privacyops index` made an index on the normalising expression, one `expression = ?` per value
        uses it; otherwise a cheap pre-filter narrows the scan before the exact comparison.
        """
        indexes = self.index_names(dataset)
        result = Rows(list(self.columns(dataset)), [])
        rel, p = self.relation(dataset), self.param

        def run(where: str, params: list[Any], keep=None) -> None:
            got = self.execute(f"SELECT * FROM {rel} WHERE {where}", params)
            result.columns = got.columns
            result.rows.extend(r for r in got.rows if keep is None or keep(dict(zip(got.columns, r))))

        for col in columns:
            q = self.quote(col)
            has_index = index_name(dataset, kind, col) in indexes
            if kind == "email":
                emails = sorted({v.strip().lower() for v in values if v and v.strip()})
                if not emails:
                    continue
                if has_index:
                    for e in emails:
                        run(f"{self.email_expr(q)} = {p}", [e])
                else:
                    where = " OR ".join(self.contains_expr(f"lower({q})", p) for _ in emails)
                    run(where, emails, keep=lambda row, c=col, es=set(emails):
                        row[c] is not None and str(row[c]).strip(" ").lower() in es)
            elif kind == "phone":
                key = self.phone_key_expr(q)
                for v in values:
                    digits = digits_of(v)
                    k = min(settings.phone_match_digits, len(digits))
                    if k < 6:
                        continue
                    tail = digits[-k:]
                    # reversed digits starting with the reversed tail: a range (":" sorts right after "9")
                    where, params = f"{key} >= {p} AND {key} < {p}", [tail[::-1], tail[::-1] + ":"]
                    if not has_index:  # the last two digits are almost never split by formatting: cheap pre-filter
                        where, params = f"{self.contains_expr(q, p)} AND {where}", [tail[-2:], *params]
                    run(where, params, keep=lambda row, c=col, t=tail:
                        row[c] is not None and digits_of(str(row[c])).endswith(t))
            else:
                family = type_family(self.columns(dataset).get(col, ""))
                vals = self.coerce(dataset, col, [v.strip() for v in values])
                if not vals:
                    continue
                target = q if family in ("integer", "text") else f"CAST({q} AS VARCHAR)"
                run(f"{target} IN ({self._placeholders(len(vals))})",
                    vals if family in ("integer", "text") else [str(v) for v in vals])
        return self._dedupe(dataset, result)

    def select_mentions(self, dataset: Dataset, fields: Sequence[str], emails: Sequence[str],
                        phones: Sequence[str], limit: int = 500,
                        within: tuple[str, Sequence[Any]] | None = None) -> Rows:
        """Rows whose free-text fields mention one of the e-mails (any case) or phone numbers (digits, with any
        separators between them). One scan per dataset; cheap pre-filters ("@", the last two digits) keep the
        regular expressions off most rows. `within` (column, values) checks only those rows (the candidates the
        lookup index found) with the very same conditions."""
        conds, params = [], []
        email_re = "(?i)" + "|".join(re.escape(e) for e in emails) if emails else None
        for f in fields:
            q = self.quote(f)
            if email_re:
                conds.append(f"({self.contains_expr(q, self.param)} AND {self.regex_expr(q, self.param)})")
                params += ["@", email_re]
            for ph in phones:
                conds.append(f"({self.contains_expr(q, self.param)} AND {self.regex_expr(q, self.param)})")
                params += [ph[-2:], PHONE_GAP.join(ph)]
        if not conds:
            return Rows(list(self.columns(dataset)), [])
        rel = self.relation(dataset)
        if within is not None:
            vals = self.coerce(dataset, within[0], within[1])
            if not vals:
                return Rows(list(self.columns(dataset)), [])
            # OFFSET 0 keeps the text conditions out of the key lookup: alone, `key IN (...)` is an index probe
            rel = (f"(SELECT * FROM {rel} WHERE {self.quote(within[0])} IN ({self._placeholders(len(vals))}) "
                   f"OFFSET 0) w")
            params = [*vals, *params]
        sql = f"SELECT * FROM {rel} WHERE {' OR '.join(conds)} LIMIT {int(limit)}"
        return self.execute(sql, params)

    def regex_expr(self, col: str, pattern: str) -> str:
        return f"regexp_matches({col}, {pattern})"
