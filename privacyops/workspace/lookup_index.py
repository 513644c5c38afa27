"""The lookup index: identities and free-text mentions -> (dataset, key), in one DuckDB file of the workspace.

`privacyops index` builds `index.duckdb` beside the map: every normalised e-mail (`lower(trim(...))`), phone
(`reverse(digits)`, the expression the stores' own indexes use) and id value of every identity column, and for
every free-text field the e-mail local parts (`NAME@`) and the phone-number digit windows (every run of 8 =
`phone_match_digits` digits written as a phone number may be) found in it. A lookup then probes this file for its
seeds, its identity expansion and its mentions instead of scanning, and reads the matching rows from the source by
primary key.

Why one file in the workspace rather than a table in each source: it serves DuckDB, Parquet and CSV sources alike
(files cannot hold a table), needs no write access to the company's stores, and never takes their write locks.
PostgreSQL and SQLite sources keep their in-database expression indexes (`indexes.py`) and are not covered here.

Staleness: per dataset the index records what it covered (rows, and a checksum of the key, identity and free-text
columns, plus the map's spec for the dataset), and per source the files' stat (size, mtime, inode; the DuckDB WAL
too). A lookup compares the stat (microseconds); when it changed, the checksums are recomputed once and every
dataset whose data changed is *stale*: lookups scan it (and say so in the result's notes) until
`privacyops index --refresh`. A stale or missing index never hides a record.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb

from ..errors import SourceError
from ..map import EMAIL, NAME, PHONE, Dataset
from ..sources import SCORE, Connector, connect_duckdb, names
from ..sources.queries import NameQueries
from .folder import Workspace

INDEX_FILE = "index.duckdb"
INDEX_VERSION = 1
INDEXED_SOURCE_KINDS = ("duckdb", "parquet", "csv")  # read through DuckDB: the same SQL builds the index
# The e-mail local part before an "@" (a superset of what the mention scan matches: see `email_key`), and a phone
# number as the mention scan's PHONE_GAP allows it to be written: digits with at most two non-alphanumerics between.
LOCAL_PART_RE = r"([\pL\pN_.+-]+)@"
PHONE_RUN_RE = "[0-9](?:[^0-9A-Za-z]{0,2}[0-9])*"
_LOCAL_CHARS = set("_.+-")
# Columns of a names table beside the name columns (and of the scoring query over it).
NAME_COUNT, NAME_KEYS, NAME_ROWS = "_privacyops_n", "_privacyops_k", "_privacyops_rows"


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
def _stat(path: str) -> list:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None]
    return [path, st.st_size, st.st_mtime_ns, st.st_ino]


def source_signature(con: Connector, datasets: Sequence[Dataset]) -> str:
    """The stat of every file behind a source's datasets: changes whenever any of their data may have."""
    kind = con.source.kind
    if kind == "duckdb":
        path = str(con.path)
        parts = [_stat(path), _stat(path + ".wal")]
    else:
        files = sorted({f for ds in datasets for f in glob.glob(str(Path(con.path) / ds.table))})
        parts = [_stat(f) for f in files] + [_stat(str(con.path))]
    return json.dumps(parts)


def dataset_spec(ws: Workspace, ds: Dataset) -> str:
    """What of the map an index of `ds` depends on: a change (a new identity column) makes it stale."""
    spec = {"v": INDEX_VERSION, "table": ds.table, "key": list(ds.primary_key), "source": ds.source,
            "ids": {k: list(v) for k, v in sorted(ds.identities.items())},
            "text": list(ds.free_text_fields), "digits": ws.datamap.settings.phone_match_digits}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _indexed_columns(ds: Dataset) -> list[str]:
    cols = list(ds.primary_key)
    for _, cs in sorted(ds.identities.items()):
        cols += list(cs)
    cols += list(ds.free_text_fields)
    return list(dict.fromkeys(cols))


