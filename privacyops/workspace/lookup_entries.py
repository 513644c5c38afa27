"""What the lookup index holds and covered: the SQL of its entries (identities, mentions, name spellings), the
checks of what it covered (file stat, per-dataset checksum and map spec), and its format. Split from
`lookup_index.py`, which builds, refreshes and reads `index.duckdb` with these."""

from __future__ import annotations

import glob
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import duckdb

from ..map import EMAIL, NAME, PHONE, Dataset
from ..sources import Connector, digits_of
from ..sources.write_chain import database_stat, file_stat, written_since
from .folder import Workspace

INDEX_FILE = "index.duckdb"
INDEX_VERSION = 2  # the format of index.duckdb: an index of another format is reported stale ("rebuild it")
PHONE_KEY_DIGITS = 6  # a phone entry is keyed by its first 6 reversed digits: the fewest a phone probe compares
HASH_CHECK = "privacyops lookup index"  # hash() of this, recorded at build: the reading engine must hash alike
INDEXED_SOURCE_KINDS = ("duckdb", "parquet", "csv")  # read through DuckDB: the same SQL builds the index
# The e-mail local part before an "@" (a superset of what the mention scan matches: see `email_key`), and a phone
# number as the mention scan's PHONE_GAP allows it to be written: digits with at most two non-alphanumerics between.
LOCAL_PART_RE = r"([\pL\pN_.+-]+)@"
PHONE_RUN_RE = "[0-9](?:[^0-9A-Za-z]{0,2}[0-9])*"
_LOCAL_CHARS = set("_.+-")
# Columns of a names table beside the name columns (and of the scoring query over it).
NAME_COUNT, NAME_KEYS, NAME_ROWS = "_privacyops_n", "_privacyops_k", "_privacyops_rows"
NAME_GROUP = "_privacyops_g"  # a spelling row's number: `{names table}_keys` (k, g) says which row lists a key


def email_key(email: str) -> str | None:
    """What the mention index holds for an e-mail: its local part; None when the index cannot answer for it (then
    the scan does). An e-mail whose local part is all word characters and "._+-" is found by the mention scan only
    where the maximal run of such characters before an "@" is exactly that local part, which the index records."""
    if email.count("@") != 1:
        return None
    local = email.split("@")[0]
    if not local or not all(ch.isalnum() or ch in _LOCAL_CHARS for ch in local):
        return None
    return local


def index_path(ws: Workspace) -> Path:
    return ws.root / INDEX_FILE


# -- what the index covered --------------------------------------------------------------------------------------
def source_signature(con: Connector, datasets: Sequence[Dataset]) -> str:
    """The stat of every file behind a source's datasets: changes whenever any of their data may have."""
    kind = con.source.kind
    if kind == "duckdb":
        parts = database_stat(str(con.path))
    else:
        files = sorted({f for ds in datasets for f in glob.glob(str(Path(con.path) / ds.table))})
        parts = [file_stat(f) for f in files] + [file_stat(str(con.path))]
    return json.dumps(parts)


def dataset_spec(ws: Workspace, ds: Dataset) -> str:
    """What of the map an index of `ds` depends on: a change (a new identity column) makes it stale. Worked out
    once per dataset (every lookup asks it of every dataset; a changed map is parsed into new datasets)."""
    digits = ws.datamap.settings.phone_match_digits
    memo = ds.__dict__.setdefault("_index_spec", {})
    if digits not in memo:
        memo[digits] = _dataset_spec(ds, digits)
    return memo[digits]


def _dataset_spec(ds: Dataset, digits: int) -> str:
    spec = {"v": INDEX_VERSION, "table": ds.table, "key": list(ds.primary_key), "source": ds.source,
            "ids": {k: list(v) for k, v in sorted(ds.identities.items())},
            "text": list(ds.free_text_fields), "digits": digits}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _indexed_columns(ds: Dataset) -> list[str]:
    cols = list(ds.primary_key)
    for _, cs in sorted(ds.identities.items()):
        cols += list(cs)
    cols += list(ds.free_text_fields)
    return list(dict.fromkeys(cols))


