"""Writing one source's planned rows inside its transaction (`execute`): masks, then deletes, per dataset in an
order that respects references, set-based (one statement per dataset and chunk, per-row values through one joined
Arrow table on DuckDB engines), each count checked against the plan."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pyarrow as pa

from ..errors import SourceError
from ..map import Dataset
from ..sources import CHUNK
from ..workspace import Workspace
from .plan import DELETE, MASK, RETAIN, ErasureError, PlannedRow, dataset_order

UPDATE_CHUNK = 200  # rows per per-row UPDATE statement (CASE ... WHEN key THEN value)
SPLIT_CHECKPOINT_BYTES = 32 * 2 ** 20  # ART parts a dataset's commit loaded from which the writer checkpoints
KILL_ENV = "PRIVACYOPS_TEST_KILL_AFTER_DATASETS"  # test hook: SIGKILL this process after N datasets' commits


# ---------------------------------------------------------------------------------------------------------------
# Writing one source.


def _key_where(con, ds: Dataset, keys: list[tuple]) -> tuple[str, list[Any]]:
    """WHERE for composite keys: (a = ? AND b = ?) OR ..."""
    p = con.param
    one = "(" + " AND ".join(f"{con.quote(c)} = {p}" for c in ds.primary_key) + ")"
    return " OR ".join([one] * len(keys)), [v for k in keys for v in k]


def _delete(con, ds: Dataset, keys: list[tuple]) -> int:
    if len(ds.primary_key) == 1:
        return con.delete_in(ds, ds.primary_key[0], [k[0] for k in keys])
    if con.source.kind in ("parquet", "csv"):
        raise ErasureError(f"{ds.name}: rows of file sources with a composite primary key cannot be erased yet")
    n = 0
    for i in range(0, len(keys), 200):
        where, params = _key_where(con, ds, keys[i:i + 200])
        n += con._count_of(con.execute(f"DELETE FROM {con.relation(ds)} WHERE {where}", params))
    return n


def _update_each(con, ds: Dataset, key: str, items: list[tuple[Any, dict[str, Any]]]) -> int:
    """Per-row values. DuckDB and file sources join an Arrow table (the connector's update_rows); PostgreSQL and
    SQLite get one UPDATE per chunk with a CASE per column, instead of one statement per row."""
    if con.source.kind not in ("postgres", "sqlite") or len(items) == 1:
        return con.update_rows(ds, key, items)
    groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
    for k, vals in items:
        groups.setdefault(tuple(sorted(vals)), []).append((k, vals))
    p, qk, n = con.param, con.quote(key), 0
    for cols, group in groups.items():
        for i in range(0, len(group), UPDATE_CHUNK):
            part = group[i:i + UPDATE_CHUNK]
            keys = con.coerce(ds, key, [k for k, _ in part])
            if len(keys) != len(part):
                raise ErasureError(f"{ds.name}: key values of {key} do not fit the column")
            sets, params = [], []
            for c in cols:
                whens = " ".join([f"WHEN {p} THEN {p}"] * len(part))
                sets.append(f"{con.quote(c)} = CASE {qk} {whens} ELSE {con.quote(c)} END")
                for kv, (_, vals) in zip(keys, part):
                    params += [kv, vals[c]]
            sql = (f"UPDATE {con.relation(ds)} SET {', '.join(sets)} WHERE {qk} IN "
                   f"({', '.join([p] * len(part))})")
            n += con._count_of(con.execute(sql, params + keys))
    return n


def _mask(con, ds: Dataset, prs: list[PlannedRow]) -> int:
    """Masks grouped: rows getting the same values share one UPDATE per chunk; per-row values (pseudonyms) go
    through `_update_each`."""
    if len(ds.primary_key) != 1:
        if con.source.kind in ("parquet", "csv"):
            raise ErasureError(f"{ds.name}: rows of file sources with a composite primary key cannot be masked yet")
        n = 0
        for pr in prs:
            assignments = {c: m["value"] for c, m in pr.masks.items()}
            where, params = _key_where(con, ds, [pr.key])
            sets = ", ".join(f"{con.quote(c)} = {con.param}" for c in assignments)
            n += con._count_of(con.execute(f"UPDATE {con.relation(ds)} SET {sets} WHERE {where}",
                                           [*assignments.values(), *params]))
        return n
    key = ds.primary_key[0]
    if con.source.kind not in ("postgres", "sqlite") and len(prs) > 1:
        # DuckDB and files: every row's values in one Arrow table joined by one UPDATE per set of columns (the
        # connector's update_rows), instead of one UPDATE per group of rows sharing their values
        try:
            return con.update_rows(ds, key, [(pr.key[0], {c: m["value"] for c, m in pr.masks.items()})
                                             for pr in prs])
        except (pa.ArrowException, TypeError, ValueError):
            pass  # values of one column Arrow cannot type alike (a date beside a text): grouped as below
    same: dict[str, list[PlannedRow]] = {}
    for pr in prs:
        same.setdefault(json.dumps({c: m["value"] for c, m in sorted(pr.masks.items())}, sort_keys=True),
                        []).append(pr)
    n, single = 0, []
    for assignment, group in same.items():
        if len(group) == 1:
            single.append(group[0])
            continue
        n += con.update_in(ds, key, [pr.key[0] for pr in group], json.loads(assignment))
    if single:
        n += _update_each(con, ds, key, [(pr.key[0], {c: m["value"] for c, m in pr.masks.items()}) for pr in single])
    return n


def _apply(ws: Workspace, con, todo: dict[str, list[PlannedRow]]) -> dict[str, dict[str, int]]:
    """`con.split_commits` (a plan of many subjects): a DuckDB source commits dataset by dataset (`_commit_dataset`)."""
    con.unwritten = False
    split = getattr(con, "split_commits", False)
    if hasattr(con, "lift_limit") and con.source.kind == "duckdb":
        con.lift_limit()  # the writes pin the tables' ART indexes whole: no limit below that
    counts: dict[str, dict[str, int]] = {}
    for name in dataset_order(ws.datamap):  # children first
        prs = todo.get(name)
        if not prs:
            continue
        try:
            counts[name] = _apply_dataset(ws.datamap.datasets[name], con, prs)
        except SourceError as exc:
            exc.dataset = name  # which dataset's write the store refused: the failure message names it and its row
            raise
        if split and con.source.kind == "duckdb":
            _commit_dataset(con, len(counts))
    return counts


def _commit_dataset(con, done: int) -> None:
    """A batch's DuckDB source commits each dataset's writes (children first: every commit leaves the references
    whole) and checkpoints when the commit loaded many ART index parts. Why: a commit loads the ART parts of the
    primary keys its deletes touch, DuckDB never evicts them, and only a checkpoint lets them go; one commit of a
    thousand subjects' rows held them all at once (+450 MB at a million subjects; per dataset: at most ~90 MB).
    Safe to interrupt: the writer's lock is held throughout (no other process writes between two commits), a
    re-run reads the rows a commit erased as done (`_check_source`: "post") and erases the rest, so each subject
    still ends fully erased before the plan is verified and certified."""
    con.commit()
    art = con.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                          "WHERE tag = 'ART_INDEX'").fetchone()[0]
    if art > SPLIT_CHECKPOINT_BYTES:
        con.execute("CHECKPOINT")
    if os.environ.get(KILL_ENV) and done >= int(os.environ[KILL_ENV]):
        os.kill(os.getpid(), signal.SIGKILL)  # test hook: a kill -9 between two datasets' commits
    con.begin()


def _apply_dataset(ds: Dataset, con, prs: list[PlannedRow]) -> dict[str, int]:
    """One dataset's masks, then its deletes (chunked), each count checked against the plan."""
    name = ds.name
    masks = [pr for pr in prs if pr.action in (MASK, RETAIN) and pr.masks]
    deletes = [pr for pr in prs if pr.action == DELETE]
    c = {"deleted": 0, "masked": 0}
    if masks:
        n = _mask(con, ds, masks)
        if n != len(masks):
            raise ErasureError(f"{name}: {n} row(s) masked where {len(masks)} were planned (is the primary key "
                               f"unique?); this source was rolled back")
        c["masked"] += n
    for i in range(0, len(deletes), CHUNK * 10):
        part = deletes[i:i + CHUNK * 10]
        n = _delete(con, ds, [pr.key for pr in part])
        if n != len(part):
            raise ErasureError(f"{name}: {n} row(s) deleted where {len(part)} were planned (is the primary "
                               f"key unique?); this source was rolled back")
        c["deleted"] += n
    return c