def fingerprint(con: Connector, ds: Dataset) -> str:
    """Rows and a checksum of the key, identity and free-text columns (one scan of those columns)."""
    cols = ", ".join(f"CAST({con.quote(c)} AS VARCHAR)" for c in _indexed_columns(ds))
    got = con.execute(f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM {con.relation(ds)}").rows[0]
    return f"{int(got[0])}:{int(got[1])}"


def _covered(ds: Dataset) -> bool:
    return bool(ds.identities or ds.free_text_fields)


def index_applies(ws: Workspace, ds: Dataset) -> bool:
    """Whether the lookup index is meant to answer for `ds` (its source is read through DuckDB and it has identity
    or free-text fields)."""
    return ws.datamap.sources[ds.source].kind in INDEXED_SOURCE_KINDS and _covered(ds)


# -- building -----------------------------------------------------------------------------------------------------
def _key_list(con: Connector, ds: Dataset) -> str:
    return "[" + ", ".join(f"CAST({con.quote(c)} AS VARCHAR)" for c in ds.primary_key) + "]"


def identity_sql(con: Connector, ds: Dataset, digits: int, rel: str | None = None) -> list[str]:
    """SELECT key, value, dataset, col, k for every identity column of `ds` (NULL values left out). `key` is what
    a probe compares with one equality (an ART index answers it): "KIND:VALUE"; a phone number's reversed digits
    are keyed by their first 6..`digits` characters ("phone7:..."), as a query's last digits may be that many."""
    out, rel, k = [], rel or con.relation(ds), _key_list(con, ds)
    for kind, cols in sorted(ds.identities.items()):
        if kind == NAME:
            continue
        for col in cols:
            q = con.quote(col)
            value = (con.email_expr(q) if kind == EMAIL else con.phone_key_expr(q) if kind == PHONE
                     else f"CAST({q} AS VARCHAR)")
            base = (f"SELECT {{key}} AS key, v AS value, '{_lit(ds.name)}' AS dataset, '{_lit(col)}' AS col, k FROM "
                    f"(SELECT {value} AS v, {k} AS k FROM {rel} WHERE {q} IS NOT NULL)")
            if kind == PHONE:
                out.append(base.format(key="'phone' || n || ':' || left(v, n)") +
                           f", range(6, {max(digits, 6) + 1}) t(n) WHERE length(v) >= n")
            else:
                out.append(base.format(key=f"'{_lit(kind)}:' || v"))
    return out


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


def names_sql(con: Connector, ds: Dataset) -> str | None:
    """SELECT the distinct spellings of `ds`'s name columns, how many rows bear each and their keys: a name query
    scores these few thousand spellings instead of every row (the score depends on the spelling alone)."""
    cols = ds.identity_columns(NAME)
    if not cols:
        return None
    q = ", ".join(con.quote(c) for c in cols)
    return (f"SELECT {q}, count(*) AS {NAME_COUNT}, list({_key_list(con, ds)}) AS {NAME_KEYS} FROM {con.relation(ds)} "
            f"WHERE {' OR '.join(f'{con.quote(c)} IS NOT NULL' for c in cols)} GROUP BY ALL")


def _lit(text: str) -> str:
    return text.replace("'", "''")


BUILD_MEMORY_LIMIT = "600MB"
"""DuckDB memory_limit of the connection that builds the index: its sort and ART index spill to a folder beside the
file beyond this, so `privacyops index` stays within about 1 GB at a million subjects."""
ART_BYTES_PER_KEY = 56  # memory_limit while the ART indexes are built, per key (see build_lookup_index)
_IDENT_COLUMNS = "key VARCHAR, value VARCHAR, dataset VARCHAR, col VARCHAR, k VARCHAR[]"
_MENTION_COLUMNS = "key VARCHAR, dataset VARCHAR, k VARCHAR[]"


@dataclass
class IndexBuild:
    """What `build_lookup_index` did."""

    datasets: dict[str, int] = field(default_factory=dict)  # dataset -> rows covered
    identities: int = 0
    mentions: int = 0
    skipped: list[str] = field(default_factory=list)  # datasets on sources the index does not cover
    seconds: float = 0.0


def _mb(limit: str) -> int:
    """A DuckDB memory size written as "600MB", in MB (DuckDB's MB are 10^6 bytes)."""
    return int(limit.removesuffix("MB"))


def _attached_relation(out: duckdb.DuckDBPyConnection, con: Connector, ds: Dataset, attached: dict[str, str]) -> str:
    """`ds`'s relation as the index's own connection reads it: a DuckDB source's file is attached there read-only
    (once per file), so its rows go straight into the index tables instead of travelling through Python."""
    if con.source.kind != "duckdb":
        return con.relation(ds)  # read_parquet(...) / read_csv(...) of an absolute path: the same in any connection
    file = str(Path(con.path).resolve())  # two sources naming one file share its attachment (DuckDB allows one)
    alias = attached.get(file)
    if alias is None:
        alias = f"_po_src{len(attached)}"
        try:
            out.execute(f"ATTACH '{_lit(str(con.path))}' AS {alias} (READ_ONLY)")
        except duckdb.Error as exc:
            raise SourceError(f"source '{con.source.name}': cannot read {con.path} to build the lookup index "
                              f"({exc}); close other programs writing it and run `privacyops index` again") from None
        attached[file] = alias
    parts = ds.table.split(".")
    schema, table = (parts[-2], parts[-1]) if len(parts) > 1 else ("main", parts[0])
    return f"{alias}.{con.quote(schema)}.{con.quote(table)}"


def build_lookup_index(ws: Workspace, progress: bool = True) -> IndexBuild:
    """(Re)build `index.duckdb` from every DuckDB, Parquet and CSV source; atomically replaces the old one.

    How it scales: the identity and mention rows are produced inside the index's own connection (DuckDB sources
    attached read-only, so no row travels through Python), one sorted `INSERT ... SELECT` per column, under a
    memory limit with a spill folder; the ART indexes are built last, over those sorted runs."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    ws.close()  # this process reads the sources afresh; a kept reader of the old index is let go
    report = IndexBuild()
    path = index_path(ws)
    tmp = path.with_name(f".{INDEX_FILE}.{uuid.uuid4().hex[:8]}.tmp")
    spill = tmp.with_name(tmp.name + ".spill")
    out = duckdb.connect(str(tmp), config={"memory_limit": BUILD_MEMORY_LIMIT, "temp_directory": str(spill)})
    try:
        out.execute("SET enable_progress_bar = false")
        # FSST string compression costs ~15% of the build (inserts and the ART scan) for ~30% smaller keys: off
        out.execute("SET disabled_compression_methods = 'fsst'")
        out.execute("CREATE TABLE datasets (dataset VARCHAR PRIMARY KEY, source VARCHAR, spec VARCHAR, "
                    "fingerprint VARCHAR, rows BIGINT, built_at VARCHAR)")
        out.execute("CREATE TABLE sources (source VARCHAR PRIMARY KEY, signature VARCHAR)")
        out.execute("CREATE TABLE name_tables (dataset VARCHAR PRIMARY KEY, name_table VARCHAR)")
        by_source: dict[str, list[Dataset]] = {}
        for ds in ws.datamap.datasets.values():
            if ws.datamap.sources[ds.source].kind not in INDEXED_SOURCE_KINDS:
                report.skipped.append(ds.name)
            elif _covered(ds):
                by_source.setdefault(ds.source, []).append(ds)
        digits = ws.datamap.settings.phone_match_digits
        steps = [(s, d) for s, dss in by_source.items() for d in dss]
        attached: dict[str, str] = {}
        selects: dict[str, list[str]] = {"ident": [], "mention": []}
        for source_name, ds in tqdm(steps, desc="lookup index", unit="dataset", disable=not progress):
            con = ws.connector(source_name)
            if source_name not in _signatures(out):
                out.execute("INSERT INTO sources VALUES (?, ?)",
                            [source_name, source_signature(con, by_source[source_name])])
            con.execute("SET enable_progress_bar = false")
            fp = fingerprint(con, ds)
            rel = _attached_relation(out, con, ds, attached)
            selects["ident"] += identity_sql(con, ds, digits, rel)
            selects["mention"] += mention_sql(con, ds, digits, rel)
            sql = names_sql(con, ds)
            if sql is not None:
                table = f"names_{len(report.datasets)}"
                out.register("_batch", con.con.execute(sql).to_arrow_reader(100_000))
                out.execute(f"CREATE TABLE {table} AS SELECT * FROM _batch")
                out.unregister("_batch")
                out.execute("INSERT INTO name_tables VALUES (?, ?)", [ds.name, table])
            rows = int(fp.split(":")[0])
            report.datasets[ds.name] = rows
            out.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?)",
                        [ds.name, ds.source, dataset_spec(ws, ds), fp, rows,
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())])
        ws.close()  # the sources' own connections (and their page caches) are let go before the big inserts
        # Each identity column and free-text field is inserted sorted by key (a sort of that column's rows only):
        # building the ART index over sorted runs is several times faster than over unsorted rows, and as fast as
        # over one global sort, which would cost a spilling sort of every row. `key IN (...)` is then a probe
        # (DuckDB uses the index for a lone IN/equality filter); the rows' physical order does not matter to it.
        for table, columns in (("ident", _IDENT_COLUMNS), ("mention", _MENTION_COLUMNS)):
            out.execute(f"CREATE TABLE {table} ({columns})")
            for sql in selects[table]:
                out.execute(f"INSERT INTO {table} SELECT * FROM ({sql}) ORDER BY key")
        for source_name, dss in by_source.items():  # changed while we read: recorded as unknown, checked on use
            if _signatures(out).get(source_name) != source_signature(ws.connector(source_name), dss):
                out.execute("UPDATE sources SET signature = NULL WHERE source = ?", [source_name])
        ws.close()
        for alias in attached.values():
            out.execute(f"DETACH {alias}")
        report.identities = int(out.execute("SELECT count(*) FROM ident").fetchone()[0])
        report.mentions = int(out.execute("SELECT count(*) FROM mention").fetchone()[0])
        # An ART index under construction cannot spill: it gets what its keys need (measured: under 48 bytes a
        # key; 12 million keys at a million subjects), never less than the limit of the inserts.
        art_mb = max(_mb(BUILD_MEMORY_LIMIT), (report.identities + report.mentions) * ART_BYTES_PER_KEY // 10**6)
        out.execute(f"SET memory_limit = '{art_mb}MB'")
        for table in ("ident", "mention"):
            out.execute(f"CREATE INDEX {table}_key ON {table} (key)")
        out.execute("CHECKPOINT")
        out.close()
        os.replace(tmp, path)
    except BaseException:
        out.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    report.seconds = time.perf_counter() - t0
    return report


def refresh_lookup_index(ws: Workspace, changed: dict[str, Iterable[tuple]]) -> list[str]:
    """After privacyops changed rows (an erasure, a rectification): the index entries of those rows (dataset ->
    primary keys) are replaced by what the source holds now (nothing for deleted rows: an erased identifier leaves
    the index too), the datasets' name spellings rebuilt, and their coverage recorded anew. The source's file stat
    is recorded only when every other dataset of it still matches the index (else those stay stale). Returns the
    datasets refreshed (none without an index)."""
    import pyarrow as pa

    path = index_path(ws)
    if not path.exists():
        return []
    ws.forget_kept("lookup-index")
    out = connect_duckdb(str(path), False, "lookup index")  # a writer: no memory limit (see duckdb_limits)
    done: list[str] = []
    try:
        covered = {r[0]: r[1] for r in out.execute("SELECT dataset, source FROM datasets").fetchall()}
        tables = dict(out.execute("SELECT dataset, name_table FROM name_tables").fetchall())
        digits = ws.datamap.settings.phone_match_digits
        todo = {name: [[str(v) for v in k] for k in keys] for name, keys in changed.items()}
        todo = {name: keys for name, keys in todo.items()
                if name in ws.datamap.datasets and name in covered and keys}
        fps: dict[str, str] = {}
        # One transaction, and one pass over each entry table for every dataset's changed rows (the tables hold
        # tens of millions of entries at a million subjects: a pass per dataset took most of an erasure's time).
        out.register("_keys", pa.table({"dataset": [n for n, keys in todo.items() for _ in keys],
                                        "k": [k for keys in todo.values() for k in keys]}))
        out.execute("BEGIN TRANSACTION")
        for table in ("ident", "mention") if todo else ():
            out.execute(f"DELETE FROM {table} t USING _keys c WHERE t.dataset = c.dataset AND t.k = c.k")
        for name, keys in todo.items():
            ds = ws.datamap.datasets[name]
            con = ws.connector(ds.source)
            firsts = con.coerce(ds, ds.primary_key[0], [k[0] for k in keys])
            rel = (f"(SELECT * FROM {con.relation(ds)} WHERE {con.quote(ds.primary_key[0])} IN "
                   f"({', '.join('?' * len(firsts))}) OFFSET 0) s") if firsts else None
            for table, sqls in (("ident", identity_sql(con, ds, digits, rel) if rel else []),
                                ("mention", mention_sql(con, ds, digits, rel) if rel else [])):
                for sql in sqls:
                    out.register("_batch", con.con.execute(sql, firsts).to_arrow_reader(100_000))
                    out.execute(f"INSERT INTO {table} SELECT * FROM _batch")
                    out.unregister("_batch")
            if name in tables and names_sql(con, ds):
                out.execute(f"DELETE FROM {tables[name]}")
                out.register("_batch", con.con.execute(names_sql(con, ds)).to_arrow_reader(100_000))
                out.execute(f"INSERT INTO {tables[name]} SELECT * FROM _batch")
                out.unregister("_batch")
            fp = fps[name] = fingerprint(con, ds)
            out.execute("UPDATE datasets SET fingerprint = ?, rows = ?, spec = ? WHERE dataset = ?",
                        [fp, int(fp.split(":")[0]), dataset_spec(ws, ds), name])
            done.append(name)
        out.execute("COMMIT")
        out.unregister("_keys")
        recorded = dict(out.execute("SELECT dataset, fingerprint FROM datasets").fetchall())
        for source in {covered[n] for n in done}:
            datasets = [d for d in ws.datamap.datasets.values() if d.source == source]
            con = ws.connector(source)
            # A DuckDB file stayed open (read-locked: no other process wrote it) since its datasets' fingerprints
            # above; files have no lock: they are checked again right before their stat is taken.
            taken = fps if con.source.kind == "duckdb" else {}
            if all((taken.get(d.name) or fingerprint(con, d)) == recorded[d.name] for d in datasets
                   if d.name in recorded):
                out.execute("UPDATE sources SET signature = ? WHERE source = ?",
                            [source_signature(con, datasets), source])
        out.execute("CHECKPOINT")
    finally:
        out.close()
        ws.close()
    return done


def _key_in(keys: Sequence[str]) -> str:
    """The probe's condition: one key as an equality (a cheaper index scan than a one-value IN list)."""
    return "key = ?" if len(keys) == 1 else f"key IN ({', '.join('?' * len(keys))})"


def _signatures(out: Any) -> dict[str, str | None]:
    return dict(out.execute("SELECT source, signature FROM sources").fetchall())


def drop_lookup_index(ws: Workspace) -> bool:
    """Remove `index.duckdb`; whether there was one."""
    ws.close()
    path = index_path(ws)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


# -- reading ------------------------------------------------------------------------------------------------------
class _Spellings(NameQueries):
    """The source's name scoring (its dialect hooks) over a names table of the index instead of the source table."""

    param = "?"

    def __init__(self, source: Connector, relation: str):
        self._source = source
        self._relation = relation

    def relation(self, dataset: Dataset) -> str:
        return self._relation

    def __getattr__(self, name: str) -> Any:  # quote, name_expr, similarity_expr, ...: the source's
        return getattr(self._source, name)


# Data checks already made in this process: (index file stat, source, source signature) -> {dataset: reason or None}
_CHECKED: dict[tuple[str, str, str], dict[str, str | None]] = {}


class LookupIndex:
    """An open `index.duckdb` (read-only), with what it covered."""

    def __init__(self, path: Path):
        self.path = path
        self.stat = json.dumps(_stat(str(path)))
        self.con = connect_duckdb(str(path), True, "lookup index")
        # Probes of a few keys and the scoring of a few thousand spellings: one thread (this file's own engine) saves
        # handing work to a second one on a busy machine (name search ~10% faster at 1M; probes no slower).
        self.con.execute("SET threads = 1")
        self.covered = {r[0]: (r[1], r[2], r[3]) for r in
                        self.con.execute("SELECT dataset, source, spec, fingerprint FROM datasets").fetchall()}
        self.signatures = dict(self.con.execute("SELECT source, signature FROM sources").fetchall())
        self.name_tables = dict(self.con.execute("SELECT dataset, name_table FROM name_tables").fetchall())

    def close(self) -> None:
        self.con.close()

    def writer_waiting(self) -> bool:
        """Whether `refresh_lookup_index` in another process waits for this file (then it is let go)."""
        from ..sources.duckdb import writer_waiting

        return writer_waiting(self.path)

    def stale(self, ws: Workspace, ds: Dataset, signatures: dict[str, str]) -> str | None:
        """Why the index cannot answer for `ds` (None: it can). `signatures` memoises source signatures for the
        duration of one lookup."""
        if ds.name not in self.covered:
            return "not in the lookup index"
        source, spec, _ = self.covered[ds.name]
        if source != ds.source or spec != dataset_spec(ws, ds):
            return "the data map changed since the lookup index was built"
        # (a transaction that has written nothing yet reads as the files do: erasure's stale check, before writing)
        if ws.writing(source) and not getattr(ws.writer(source), "unwritten", False):
            return "its source is being changed in this process"
        if source not in signatures:
            datasets = [d for d in ws.datamap.datasets.values() if d.source == source]
            signatures[source] = source_signature(ws.connector(source), datasets)
        now = signatures[source]
        if now == self.signatures.get(source):
            return None
        memo = (self.stat, source, now)
        if memo not in _CHECKED:  # the files changed: did the indexed data? (one checksum scan per dataset, once)
            con = ws.connector(source)
            _CHECKED[memo] = {name: (None if fingerprint(con, ws.datamap.datasets[name]) == fp
                                     else "the data changed since the lookup index was built")
                              for name, (src, _, fp) in self.covered.items()
                              if src == source and name in ws.datamap.datasets}
        return _CHECKED[memo].get(ds.name, "not in the lookup index")

    def identity_hits(self, kind: str, values: Iterable[str], phone_digits: int) -> list[tuple[str, str, str, tuple]]:
        """(value, dataset, column, key) of every identity entry of `kind` matching one of `values` (e-mails
        normalised; phones: reversed digits starting with the value's last digits, as the stores compare them;
        ids: as text). One query."""
        keys, ranges = [], []
        for v in sorted(set(values)):
            if kind == PHONE:
                from ..sources import digits_of

                digits = digits_of(v)
                k = min(phone_digits, len(digits))
                if k < 6:
                    continue
                tail = digits[-k:][::-1]
                keys.append(f"phone{k}:{tail}")
                ranges.append(tail)
            else:
                keys.append(f"{kind}:{v}")
        if not keys:
            return []
        rows = self.con.execute(f"SELECT value, dataset, col, k FROM ident WHERE {_key_in(keys)}", keys).fetchall()
        if kind == PHONE:  # the stores' range: the reversed digits start with the tail, then a digit or nothing
            rows = [r for r in rows if any(t <= r[0] < t + ":" for t in ranges)]
        return [(r[0], r[1], r[2], tuple(r[3])) for r in rows]

    def mention_hits(self, emails: Sequence[str], needles: Sequence[str]) -> dict[str, set[tuple]]:
        """dataset -> keys of rows whose free text may mention one of the e-mails or phone needles (a superset:
        the caller checks the text as the scan does). One query (and one to lower-case as the index did)."""
        locals_ = [k for k in (email_key(e) for e in emails) if k]
        if locals_ and not all(k.isascii() for k in locals_):  # ASCII lower-cases alike here and in DuckDB
            locals_ = self.con.execute("SELECT list_transform(?::VARCHAR[], x -> lower(x))", [locals_]).fetchone()[0]
        locals_ = [k.lower() if k.isascii() else k for k in locals_]
        keys = [f"email:{k}" for k in locals_] + [f"phone:{n}" for n in needles]
        out: dict[str, set[tuple]] = {}
        if not keys:
            return out
        sql = f"SELECT dataset, k FROM mention WHERE {_key_in(keys)}"
        for dataset, k in self.con.execute(sql, keys).fetchall():
            out.setdefault(dataset, set()).add(tuple(k))
        return out

    def name_matches(self, con: Connector, ds: Dataset, columns: Sequence[str], query: str, threshold: float,
                     limit: int = 20) -> tuple[list[tuple[tuple, float]], int] | None:
        """`Connector.name_matches` over the distinct spellings: (key, score) of the rows it would return and how
        many rows matched in all; None when the index holds no names of `ds`. The same score SQL (the source's),
        the same threshold, and the same rank: a spelling borne by n rows counts n times."""
        table = self.name_tables.get(ds.name)
        if table is None:
            return None
        cols = ", ".join(con.quote(c) for c in columns)
        spellings = _Spellings(con, f"(SELECT {cols}, sum({NAME_COUNT}) AS {NAME_COUNT}, list(rowid) AS {NAME_ROWS} "
                                    f"FROM {table} GROUP BY ALL) g")  # the keys stay behind: fetched for the few
        scored, params = spellings._name_scored_sql(ds, columns, query)
        s, n, keep = SCORE, NAME_COUNT, max(int(limit), 1)
        exact = f"({s} >= {names.EXACT})"
        ranked = (f"SELECT {NAME_ROWS}, {s}, {exact} AS ex, sum({n}) OVER () AS total, 1 + sum({n}) OVER "
                  f"(PARTITION BY {exact} ORDER BY {s} DESC RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - "
                  f"sum({n}) OVER (PARTITION BY {exact}, {s}) AS rnk FROM ({scored}) x WHERE {s} >= ?")
        picked = self.con.execute(f"SELECT {NAME_ROWS}, {s}, total FROM ({ranked}) r WHERE ex OR "
                                  f"({'rnk <= ' + str(keep) if limit >= 1 else 'false'})",
                                  [*params, threshold]).fetchall()
        total = int(picked[0][2]) if picked else 0
        score_of = {row: float(p[1]) for p in picked for row in p[0]}
        if not score_of:
            return [], total
        keys = self.con.execute(f"SELECT rowid, {NAME_KEYS} FROM {table} WHERE rowid IN "
                                f"({', '.join('?' * len(score_of))})", list(score_of)).fetchall()
        return [(tuple(k), score_of[row]) for row, ks in keys for k in ks], total

    def can_find_mentions(self, emails: Sequence[str], needles: Sequence[str], phone_digits: int) -> bool:
        """Whether the mention index can answer for these e-mails and phone needles (else: scan)."""
        return all(email_key(e) for e in emails) and all(len(n) == phone_digits for n in needles)


def open_lookup_index(ws: Workspace) -> LookupIndex | None:
    """The workspace's lookup index, kept open with its connectors (reopened when rebuilt); None without one."""
    path = index_path(ws)
    if not path.exists():
        return None
    idx = ws.kept("lookup-index", lambda: LookupIndex(path))
    if idx.stat != json.dumps(_stat(str(path))):  # rebuilt since it was opened
        ws.forget_kept("lookup-index")
        idx = ws.kept("lookup-index", lambda: LookupIndex(path))
    return idx


def index_status(ws: Workspace) -> dict[str, str | None]:
    """Per dataset: None when the lookup index answers for it, else why not (missing index, stale, not covered)."""
    idx = open_lookup_index(ws)
    out: dict[str, str | None] = {}
    try:
        sigs: dict[str, str] = {}
        for ds in ws.datamap.datasets.values():
            if not index_applies(ws, ds):
                continue
            out[ds.name] = "no lookup index (run `privacyops index`)" if idx is None else idx.stale(ws, ds, sigs)
    finally:
        ws.close()
    return out