def fingerprint(con: Connector, ds: Dataset) -> str:
    """Rows and a checksum of the key, identity and free-text columns (one scan of those columns; their values
    hashed as they are stored, which costs half of hashing them as text)."""
    cols = ", ".join(con.quote(c) for c in _indexed_columns(ds))
    got = con.execute(f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM {con.relation(ds)}").rows[0]
    return f"{int(got[0])}:{int(got[1])}"


def rows_of_keys(con: Connector, ds: Dataset, keys: list[list[str]]) -> tuple[str, list[Any]]:
    """A relation (`(SELECT ...) s`) of the rows of `ds` whose primary key (as texts) is one of `keys`, and its
    parameters: by the first key column (the source's index answers it), then, for a key of several columns, by the
    whole key (a list search per row: a batch's thousands of one-column keys skip it)."""
    firsts = con.coerce(ds, ds.primary_key[0], [k[0] for k in keys])
    within, params = firsts_in(firsts) if firsts else ("(NULL)", [])
    inner = f"SELECT * FROM {con.relation(ds)} WHERE {con.quote(ds.primary_key[0])} IN {within}"
    if len(ds.primary_key) == 1:
        return f"({inner}) s", params
    return (f"(SELECT * FROM ({inner} OFFSET 0) r WHERE list_contains(?::VARCHAR[][], {_key_list(con, ds)})) s",
            [*params, keys])


def key_checksum(con: Connector, ds: Dataset, keys: list[list[str]]) -> tuple[int, int]:
    """The part of `fingerprint` the rows with these primary keys make up (rows, checksum): read before and after
    a write of those rows, the difference moves the dataset's fingerprint without scanning the dataset."""
    rel, params = rows_of_keys(con, ds, keys)
    cols = ", ".join(con.quote(c) for c in _indexed_columns(ds))
    got = con.execute(f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM {rel}", params).rows[0]
    return int(got[0]), int(got[1])


def moved_fingerprint(recorded: str | None, before: tuple[int, int], after: tuple[int, int]) -> str | None:
    """A dataset's `fingerprint` after rows changed from `before` to `after` (their `key_checksum`), from the one
    recorded while the data was as `before` saw it; None when nothing usable was recorded. The checksum is a sum of
    hashes (exact integers): taking the old rows' part out and putting the new rows' part in gives what a scan of
    the whole dataset would."""
    try:
        rows, total = (int(x) for x in str(recorded).split(":"))
    except ValueError:
        return None  # UNVERIFIED, or nothing recorded
    return f"{rows - before[0] + after[0]}:{total - before[1] + after[1]}"


def _covered(ds: Dataset) -> bool:
    return bool(ds.identities or ds.free_text_fields)


def index_applies(ws: Workspace, ds: Dataset) -> bool:
    """Whether the lookup index is meant to answer for `ds` (its source is read through DuckDB and it has identity
    or free-text fields)."""
    return ws.datamap.sources[ds.source].kind in INDEXED_SOURCE_KINDS and _covered(ds)


# -- building -----------------------------------------------------------------------------------------------------
def key_text_sql(keys: str) -> str:
    """A primary key (a VARCHAR[] expression) as the one text `ident.k` holds: the value of a one-column key, else
    its JSON array (so every kind of key compares with one equality, and a sorted column skips by zone maps)."""
    return f"CASE WHEN len({keys}) = 1 THEN {keys}[1] ELSE CAST(to_json({keys}) AS VARCHAR) END"


def key_of_text(text: str, arity: int) -> tuple:
    """The primary key `ident.k` holds as text (see `key_text_sql`), as a tuple of its columns' texts."""
    return (text,) if arity == 1 else tuple(json.loads(text))


def _key_list(con: Connector, ds: Dataset) -> str:
    return "[" + ", ".join(f"CAST({con.quote(c)} AS VARCHAR)" for c in ds.primary_key) + "]"


def identity_sql(con: Connector, ds: Dataset, digits: int, rel: str | None = None,
                 cols: dict[tuple[str, str, str], int] | None = None) -> list[str]:
    """SELECT h, value, c, k (the key as text) for every identity column of `ds` (NULL values left out). `h` is what a probe compares
    with one equality (the ART index answers it): the hash of "KIND:VALUE"; a phone number's reversed digits are
    keyed by their first 6 ("phone:123456"), the fewest a query's last digits may be (the probe keeps the values
    that start with all of its digits). `c` numbers (dataset, column, kind) as `cols` does (see `ident_cols`)."""
    out, rel, k = [], rel or con.relation(ds), key_text_sql(_key_list(con, ds))
    for kind, columns in sorted(ds.identities.items()):
        if kind == NAME:
            continue
        for col in columns:
            q = con.quote(col)
            value = (con.email_expr(q) if kind == EMAIL else con.phone_key_expr(q) if kind == PHONE
                     else f"CAST({q} AS VARCHAR)")
            key = (f"'{PHONE}:' || left(v, {PHONE_KEY_DIGITS})" if kind == PHONE else f"'{_lit(kind)}:' || v")
            c = (cols or {}).get((ds.name, col, kind), 0)
            out.append(f"SELECT hash({key}) AS h, v AS value, {int(c)}::USMALLINT AS c, k FROM "
                       f"(SELECT {value} AS v, {k} AS k FROM {rel} WHERE {q} IS NOT NULL) s"
                       + (f" WHERE length(v) >= {PHONE_KEY_DIGITS}" if kind == PHONE else ""))
    return out


def ident_columns(ds: Dataset) -> list[tuple[str, str, str]]:
    """(dataset, column, kind) of every identity column the index holds entries of, in `identity_sql`'s order."""
    return [(ds.name, col, kind) for kind, columns in sorted(ds.identities.items()) if kind != NAME
            for col in columns]


def mention_sql(con: Connector, ds: Dataset, digits: int, rel: str | None = None) -> list[str]:
    """SELECT key ("email:LOCAL" or "phone:DIGITS"), dataset, k: the e-mail local parts and the phone digit windows
    in `ds`'s free text."""
    out, rel, k = [], rel or con.relation(ds), _key_list(con, ds)
    for f in ds.free_text_fields:
        q = con.quote(f)
        out.append(f"SELECT DISTINCT 'email:' || lower(m) AS key, '{_lit(ds.name)}' AS dataset, k FROM "
                   f"(SELECT {k} AS k, unnest(regexp_extract_all({q}, '{LOCAL_PART_RE}', 1)) AS m FROM {rel} "
                   f"WHERE contains({q}, '@'))")
        runs = (f"SELECT {k} AS k, regexp_replace(unnest(regexp_extract_all({q}, '{PHONE_RUN_RE}')), '[^0-9]', '', "
                f"'g') AS d FROM {rel} WHERE regexp_matches({q}, '[0-9]')")
        out.append(f"SELECT DISTINCT 'phone:' || substr(d, i + 1, {digits}) AS key, '{_lit(ds.name)}' AS "
                   f"dataset, k FROM (SELECT k, d, unnest(range(0, length(d) - {digits} + 1)) AS i FROM ({runs}) r "
                   f"WHERE length(d) >= {digits})")
    return out


def names_sql(con: Connector, ds: Dataset, rel: str | None = None) -> str | None:
    """SELECT the distinct spellings of `ds`'s name columns, how many rows bear each and their keys: a name query
    scores these few thousand spellings instead of every row (the score depends on the spelling alone). A spelling
    may have several rows in the table (a refresh adds the changed rows' own): a name query sums them."""
    cols = ds.identity_columns(NAME)
    if not cols:
        return None
    q = ", ".join(con.quote(c) for c in cols)
    return (f"SELECT {q}, count(*) AS {NAME_COUNT}, list({_key_list(con, ds)}) AS {NAME_KEYS} FROM {rel or con.relation(ds)} "
            f"WHERE {' OR '.join(f'{con.quote(c)} IS NOT NULL' for c in cols)} GROUP BY ALL")


def _lit(text: str) -> str:
    return text.replace("'", "''")


def index_format_problem(con: Any) -> str | None:
    """Why an open index.duckdb cannot be read by this version (None: it can): another format (an index built by
    an earlier privacyops), or an engine whose hash() differs from the one that built it."""
    try:
        meta = dict(con.execute("SELECT name, value FROM meta").fetchall())
    except duckdb.Error:
        meta = {}
    if meta.get("format") != str(INDEX_VERSION):
        return "the lookup index was built by another version of privacyops: rebuild it with `privacyops index`"
    if meta.get("hash_check") != str(con.execute("SELECT hash(?::VARCHAR)", [HASH_CHECK]).fetchone()[0]):
        return "the lookup index was built by another DuckDB version: rebuild it with `privacyops index`"
    return None


UNVERIFIED = "unverified"  # a dataset's checksum that matches no data: it reads stale until `index --refresh`


def _only_ours(con: Connector, certified: str | None, now: str, checked: Callable[[str], bool]) -> bool:
    """Whether the DuckDB file behind `con` changed, since it last matched the index (its stat the index certified,
    or one at which this process checked every dataset: `checked`), only by this process's last writing session, and
    is as that left it (`now`): `sources/write_chain.py`."""
    if con.source.kind != "duckdb":
        return False
    chain = written_since(str(con.path))
    if chain is None or json.dumps(chain[1]) != now:
        return False
    first = json.dumps(chain[0])
    return first == certified or checked(first)


def drop_entries(out: Any, todo: dict[str, list[list[str]]], cols: dict[tuple[str, str, str], int],
                 hashes: tuple[int, int] | None = None, mentions: bool = True) -> None:
    """Delete the identity and mention entries of the changed rows (dataset -> keys as text). The identity entries
    of one column lie together, sorted by key: with the column numbers and (for a few keys) the keys as constants,
    the scan reads only the row groups that may hold them. `hashes` (lo, hi): only the identity entries whose hash
    lies in [lo, hi) (a part of the ART, see `hash_ranges`); `mentions=False` leaves the mention entries."""
    import pyarrow as pa

    within, bounds = ("", []) if hashes is None else (" AND h >= ?::UBIGINT AND h < ?::HUGEINT", list(hashes))

    out.register("_keys", pa.table({"dataset": [n for n, keys in todo.items() for _ in keys],
                                    "k": [k for keys in todo.values() for k in keys]}))
    try:
        for name, keys in todo.items():
            ids = ", ".join(str(int(c)) for (d, _, _), c in sorted(cols.items(), key=lambda x: x[1]) if d == name)
            if not ids:
                continue
            texts = out.execute(f"SELECT list_transform(?::VARCHAR[][], x -> {key_text_sql('x')})", [keys]).fetchone()[0]
            if len(texts) <= FEW_KEYS:
                out.execute(f"DELETE FROM ident WHERE c IN ({ids}) AND k IN ({', '.join('?' * len(texts))}){within}",
                            texts + bounds)
            else:
                out.execute(f"DELETE FROM ident WHERE c IN ({ids}) AND k IN (SELECT unnest(?::VARCHAR[])){within}",
                            [texts] + bounds)
        if todo and mentions:
            out.execute("DELETE FROM mention t USING _keys x WHERE t.dataset = x.dataset AND t.k = x.k")
    finally:
        out.unregister("_keys")


FEW_KEYS = 200  # up to this many changed rows of a dataset, their keys are constants of the delete (zone maps)
ENTRIES_PER_PART = 3_000_000  # identity entries whose ART parts one commit of a batch's deletes may load (see below)


def hash_ranges(entries: int) -> list[tuple[int, int]]:
    """The hash ranges [lo, hi) a batch's old identity entries are deleted in, one commit (and one connection) each.
    A delete loads the ART parts on the paths to its keys, and DuckDB keeps them until the connection closes; the
    ART is ordered by the hash, so the entries of one range of it sit in one subtree: measured at a million
    subjects (9.2M entries, 60k deleted), all at once +615 MB, in 4 ranges +322 MB at most, in 8 +281 MB, the same
    time. An index of fewer than ENTRIES_PER_PART entries is one range."""
    parts = max(1, -(-int(entries) // ENTRIES_PER_PART))
    return [((i << 64) // parts, ((i + 1) << 64) // parts) for i in range(parts)]


def firsts_in(firsts: list[Any]) -> tuple[str, list[Any]]:
    """The changed rows' first key values: a few as constants (the source's index answers), a batch's thousands of
    integers or texts as one list parameter (an IN list of that many parameters costs DuckDB ~0.25 s a statement,
    and a refresh runs two or three per dataset)."""
    if len(firsts) > FEW_KEYS and len({type(v) for v in firsts}) == 1 and type(firsts[0]) in (int, str):
        return "(SELECT unnest(?))", [list(firsts)]
    return f"({', '.join('?' * len(firsts))})", list(firsts)


PROBE_JOIN_FROM = 64  # keys from which a probe of the index is a scan joined to them, not ART lookups


def probed(con: Any, sql: str, keys: Sequence[str], wrap: str = "") -> list[tuple]:
    """`sql` (ending in the probed column: "... WHERE h") compared with `keys` (through `wrap`, e.g. hash). A few
    keys as constants (ART lookups: a single lookup's probes); a batch's thousands (over PROBE_JOIN_FROM) as a
    registered Arrow table joined in one scan, whose blocks the reader's memory limit may evict: as an IN list
    DuckDB probes the ART key by key first, and every ART part a probe loads stays in memory until the file is
    closed (measured at a million subjects: 220 MB of ART for the identity probes of 1,000 subjects; the scan is as
    fast)."""
    one = f"{wrap}(?::VARCHAR)" if wrap else "?"
    if len(keys) <= PROBE_JOIN_FROM:
        cond = f" = {one}" if len(keys) == 1 else f" IN ({', '.join([one] * len(keys))})"  # =: a cheaper scan
        return con.execute(sql + cond, list(keys)).fetchall()
    import pyarrow as pa  # here, not at the top: a single lookup's few probes need not pay its import

    name = f"_privacyops_probe_{uuid.uuid4().hex[:8]}"
    con.register(name, pa.table({"v": pa.array(list(keys), pa.string())}))
    try:
        return con.execute(f"{sql} IN (SELECT {wrap}(v) FROM {name})").fetchall()
    finally:
        con.unregister(name)


def probe_plan(kind: str, values: Iterable[str], phone_digits: int) -> tuple[set[str], dict[int, set[str]], set[str]]:
    """What `identity_hits` probes for (kind, values): the hashed keys, the phones' reversed-digit tails by length (a
    batch's thousands of tails tested per hit in a few lookups) and the exact values of other kinds."""
    keys, exact = set(), set()
    tails: dict[int, set[str]] = {}
    for v in sorted(set(values)):
        if kind == PHONE:
            digits = digits_of(v)
            k = min(phone_digits, len(digits))
            if k < PHONE_KEY_DIGITS:
                continue
            tail = digits[-k:][::-1]
            keys.add(f"{PHONE}:{tail[:PHONE_KEY_DIGITS]}")
            tails.setdefault(len(tail), set()).add(tail)
        else:
            keys.add(f"{kind}:{v}")
            exact.add(v)
    return keys, tails, exact


def mention_keys(emails: Sequence[str], needles: Sequence[str]) -> list[str] | None:
    """The mention index's keys for e-mails (their local parts, lower-cased) and phone needles; None when a local
    part is not ASCII (DuckDB lower-cases it, as the index was built: `mention_hits` asks it)."""
    locals_ = [k for k in (email_key(e) for e in emails) if k]
    if not all(k.isascii() for k in locals_):  # ASCII lower-cases alike here and in DuckDB
        return None
    return [f"email:{k.lower()}" for k in locals_] + [f"phone:{n}" for n in needles]


def hits_of(rows: Iterable[tuple], kind: str, plan: tuple[set[str], dict[int, set[str]], set[str]],
            cols: dict[int, tuple]) -> list[tuple[str, str, str, tuple]]:
    """The probe's entries (value, c, k, _) that answer one (kind, values) ask (its `probe_plan`), as (value,
    dataset, column, key): of its kind, and its value (phones: the stores' range, the reversed digits start with a
    tail, then a digit or nothing)."""
    own, tails, exact = plan
    hits = []
    for value, c, k, _ in rows if own else ():
        if c is None:  # a mention entry
            continue
        dataset, col, of, arity = cols[c]
        if of != kind:
            continue
        if value in exact if kind != PHONE else any(value[:n] in ts and value[n:n + 1] < ":"  # t <= v < t:
                                                   for n, ts in tails.items()):
            hits.append((value, dataset, col, key_of_text(k, arity)))
    return hits
