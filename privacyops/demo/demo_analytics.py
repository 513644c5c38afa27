"""Web analytics: ``web.analytics_events``, written to the Parquet lake: one part file per ``FILE_SUBJECTS``
customers, as a lake is partitioned (erasing one person's events rewrites the one file that holds them, so the
file's size is what that costs)."""

from __future__ import annotations

from pathlib import Path

from .demo_context import BuildContext, Chunk, sql_list
from .demo_schema import END
from .demo_texts import PAGES

__all__ = ["FILE_SUBJECTS", "write_analytics"]

FILE_SUBJECTS = 20_000
"""Customers per part file (events numbered in customer order, so the files and the ids do not depend on it)."""


def write_analytics(ctx: BuildContext, chunk: Chunk) -> None:
    """Write the analytics events of the chunk's accounts to lake part files, one per `FILE_SUBJECTS` customers
    (account ids grow with customer ids: numbering the events file by file numbers them as the whole chunk would)."""
    start = chunk.lo
    while start < chunk.hi:
        end = min((1 + (start - 1) // FILE_SUBJECTS) * FILE_SUBJECTS + 1, chunk.hi)
        _write_part(ctx, start, end, ctx.lake_dir / f"part-{start:010d}.parquet")  # names sort as the ids
        start = end


def _write_part(ctx: BuildContext, lo: int, hi: int, path: Path) -> None:
    off = ctx.next_id["web.analytics_events"]
    pages = sql_list(PAGES)
    # Straight from the query into the part file (no staging table: at a million subjects it would spill), in
    # event_id order, small row groups: a lookup decodes one.
    n = ctx.exec(f"""
    COPY (
    WITH a AS (
        SELECT account_id, created_at, coalesce(closed_at, {END}) AS end_at
        FROM app.user_accounts WHERE customer_id >= {lo} AND customer_id < {hi}
    ), e AS (
        SELECT *, unnest(range(1 + u(account_id, 130, 8))) AS k FROM a
    ), x AS (
        SELECT account_id, k, k // 3 AS sess,
               rts(h2(account_id, k // 3, 131), created_at, end_at - INTERVAL 10 MINUTE)
                   + to_seconds((k % 3) * (5 + u2(account_id, k, 132, 115))) AS occurred_at,
               u2(account_id, k, 133, 100) AS r
        FROM e
    )
    SELECT CAST({off} + row_number() OVER (ORDER BY account_id, occurred_at, k) AS BIGINT) AS event_id,
           CAST(account_id AS BIGINT) AS account_id,
           printf('%016x', h2(account_id, sess, 134)) AS session_id,
           occurred_at,
           list_element({pages}, 1 + u2(account_id, k, 135, {len(PAGES)})::INT) AS page,
           CASE WHEN k % 3 = 0 OR r < 55 THEN 'page_view' WHEN r < 80 THEN 'click'
                WHEN r < 88 THEN 'search' WHEN r < 95 THEN 'download' ELSE 'signup_start' END AS event_type,
           CASE WHEN u2(account_id, sess, 136, 100) < 8 THEN ip(h2(account_id, sess, 137), 44)
                ELSE ip(account_id * 2 + sess % 2, 44) END AS ip_address
    FROM x ORDER BY event_id
    ) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 8192)""")
    ctx.next_id["web.analytics_events"] += n
    ctx.lake_rows += n
