"""Name similarity in Python, scored exactly as DuckDB scores it in SQL (`Connector.name_candidates`).

Stores without a Jaro-Winkler function (PostgreSQL without extensions) narrow the rows with a cheap SQL pre-filter
and rank them here; SQLite calls these functions from SQL. The functions mirror DuckDB's, so a name query ranks the
same people in the same order whatever the store:

- `strip_accents`: canonical decomposition, marks (Unicode category M) dropped, recomposed (DuckDB's strip_accents);
- `lower`: per-character simple lowercase (DuckDB's lower; Python's str.lower differs for "İ" only);
- `jaro_winkler`: DuckDB's jaro_winkler_similarity (the rapidfuzz algorithm) over UTF-8 bytes, prefix weight 0.1,
  at most 4 prefix characters, the prefix bonus only above a Jaro similarity of 0.7;
- `name_key`: a name's exact-match key (folded, words sorted): equal keys are an exact full-name match;
- `NameScorer` / `name_score`: the score of base.Connector.name_matches; `rank` / `ranked_matches`: the rows a name
  query returns by it (every exact match, then the best others up to a limit, ties at the cut kept) and how many
  rows matched in all;
- `prefilter_pattern`: a regular expression that narrows a scan to the rows worth scoring.

The score, in [0, 1]: an exact folded match (accents, case and word order ignored, several name columns joined)
scores `EXACT` + 0.03 x the spelling tie-break, so at least EXACT; every other row scores 0.97 x its similarity
(compressed above 0.9, see `compress`) + 0.03 x the tie-break, always below EXACT. So exact matches come first on
every store, and "how many exact matches" is "how many scores >= EXACT".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Iterable, Sequence

__all__ = ["EXACT", "NameScorer", "compress", "fold", "jaro", "jaro_winkler", "lower", "name_key", "name_score",
           "prefilter_pattern", "query_tokens", "rank", "ranked_matches", "sorted_words", "strip_accents"]

# Every exact folded match scores at least EXACT and every other row less (see the module docstring).
EXACT = 0.97
# Non-exact similarities above KNEE are squeezed by SLOPE: 0.97 x (0.9 + 0.1 x 0.69) + 0.03 = 0.96993 < EXACT even
# for a perfect similarity and tie-break, while every score up to 0.873 (default threshold 0.82) stays as it was.
KNEE, SLOPE = 0.9, 0.69

_SIMPLE_LOWER = {"\u0130": "i"}  # the one character whose full lowercase mapping is not a single character


def strip_accents(text: str) -> str:
    """Accents and other marks removed ("Bērziņš" -> "Berzins"); letters without a decomposition ("ł", "ø")
    stay as they are."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed
                                                if not unicodedata.category(ch).startswith("M")))


def lower(text: str) -> str:
    """Lowercase, one character for one character (as DuckDB's lower)."""
    if text.isascii():
        return text.lower()
    out = []
    for ch in text:
        low = ch.lower()
        out.append(low if len(low) == 1 else _SIMPLE_LOWER.get(ch, ch))
    return "".join(out)


def fold(text: str) -> str:
    """Accent- and case-blind form of a name: DuckDB's lower(strip_accents(text))."""
    return lower(strip_accents(text))


def sorted_words(text: str) -> str:
    """Words in sorted order, split on spaces and joined with one; empty words (repeated, leading or trailing
    spaces) dropped, so spacing never decides a match. DuckDB: list_sort(list_filter(string_split(...)))."""
    return " ".join(sorted(w for w in text.split(" ") if w))


def name_key(text: str) -> str:
    """The exact-match key of a name: folded, words sorted ("Bērziņš  Jānis" -> "berzins janis"). Two names are
    an exact full-name match when their keys are equal and not empty."""
    return sorted_words(fold(text))


def compress(similarity: float) -> float:
    """A non-exact row's similarity with the top (above KNEE) squeezed so its score stays below EXACT; monotonic,
    so the order of non-exact rows is kept. Written as the SQL computes it, for the same floating-point result."""
    return similarity if similarity <= KNEE else KNEE + (similarity - KNEE) * SLOPE


