"""The SQL lookup asks every store (a connector mixin): rows by key, by identity, by name, by mention.

Values always travel as query parameters; table and column names come only from the validated data map and are
quoted with `quote()`. The expressions that differ between stores are the connector's dialect hooks.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from ..map import Dataset, Settings
from .types import CHUNK, PHONE_GAP, SCORE, Rows, digits_of, index_name, type_family


class LookupQueries:
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

    def name_candidates(self, dataset: Dataset, columns: Sequence[str], query: str, threshold: float,
                        limit: int = 20) -> Rows:
        """Rows whose name resembles `query`, best first, with a similarity score column.

        Several name columns are scored one by one and joined (a name split into first/last), and in any word
        order ("Berzins Janis"). Accent- and case-blind similarity decides; the exact spelling breaks ties, so
        "Jānis Bērziņš" ranks the person spelled that way first and the ASCII variant right after.
        """
        cols = [self.quote(c) for c in columns]
        exprs = cols if len(cols) == 1 else [f"concat_ws(' ', {', '.join(cols)})", *cols]
        p = self.param
        parts, params = [], []
        for e in exprs:
            norm, qn = self.name_expr(e), self.name_expr(p)
            parts.append(f"{self.similarity_expr(norm, qn)}")
            parts.append(f"CASE WHEN {self.contains_expr(norm, qn)} THEN 0.9 ELSE 0 END")
            parts.append(f"{self.similarity_expr(self.sorted_words_expr(norm), self.sorted_words_expr(qn))}")
            params += [query, query, query]
        full = exprs[0]
        score = (f"(0.97 * greatest({', '.join(parts)}) + 0.03 * "
                 f"{self.similarity_expr(self.lower_expr(full), self.lower_expr(p))})")
        params.append(query)
        not_null = " OR ".join(f"{c} IS NOT NULL" for c in cols)
        sql = (f"SELECT * FROM (SELECT *, {score} AS {SCORE} FROM {self.relation(dataset)} "
               f"WHERE {not_null}) t WHERE {SCORE} >= {p} ORDER BY {SCORE} DESC LIMIT {int(limit)}")
        return self.execute(sql, params + [threshold])

    def sorted_words_expr(self, text: str) -> str:
        return f"array_to_string(list_sort(string_split({text}, ' ')), ' ')"

    def select_mentions(self, dataset: Dataset, fields: Sequence[str], emails: Sequence[str],
                        phones: Sequence[str], limit: int = 500) -> Rows:
        """Rows whose free-text fields mention one of the e-mails (any case) or phone numbers (digits, with any
        separators between them). One scan per dataset; cheap pre-filters ("@", the last two digits) keep the
        regular expressions off most rows."""
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
        sql = f"SELECT * FROM {self.relation(dataset)} WHERE {' OR '.join(conds)} LIMIT {int(limit)}"
        return self.execute(sql, params)

    def regex_expr(self, col: str, pattern: str) -> str:
        return f"regexp_matches({col}, {pattern})"
