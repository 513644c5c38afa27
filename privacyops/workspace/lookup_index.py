"""The lookup index: identities and free-text mentions -> (dataset, key), in one DuckDB file of the workspace.

`privacyops index` builds `index.duckdb` beside the map: every normalised e-mail (`lower(trim(...))`), phone
(`reverse(digits)`, the expression the stores' own indexes use) and id value of every identity column, and for
every free-text field the e-mail local parts (`NAME@`) and the phone-number digit windows (every run of 8 =
`phone_match_digits` digits written as a phone number may be) found in it. A lookup then probes this file for its
seeds, its identity expansion and its mentions instead of scanning, and reads the matching rows from the source by
primary key.

Format (INDEX_VERSION 2): `ident (h, value, c, k)`: `h` = hash() of "KIND:VALUE" (phones: "phone:" and the first
6 reversed digits) carries the ART index: 8-byte keys make it about half the size of one over the key text and
faster to build; a probe compares the hash, then the kind and the value as text, so a hash shared by two keys never
answers wrongly. `c` numbers the (dataset, column, kind) of `ident_cols`; `k` is the primary key as one text (a
one-column key's value, else its JSON array). Each column's entries are stored sorted by `k`, so a refresh finds
the entries of a changed row by zone maps instead of a scan of every entry. `meta` holds the format and the hash of
a fixed text: an index of another format, or read by an engine that hashes differently, is stale for every dataset
("rebuild it with `privacyops index`"), never misread; a refresh leaves such an index untouched.

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
from ..map import Dataset
from ..sources import Connector, connect_duckdb
from ..sources.write_chain import file_stat
from .folder import Workspace, close_readers
from .lookup_entries import (  # noqa: F401
    FEW_KEYS,
    HASH_CHECK,
    INDEX_FILE,
    INDEX_VERSION,
    INDEXED_SOURCE_KINDS,
    LOCAL_PART_RE,
    NAME_COUNT,
    NAME_GROUP,
    NAME_KEYS,
    NAME_ROWS,
    PHONE_KEY_DIGITS,
    PHONE_RUN_RE,
    PROBE_JOIN_FROM,
    UNVERIFIED,
    _covered,
    _key_list,
    _lit,
    _only_ours,
    drop_entries,
    hash_ranges,
    firsts_in,
    dataset_spec,
    email_key,
    fingerprint,
    hits_of,
    probed,
    ident_columns,
    identity_sql,
    index_applies,
    index_format_problem,
    index_path,
    key_checksum,
    key_of_text,
    key_text_sql,
    moved_fingerprint,
    rows_of_keys,
    mention_keys,
    mention_sql,
    names_sql,
    probe_plan,
    source_signature,
)
from .lookup_names import picked_spellings

BUILD_MEMORY_LIMIT = "600MB"
"""DuckDB memory_limit of the connection that builds the index: its sort and ART index spill to a folder beside the
file beyond this, so `privacyops index` stays within about 1 GB at a million subjects."""
ART_BYTES_PER_KEY = 56  # memory_limit while the ART indexes are built, per key (see build_lookup_index)
_IDENT_COLUMNS = "h UBIGINT, value VARCHAR, c USMALLINT, k VARCHAR"
_MENTION_COLUMNS = "key VARCHAR, dataset VARCHAR, k VARCHAR[]"


@dataclass
class IndexBuild:
    """What `build_lookup_index` did."""

    datasets: dict[str, int] = field(default_factory=dict)  # dataset -> rows covered
    identities: int = 0
    mentions: int = 0
    skipped: list[str] = field(default_factory=list)  # datasets on sources the index does not cover
    seconds: float = 0.0


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
        # FSST string compression: off for the names tables and the mentions (scanning the names' key lists, and
        # the mention ART over strings, cost a third more with it), on for the identity entries (their ART is over
        # hashes; it costs their inserts ~7% and saves a quarter of the file at a million subjects)
        out.execute("SET disabled_compression_methods = 'fsst'")
        out.execute("CREATE TABLE datasets (dataset VARCHAR PRIMARY KEY, source VARCHAR, spec VARCHAR, "
                    "fingerprint VARCHAR, rows BIGINT, built_at VARCHAR)")
        out.execute("CREATE TABLE sources (source VARCHAR PRIMARY KEY, signature VARCHAR)")
        out.execute("CREATE TABLE name_tables (dataset VARCHAR PRIMARY KEY, name_table VARCHAR)")
        out.execute("CREATE TABLE meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
        out.execute("INSERT INTO meta VALUES ('format', ?), ('hash_check', CAST(hash(?) AS VARCHAR))",
                    [str(INDEX_VERSION), HASH_CHECK])
        out.execute("CREATE TABLE ident_cols (c USMALLINT PRIMARY KEY, dataset VARCHAR, col VARCHAR, kind VARCHAR, "
                    "arity USMALLINT)")
        cols: dict[tuple[str, str, str], int] = {}
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
            for entry in ident_columns(ds):
                cols[entry] = len(cols) + 1
                out.execute("INSERT INTO ident_cols VALUES (?, ?, ?, ?, ?)", [cols[entry], *entry,
                                                                             len(ds.primary_key)])
            selects["ident"] += identity_sql(con, ds, digits, rel, cols)
            selects["mention"] += mention_sql(con, ds, digits, rel)
            sql = names_sql(con, ds)
            if sql is not None:
                table = f"names_{len(report.datasets)}"
                out.register("_batch", con.con.execute(sql).to_arrow_reader(100_000))
                out.execute(f"CREATE TABLE {table} AS SELECT *, row_number() OVER () AS {NAME_GROUP} FROM _batch")
                out.unregister("_batch")
                _add_name_keys(out, table, 0)
                out.execute("INSERT INTO name_tables VALUES (?, ?)", [ds.name, table])
            rows = int(fp.split(":")[0])
            report.datasets[ds.name] = rows
            out.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?)",
                        [ds.name, ds.source, dataset_spec(ws, ds), fp, rows,
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())])
        ws.close()  # the sources' own connections (and their page caches) are let go before the big inserts
        # Each identity column is inserted sorted by primary key (a sort of that column's rows only): the entries
        # of one row of a dataset then lie in one row group per column, which a refresh finds by zone maps (the
        # ART over hashes builds as fast over these runs as over hash-sorted ones). Each free-text field is
        # inserted sorted by its mention key, over which the ART of that small table builds several times faster.
        for table, columns in (("ident", _IDENT_COLUMNS), ("mention", _MENTION_COLUMNS)):
            out.execute("CHECKPOINT")  # what is written so far keeps its compression; the next table gets its own
            out.execute("RESET disabled_compression_methods" if table == "ident" else
                        "SET disabled_compression_methods = 'fsst'")
            out.execute(f"CREATE TABLE {table} ({columns})")
            for sql in selects[table]:
                out.execute(f"INSERT INTO {table} SELECT * FROM ({sql}) ORDER BY {'k' if table == 'ident' else 'key'}")
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
        art_mb = max(int(BUILD_MEMORY_LIMIT.removesuffix("MB")),  # MB: 10^6 bytes
                  (report.identities + report.mentions) * ART_BYTES_PER_KEY // 10**6)
        out.execute(f"SET memory_limit = '{art_mb}MB'")
        for table, column in (("ident", "h"), ("mention", "key")):
            out.execute(f"CREATE INDEX {table}_{column} ON {table} ({column})")
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


def refresh_lookup_index(ws: Workspace, changed: dict[str, Iterable[tuple]],
                         checksums: dict[str, tuple[tuple[int, int], tuple[int, int]]] | None = None) -> list[str]:
    """After privacyops changed rows (an erasure, a rectification): the index entries of those rows (dataset ->
    primary keys) are replaced by what the source holds now (nothing for deleted rows: an erased identifier leaves
    the index too), their name spellings updated, and the datasets' coverage recorded anew (a dataset whose map
    changed since the build is left stale). The source's file stat is recorded only when every other dataset of it
    still matches the index (else those stay stale). Returns the datasets refreshed (none without an index).
    `checksums` (dataset -> the changed rows' `key_checksum` before and after the writer changed them) moves a DuckDB
    dataset's recorded fingerprint instead of scanning the dataset, when only this process wrote the file since.

    Cost at a million subjects (one subject: 4 datasets, 8 rows): ~0.9 s CPU, of which the checksums of the source's
    datasets (`fingerprint`, a scan of each) are half; the entries' own update is proportional to the rows."""
    path = index_path(ws)
    if not path.exists():
        return []
    # Inside the caller's session (an erasure's): its readers and ledger stay open; alone, closed at the end.
    with ws.session(keep_readers=True):
        return _refresh(ws, path, changed, checksums or {})


def _all_fresh(index_stat: str, source: str, signature: str) -> bool:
    """Whether this process found every dataset of `source` as the index recorded it while the files had
    `signature` (a lookup's checksums, `LookupIndex.stale`: a copied workspace's index holds until its first write)."""
    got = _CHECKED.get((index_stat, source, signature))
    return got is not None and not any(got.values())


def _refresh(ws: Workspace, path: Path, changed: dict[str, Iterable[tuple]],
             checksums: dict[str, tuple[tuple[int, int], tuple[int, int]]]) -> list[str]:
    index_stat = json.dumps(file_stat(str(path)))  # as lookups knew it, before this refresh writes it
    ws.forget_kept("lookup-index")
    out = connect_duckdb(str(path), False, "lookup index")  # a writer: no memory limit (see duckdb_limits)
    done: list[str] = []
    try:
        if index_format_problem(out):  # another format: stays stale (reported) until rebuilt, never half-updated
            return done
        covered = {r[0]: (r[1], r[2], r[3]) for r in
                   out.execute("SELECT dataset, source, spec, fingerprint FROM datasets").fetchall()}
        tables = dict(out.execute("SELECT dataset, name_table FROM name_tables").fetchall())
        cols = {(r[1], r[2], r[3]): r[0] for r in out.execute("SELECT c, dataset, col, kind FROM ident_cols").fetchall()}
        digits = ws.datamap.settings.phone_match_digits
        todo = {name: [[str(v) for v in k] for k in keys] for name, keys in changed.items()}
        # A dataset whose map changed since the build stays stale: its other rows' entries are of the old map.
        todo = {name: keys for name, keys in todo.items() if name in ws.datamap.datasets and name in covered and
                keys and covered[name][1] == dataset_spec(ws, ws.datamap.datasets[name])}
        fps: dict[str, str] = {}
        before = _signatures(out)  # what the index certified of each source's files
        memo: dict[str, bool] = {}

        def proven(source: str) -> bool:  # changed only by this process's last writing session (write_chain.py)
            if source not in memo:
                con = ws.connector(source)
                memo[source] = _only_ours(con, before.get(source), source_signature(
                    con, [d for d in ws.datamap.datasets.values() if d.source == source]),
                    lambda sig: _all_fresh(index_stat, source, sig))
            return memo[source]

        dropped = sum(map(len, todo.values())) > FEW_KEYS  # a batch's thousands: dropped first, on their own
        if dropped:
            out = _drop_first(path, out, todo, cols)
        out.execute("BEGIN TRANSACTION")
        if not dropped:
            drop_entries(out, todo, cols)
        for name, keys in todo.items():
            ds = ws.datamap.datasets[name]
            con = ws.connector(ds.source)
            firsts = con.coerce(ds, ds.primary_key[0], [k[0] for k in keys])
            rel, params = rows_of_keys(con, ds, keys)  # the changed rows
            for table, sqls in (("ident", identity_sql(con, ds, digits, rel, cols) if firsts else []),
                                ("mention", mention_sql(con, ds, digits, rel) if firsts else [])):
                for sql in sqls:
                    out.register("_batch", con.con.execute(sql, params).to_arrow_reader(100_000))
                    out.execute(f"INSERT INTO {table} SELECT * FROM _batch")
                    out.unregister("_batch")
            if name in tables and names_sql(con, ds):
                _refresh_names(out, tables[name], keys, con.con.execute(names_sql(con, ds, rel), params)
                               if firsts else None)
            # A DuckDB file changed by someone else too since the index held: this dataset's other rows may
            # have changed with it (its checksum would take them in), so it stays stale until `index --refresh`.
            # Only this process wrote it since the index held: the fingerprint moves by the rows' checksums.
            moved = (moved_fingerprint(covered[name][2], *checksums[name]) if con.source.kind == "duckdb" and
                     name in checksums and proven(ds.source) else None)
            fp = fps[name] = moved or (fingerprint(con, ds) if con.source.kind != "duckdb" or
                                       proven(ds.source) else UNVERIFIED)
            out.execute("UPDATE datasets SET fingerprint = ?, rows = ?, spec = ? WHERE dataset = ?",
                        [fp, int(fp.split(":")[0]) if fp != UNVERIFIED else None, dataset_spec(ws, ds), name])
            done.append(name)
        if dropped:  # a batch's commit loads the ART parts of thousands of entries: the sources' caches let go
            close_readers(ws)  # (a few rows' parts are small; the readers stay for the verification that follows)
        out.execute("COMMIT")
        recorded = dict(out.execute("SELECT dataset, fingerprint FROM datasets").fetchall())
        for source in {covered[n][0] for n in done}:
            datasets = [d for d in ws.datamap.datasets.values() if d.source == source]
            con = ws.connector(source)
            written = {n for n in changed if n in covered and covered[n][0] == source}
            if any(fps.get(d.name) == UNVERIFIED for d in datasets):
                continue  # (see above) not certified: the unverified dataset reads stale
            if proven(source) and written <= set(done):
                out.execute("UPDATE sources SET signature = ? WHERE source = ?",
                            [source_signature(con, datasets), source])
                continue  # every change since the index last held is one refreshed above: no checksums needed
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
    return done


def _drop_first(path: Path, out: Any, todo: dict[str, list[list[str]]], cols: dict) -> Any:
    """A batch's old entries deleted before the refresh proper, the first commit marking their datasets unverified
    (a stop before the refresh commits leaves them stale: scanned, never hiding a record). A delete's commit loads
    the ART parts on the paths to its keys, held until the handle closes: one hash range per commit and handle
    (`hash_ranges`), so one subtree's parts at a time. Returns a fresh writer."""
    ranges = hash_ranges(out.execute("SELECT count(*) FROM ident").fetchone()[0])
    for i, hashes in enumerate(ranges):
        out.execute("BEGIN TRANSACTION")
        if i == 0:
            out.execute(f"UPDATE datasets SET fingerprint = ?, rows = NULL WHERE dataset IN "
                        f"({', '.join('?' * len(todo))})", [UNVERIFIED, *todo])
        drop_entries(out, todo, cols, None if len(ranges) == 1 else hashes, mentions=i == 0)
        out.execute("COMMIT")
        out.execute("CHECKPOINT")
        out.close()
        out = connect_duckdb(str(path), False, "lookup index")
    return out


def _add_name_keys(out: Any, table: str, after: int) -> None:
    """List in `{table}_keys` (sorted by key: zone maps find one) the keys of the spelling rows numbered above
    `after`, so a refresh finds the spelling of a changed row without scanning every row's key."""
    if after == 0:
        out.execute(f"CREATE TABLE {table}_keys (k VARCHAR, g BIGINT)")
    out.execute(f"INSERT INTO {table}_keys SELECT {key_text_sql('kl')} AS k, g FROM (SELECT unnest({NAME_KEYS}) AS kl, "
                f"{NAME_GROUP} AS g FROM {table} WHERE {NAME_GROUP} > ?) ORDER BY k", [after])


def _refresh_names(out: Any, table: str, keys: list[list[str]], fresh: Any) -> None:
    """A names table after its dataset's rows `keys` changed: those keys leave the spellings that listed them (a
    spelling listing none is dropped), and the rows' current spellings (`fresh`: `names_sql` over those rows) are
    added as rows of their own. Neither the source nor the spellings' key lists are scanned: `{table}_keys` says
    which spelling rows list the changed keys."""
    k, n, g = NAME_KEYS, NAME_COUNT, NAME_GROUP
    texts = out.execute(f"SELECT list_transform(?::VARCHAR[][], x -> {key_text_sql('x')})", [keys]).fetchone()[0]
    few = len(texts) <= FEW_KEYS
    match = f"k IN ({', '.join('?' * len(texts))})" if few else "k IN (SELECT unnest(?::VARCHAR[]))"
    params = texts if few else [texts]
    groups = [r[0] for r in out.execute(f"SELECT DISTINCT g FROM {table}_keys WHERE {match}", params).fetchall()]
    if groups:
        out.execute(f"UPDATE {table} SET {k} = list_filter({k}, x -> NOT list_contains($1::VARCHAR[][], x)), "
                    f"{n} = len(list_filter({k}, x -> NOT list_contains($1::VARCHAR[][], x))) "
                    f"WHERE {g} IN (SELECT unnest($2::BIGINT[]))", [keys, groups])
        out.execute(f"DELETE FROM {table} WHERE {n} = 0")
        out.execute(f"DELETE FROM {table}_keys WHERE {match}", params)
    if fresh is not None:
        top = out.execute(f"SELECT coalesce(max({g}), 0) FROM {table}").fetchone()[0]
        out.register("_batch", fresh.to_arrow_reader(100_000))
        try:
            out.execute(f"INSERT INTO {table} SELECT *, ? + row_number() OVER () FROM _batch", [top])
        finally:
            out.unregister("_batch")
        _add_name_keys(out, table, top)


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
# Data checks already made in this process: (index file stat, source, source signature) -> {dataset: reason or None}
_CHECKED: dict[tuple[str, str, str], dict[str, str | None]] = {}


class LookupIndex:
    """An open `index.duckdb` (read-only), with what it covered."""

    def __init__(self, path: Path):
        self.path = path
        self.stat = json.dumps(file_stat(str(path)))
        self.con = connect_duckdb(str(path), True, "lookup index")
        # Probes of a few keys and the scoring of a few thousand spellings: one thread (this file's own engine) saves
        # handing work to a second one on a busy machine (name search ~10% faster at 1M; probes no slower).
        self.con.execute("SET threads = 1")
        self.covered = {r[0]: (r[1], r[2], r[3]) for r in
                        self.con.execute("SELECT dataset, source, spec, fingerprint FROM datasets").fetchall()}
        self.signatures = dict(self.con.execute("SELECT source, signature FROM sources").fetchall())
        self.name_tables = dict(self.con.execute("SELECT dataset, name_table FROM name_tables").fetchall())
        self.unusable = index_format_problem(self.con)
        self.cols = ({} if self.unusable else
                     {r[0]: r[1:] for r in self.con.execute("SELECT c, dataset, col, kind, arity FROM ident_cols")
                      .fetchall()})

    def close(self) -> None:
        self.con.close()

    def writer_waiting(self) -> bool:
        """Whether `refresh_lookup_index` in another process waits for this file (then it is let go)."""
        from ..sources.duckdb import writer_waiting

        return writer_waiting(self.path)

    def crowded(self) -> bool:
        """Whether its ART index parts crowd its memory limit (`index_crowded`): closed after the operation."""
        from ..sources.duckdb import index_crowded

        return index_crowded(self.con)

    def stale(self, ws: Workspace, ds: Dataset, signatures: dict[str, str]) -> str | None:
        """Why the index cannot answer for `ds` (None: it can). `signatures` memoises source signatures for the
        duration of one lookup."""
        if self.unusable:
            return self.unusable
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
        ids: as text). One query: the entries of the probes' hashes, then the kind and value compared as text (a
        hash shared by two keys returns nothing it should not)."""
        return self.identity_hits_many([(kind, values)], phone_digits)[0][0]

    def identity_hits_many(self, asks: Sequence[tuple[str, Iterable[str]]], phone_digits: int,
                           mentions: tuple[Sequence[str], Sequence[str]] | None = None
                           ) -> tuple[list[list[tuple[str, str, str, tuple]]], dict[str, set[tuple]] | None]:
        """`identity_hits` of each (kind, values) of `asks`, in one query for all (a lookup's seeds ask an e-mail as
        e-mail and as username; its expansion asks e-mails and phones): each answer is that of its own query, as
        every entry is checked against its own ask's kind and values. `mentions` (e-mails, phone needles): the same
        query answers `mention_hits` for them too, returned second (None when not asked, or not ASCII)."""
        plans, keys = [], set()
        for kind, values in asks:
            plan = probe_plan(kind, values, phone_digits)
            plans.append(plan)
            keys |= plan[0]
        mkeys = mention_keys(mentions[0], mentions[1]) if mentions and not self.unusable else None
        if (not keys and not mkeys) or self.unusable:
            return [[] for _ in asks], None
        probe = sorted(keys)
        if len(probe) + len(mkeys or ()) > PROBE_JOIN_FROM:  # a batch's thousands: joined scans, no ART parts
            rows = [(v, c, k, None) for v, c, k in probed(self.con, "SELECT value, c, k FROM ident WHERE h", probe,
                                                          "hash")] if probe else []
            rows += [(d, None, None, k) for d, k in probed(self.con, "SELECT dataset, k FROM mention WHERE key",
                                                           mkeys)] if mkeys else []
        else:  # a lookup's few keys as constants (ART probes), the mention entries beside them in one statement
            one = "= ?" if mkeys and len(mkeys) == 1 else f"IN ({', '.join('?' * len(mkeys or ()))})"
            cond = "h = hash(?::VARCHAR)" if len(probe) == 1 else \
                f"h IN ({', '.join(['hash(?::VARCHAR)'] * len(probe))})"
            sql = f"SELECT value, c, k, NULL::VARCHAR[] AS m FROM ident WHERE {cond}" if probe else ""
            if mkeys:  # c NULL marks the mention entries
                sql = (f"{sql} UNION ALL " if sql else "") + \
                    f"SELECT dataset, NULL::USMALLINT, NULL::VARCHAR, k FROM mention WHERE key {one}"
            rows = self.con.execute(sql, probe + (mkeys or [])).fetchall()
        found: dict[str, set[tuple]] | None = {} if mkeys else None
        for dataset, _, _, k in (r for r in rows if r[1] is None) if mkeys else ():
            found.setdefault(dataset, set()).add(tuple(k))  # type: ignore[union-attr]
        out = [hits_of(rows, kind, plan, self.cols) for (kind, _), plan in zip(asks, plans)]
        return out, found

    def mention_hits(self, emails: Sequence[str], needles: Sequence[str]) -> dict[str, set[tuple]]:
        """dataset -> keys of rows whose free text may mention one of the e-mails or phone needles (a superset:
        the caller checks the text as the scan does). One query (and one to lower-case as the index did)."""
        keys = mention_keys(emails, needles)
        if keys is None:  # a local part that is not ASCII: lower-cased as the index did
            locals_ = [k for k in (email_key(e) for e in emails) if k]
            locals_ = self.con.execute("SELECT list_transform(?::VARCHAR[], x -> lower(x))", [locals_]).fetchone()[0]
            keys = [f"email:{k}" for k in locals_] + [f"phone:{n}" for n in needles]
        out: dict[str, set[tuple]] = {}
        if not keys:
            return out
        for dataset, k in probed(self.con, "SELECT dataset, k FROM mention WHERE key", keys):
            out.setdefault(dataset, set()).add(tuple(k))
        return out

    def name_matches(self, con: Connector, ds: Dataset, columns: Sequence[str], query: str, threshold: float,
                     limit: int = 20) -> tuple[list[tuple[tuple, float]], int] | None:
        """`Connector.name_matches` over the distinct spellings: (key, score) of the rows it would return and how
        many rows matched in all; None when the index holds no names of `ds`. The same score SQL (the source's),
        the same threshold, and the same rank: a spelling borne by n rows counts n times."""
        got = self.name_spellings(con, ds, columns, query, threshold, limit)
        if got is None:
            return None
        picked, total = got
        score_of = {row: score for _, rows, score in picked for row in rows}
        if not score_of:
            return [], total
        keys = self.con.execute(f"SELECT rowid, {NAME_KEYS} FROM {self.name_tables[ds.name]} WHERE rowid IN "
                                f"({', '.join('?' * len(score_of))})", list(score_of)).fetchall()
        return [(tuple(k), score_of[row]) for row, ks in keys for k in ks], total

    def name_spellings(self, con: Connector, ds: Dataset, columns: Sequence[str], query: str, threshold: float,
                       limit: int = 20) -> tuple[list[tuple[tuple, list[int], float]], int] | None:
        """The spellings whose rows `name_matches` returns (lookup_names.picked_spellings); None when the index holds
        no names of `ds`. While the index is current for `ds`, the source's rows bearing them are those rows."""
        table = self.name_tables.get(ds.name)
        return None if table is None else picked_spellings(self.con, table, con, ds, columns, query, threshold, limit)

    def can_find_mentions(self, emails: Sequence[str], needles: Sequence[str], phone_digits: int) -> bool:
        """Whether the mention index can answer for these e-mails and phone needles (else: scan)."""
        return all(email_key(e) for e in emails) and all(len(n) == phone_digits for n in needles)


def open_lookup_index(ws: Workspace) -> LookupIndex | None:
    """The workspace's lookup index, kept open with its connectors (reopened when rebuilt); None without one."""
    path = index_path(ws)
    if not path.exists():
        return None
    idx = ws.kept("lookup-index", lambda: LookupIndex(path))
    if idx.stat != json.dumps(file_stat(str(path))):  # rebuilt since it was opened
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