def jaro(a: str | bytes, b: str | bytes) -> float:
    """Jaro similarity over UTF-8 bytes, as DuckDB's jaro_similarity."""
    p = a.encode("utf-8") if isinstance(a, str) else a
    t = b.encode("utf-8") if isinstance(b, str) else b
    p_len, t_len = len(p), len(t)
    if not p_len or not t_len:
        return 0.0
    if p_len == 1 and t_len == 1:
        return float(p[0] == t[0])
    bound = max(p_len, t_len) // 2 - 1
    # Bytes out of every window's reach never match. Each byte of T takes the first free equal byte of P within
    # its window; a taken byte of P is overwritten with 0xFF, a byte UTF-8 never contains.
    free = bytearray(p[:t_len + bound])
    n = len(free)
    t_matched = bytearray()
    for j, ch in enumerate(t[:p_len + bound]):
        i = free.find(ch, j - bound if j > bound else 0, j + bound + 1)
        if i >= 0:
            free[i] = 0xFF
            t_matched.append(ch)
    common = len(t_matched)
    if not common:
        return 0.0
    p_matched = [p[i] for i in range(n) if free[i] == 0xFF]
    transpositions = sum(x != y for x, y in zip(p_matched, t_matched)) // 2
    return (common / p_len + common / t_len + (common - transpositions) / common) / 3.0


def jaro_winkler(a: str | None, b: str | None) -> float | None:
    """Jaro-Winkler similarity (0..1) as DuckDB's jaro_winkler_similarity; None when either side is None."""
    if a is None or b is None:
        return None
    if a == b:
        return 1.0 if a else 0.0
    p, t = a.encode("utf-8"), b.encode("utf-8")
    prefix = 0
    for x, y in zip(p[:4], t[:4]):
        if x != y:
            break
        prefix += 1
    sim = jaro(p, t)
    if sim > 0.7:
        sim += prefix * 0.1 * (1.0 - sim)
    return sim


class NameScorer:
    """Scores rows against one name query: base.Connector.name_matches's SQL score, computed in Python.

    Called with a row's name columns in map order. Several columns are scored joined and one by one; each form
    scores the best of: Jaro-Winkler of the folded forms, 0.9 when the folded name contains the folded query,
    Jaro-Winkler of the folded forms with their words sorted. The exact spelling (lowercase only) adds a 3 %
    tie-break. The joined form's key equal to the query's is an exact match: EXACT plus the tie-break; any other
    row scores below EXACT (module docstring). None when every column is NULL (SQL leaves such rows out).
    """

    def __init__(self, query: str):
        self.query = query
        self.qn = fold(query)
        self.qn_sorted = sorted_words(self.qn)
        self.q_lower = lower(query)

    def __call__(self, values: Sequence[str | None]) -> float | None:
        if all(v is None for v in values):
            return None
        forms: list[str | None] = [None if v is None else str(v) for v in values]
        if len(forms) > 1:
            forms = [" ".join(v for v in forms if v is not None), *forms]
        qn, best = self.qn, 0.0
        for form in forms:
            if form is None:
                continue  # NULL in SQL: greatest() ignores it
            norm = fold(form)
            best = max(best, jaro_winkler(norm, qn), 0.9 if qn in norm else 0.0,
                       jaro_winkler(sorted_words(norm), self.qn_sorted))
        spelling = jaro_winkler(lower(forms[0]), self.q_lower)
        if self.qn_sorted and sorted_words(fold(forms[0])) == self.qn_sorted:
            return EXACT + 0.03 * spelling
        return 0.97 * compress(best) + 0.03 * spelling


def name_score(values: Sequence[str | None], query: str) -> float | None:
    """The score base.Connector.name_matches computes in SQL for one row (see NameScorer)."""
    return NameScorer(query)(values)


