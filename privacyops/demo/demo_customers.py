"""The customers and their app: ``crm.customers``, ``app.user_accounts`` and ``app.login_events``."""

from __future__ import annotations

import hashlib

from .demo_context import BuildContext, Chunk, sql_list
from .demo_people import ALT_DOMAINS, MUL, POOL, STORY_NAME_SQL
from .demo_schema import END
from .demo_stories import STORY_ROWS

__all__ = ["ADDRESS_PERCENT", "insert_accounts", "insert_customers", "insert_logins"]

ADDRESSES = "crm.delivery_addresses"
ADDRESS_PERCENT = 55
"""Share of bulk customers (in %) with a delivery address of their own (``demo_addresses``)."""


def insert_customers(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's customers (the story people first, in chunk 0).

    About half the bulk customers get a delivery address of their own: its id is numbered here, in customer
    order after the addresses already written (and the story addresses), and ``insert_delivery_addresses`` writes
    the address rows."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    if first:
        ctx.insert_stories("crm.customers")
    if blo >= hi:
        return
    addr_off = ctx.next_id[ADDRESSES] + (len(STORY_ROWS[ADDRESSES]) if first else 0)
    phone = """CASE country
        WHEN 'LV' THEN CASE pf WHEN 0 THEN '+371 ' || d[1:4] || ' ' || d[5:8]
                               WHEN 1 THEN '+371 ' || d[1:4] || ' ' || d[5:8]
                               WHEN 2 THEN '+371' || d WHEN 3 THEN d WHEN 4 THEN d[1:4] || '-' || d[5:8]
                               ELSE '(+371) ' || d[1:2] || ' ' || d[3:5] || ' ' || d[6:8] END
        WHEN 'LT' THEN CASE WHEN pf < 3 THEN '+370 ' || d[1:3] || ' ' || d[4:8]
                            WHEN pf = 3 THEN '8 ' || d[1:3] || ' ' || d[4:8] ELSE '+370' || d END
        WHEN 'EE' THEN CASE WHEN pf < 4 THEN '+372 ' || d[1:4] || ' ' || d[5:8] ELSE d END
        WHEN 'DE' THEN CASE WHEN pf < 3 THEN '+49 151 ' || d ELSE '0151 ' || d END
        WHEN 'FI' THEN CASE WHEN pf < 3 THEN '+358 40 ' || d ELSE '040 ' || d END
        ELSE CASE WHEN pf < 3 THEN '+46 70 ' || d ELSE '070-' || d END END"""
    n = ctx.exec(f"""
    INSERT INTO crm.customers
    WITH b AS (
        SELECT i AS id,
            CASE WHEN u(i, 1, 100) < 76 THEN 'LV' WHEN u(i, 1, 100) < 84 THEN 'LT'
                 WHEN u(i, 1, 100) < 91 THEN 'EE' WHEN u(i, 1, 100) < 95 THEN 'DE'
                 WHEN u(i, 1, 100) < 98 THEN 'FI' ELSE 'SE' END AS country,
            u(i, 2, 2) AS gender, u(i, 3, {POOL}) AS fi, u(i, 4, {POOL}) AS li,
            u(i, 5, {POOL}) AS si, u(i, 6, {POOL}) AS ci, u(i, 9, 6) AS pf, u(i, 10, 4) AS di,
            1 + u(i, 11, 150) AS house, u(i, 12, 100) AS apt,
            rts(h(i, 7), TIMESTAMP '2017-01-02', TIMESTAMP '2026-10-15') AS created_at,
            u(i, 8, 100) < 8 AS is_closed, u(i, 140, 100) < {ADDRESS_PERCENT} AS has_addr,
            100 + (i * {MUL} + {ctx.email_off}) % 9900000 AS num,
            2000000 + (i * {MUL} + {ctx.phone_off}) % 7000000 AS n7
        FROM range({blo}, {hi}) t(i)
    ), b2 AS (
        SELECT b.*, f.name AS fname, f.ascii AS fascii,
               CASE WHEN (f.ascii, l0.ascii) IN {STORY_NAME_SQL} THEN l0.alt_idx ELSE l0.idx END AS li2
        FROM b
        JOIN pool_first f ON f.k = pk(b.country, b.gender, b.fi)
        JOIN pool_last l0 ON l0.k = pk(b.country, b.gender, b.li)
    ), c AS (
        SELECT b.*, (CASE b.country WHEN 'LV' THEN '2' WHEN 'LT' THEN '6' WHEN 'EE' THEN '5'
                WHEN 'DE' THEN '3' WHEN 'FI' THEN '1' ELSE '4' END) || b.n7::VARCHAR AS d,
               l.name AS lname, l.ascii AS lascii, s.street, ci.city, ci.postal_code, dm.domain
        FROM b2 b
        JOIN pool_last l ON l.k = pk(b.country, b.gender, b.li2)
        JOIN pool_street s ON s.k = pk(b.country, 0, b.si)
        JOIN pool_city ci ON ci.k = pk(b.country, 0, b.ci)
        JOIN pool_domain dm ON dm.k = pk(b.country, 0, b.di)
    )
    SELECT c.id, c.fname || ' ' || c.lname,
        c.fascii || '.' || c.lascii || c.num || '@' || c.domain,
        {phone},
        c.street || ' ' || c.house || CASE WHEN c.country IN ('LV', 'LT', 'EE') AND c.apt < 60
                                         THEN '-' || (1 + c.apt % 48) ELSE '' END,
        c.city, c.postal_code, c.country, c.created_at,
        CASE WHEN c.is_closed THEN rts(h(c.id, 13), c.created_at + INTERVAL 7 DAY, {END}) END,
        CASE WHEN c.is_closed THEN 'closed' ELSE 'active' END,
        CASE WHEN c.has_addr THEN {addr_off} + sum(c.has_addr::INT) OVER (ORDER BY c.id) END
    FROM c ORDER BY c.id""")
    ctx.next_id["crm.customers"] += n


def insert_accounts(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's app accounts: one per customer, a second (other e-mail) for some."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "app.user_accounts"
    if first:
        rows = [(*r[:4], hashlib.sha256(f"{ctx.seed}:{r[0]}".encode()).hexdigest(), *r[4:])
                for r in STORY_ROWS[table]]
        ctx.insert_stories(table, rows)
    if blo >= hi:
        return
    off = ctx.next_id[table]
    alt = sql_list(ALT_DOMAINS)
    n = ctx.exec(f"""
    INSERT INTO app.user_accounts
    WITH c AS (
        SELECT customer_id, email, split_part(email, '@', 1) AS local, created_at, closed_at,
               coalesce(closed_at, {END}) AS end_at, 1 + (u(customer_id, 20, 100) < 20)::INT AS n
        FROM crm.customers WHERE customer_id >= {blo} AND customer_id < {hi}
    ), a AS (
        SELECT *, unnest(range(n)) AS k FROM c
    ), x AS (
        SELECT *, {off} + row_number() OVER (ORDER BY customer_id, k) AS account_id,
            CASE WHEN k = 0 THEN rts(h2(customer_id, k, 21), created_at, created_at + INTERVAL 1 DAY)
                 ELSE rts(h2(customer_id, k, 21), created_at, end_at - INTERVAL 1 DAY) END AS acreated
        FROM a
    ), y AS (
        SELECT *, CASE WHEN closed_at IS NOT NULL THEN closed_at
                       WHEN k = 1 AND u(customer_id, 23, 100) < 10
                       THEN rts(h(customer_id, 24), acreated + INTERVAL 1 DAY, {END}) END AS aclosed
        FROM x
    )
    SELECT account_id, customer_id,
        CASE WHEN k = 0 THEN local ELSE local[1] || split_part(local, '.', 2) END,
        CASE WHEN k = 0 AND u(customer_id, 25, 100) < 4 THEN upper(email[1]) || email[2:]
             WHEN k = 0 THEN email
             ELSE local[1] || '.' || split_part(local, '.', 2) || '@'
                  || list_element({alt}, 1 + u(customer_id, 26, {len(ALT_DOMAINS)})::INT) END,
        printf('%016x%016x%016x%016x', h(account_id, 27), h(account_id, 28), h(account_id, 29),
               h(account_id, 30)),
        acreated,
        rts(h(account_id, 31), acreated, coalesce(aclosed, {END})),
        aclosed
    FROM y ORDER BY account_id""")
    ctx.next_id[table] += n


def insert_logins(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the login events of the chunk's accounts (story accounts included)."""
    lo, hi = chunk.lo, chunk.hi
    table = "app.login_events"
    off = ctx.next_id[table]
    n = ctx.exec(f"""
    INSERT INTO app.login_events
    WITH a AS (
        SELECT account_id, created_at, coalesce(closed_at, {END}) AS end_at
        FROM app.user_accounts WHERE customer_id >= {lo} AND customer_id < {hi}
    ), e AS (
        SELECT *, unnest(range(1 + u(account_id, 40, 4))) AS k FROM a
    ), x AS (
        SELECT account_id, k, rts(h2(account_id, k, 41), created_at, end_at) AS ts,
               CASE WHEN u2(account_id, k, 42, 100) < 8 THEN ip(h2(account_id, k, 43), 44)
                    ELSE ip(account_id * 2 + k % 2, 44) END AS ip,
               u(account_id, 45, 64) AS uai, u2(account_id, k, 46, 100) < 94 AS success
        FROM e
    )
    SELECT {off} + row_number() OVER (ORDER BY account_id, ts, k), account_id, ts, x.ip, p.ua, success
    FROM x JOIN pool_ua p ON p.idx = x.uai
    ORDER BY 1""")
    ctx.next_id[table] += n