@functools.cache
def _variants() -> dict[str, str]:
    """folded character -> every character (of the Basic Multilingual Plane) that folds to it, itself included."""
    groups: dict[str, set[str]] = {}
    for code in range(0x80, 0x3000):  # Latin, Greek, Cyrillic, ... : the scripts with accents and case
        ch = chr(code)
        if unicodedata.category(ch) not in ("Lu", "Ll", "Lt"):
            continue
        f = fold(ch)
        if len(f) == 1 and f != ch:
            groups.setdefault(f, {f}).add(ch)
    for c in "abcdefghijklmnopqrstuvwxyz":
        groups.setdefault(c, {c}).add(c.upper())
    return {f: "".join(sorted(chs)) for f, chs in groups.items()}


def _char_class(ch: str, encodable=lambda c: True) -> str:
    chars = [c for c in _variants().get(ch, ch) if encodable(c)] or [ch]
    if len(chars) == 1:
        return re.escape(chars[0]) if not chars[0].isalnum() else chars[0]
    return "[" + "".join(chars) + "]"


def query_tokens(query: str) -> list[str]:
    """The folded words of a name query (letters and digits), in order."""
    return [t for t in re.split(r"[\W_]+", fold(query)) if t]


def prefilter_pattern(query: str, encodable=lambda ch: True) -> str | None:
    """A regular expression (PostgreSQL ARE and Python alike) that the names similar to `query` match, to narrow
    a scan before `NameScorer` decides. None: no usable word in the query, score every row.

    A name passes when a word of it begins with the letter the query (or its words sorted) begins with - Jaro-
    Winkler's bonus for a common beginning - or when it holds three consecutive letters of a query word (two for
    a two-letter word). Each letter stands for all its accented and upper-case forms. In our tests every name
    scoring 0.9 or more passes, and nearly all above the default threshold; what a pre-filter loses are loose
    resemblances far down the candidate list.
    """
    tokens = query_tokens(query)
    words = [w for w in fold(query).split(" ") if w]
    initials = {w[0] for w in (words[:1] + sorted(words)[:1]) if w[0].isalnum()}
    grams = {t[i:i + 3] for t in tokens if len(t) >= 3 for i in range(len(t) - 2)}
    grams |= {t for t in tokens if len(t) == 2}
    if not initials and not grams:
        return None
    cls = functools.partial(_char_class, encodable=encodable)
    alternatives = [f"(^| ){cls(ch)}" for ch in sorted(initials)]
    alternatives += ["".join(cls(ch) for ch in g) for g in sorted(grams)]
    return "|".join(alternatives)


def ranked_matches(rows: Iterable[tuple], name_indexes: Sequence[int], query: str, threshold: float,
                   limit: int) -> tuple[list[tuple[float, tuple]], int]:
    """The rows a name query returns, as (score, row) best first, and how many rows scored at least `threshold`.

    Returned: every exact match (score >= EXACT), however many, then the non-exact rows with fewer than `limit`
    non-exact rows scoring strictly better - so rows tied at the cut all come back (namesakes score alike: cutting
    between them would pick people at random). The same rule as the SQL's rank() in base.Connector.name_matches.
    """
    scored = []
    score_of = NameScorer(query)
    for row in rows:
        score = score_of([row[i] for i in name_indexes])
        if score is not None and score >= threshold:
            scored.append((score, row))
    scored.sort(key=lambda sr: -sr[0])
    kept, better, previous = [], 0, None
    for n, (score, row) in enumerate(s for s in scored if s[0] < EXACT):
        if score != previous:
            better, previous = n, score
        if better >= limit:
            break
        kept.append((score, row))
    return [s for s in scored if s[0] >= EXACT] + kept, len(scored)


def rank(rows: Iterable[tuple], name_indexes: Sequence[int], query: str, threshold: float,
         limit: int) -> list[tuple[float, tuple]]:
    """(score, row) of the rows a name query returns, best first (see `ranked_matches`)."""
    return ranked_matches(rows, name_indexes, query, threshold, limit)[0]
