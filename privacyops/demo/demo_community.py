"""Rows with two people in them: ``community.messages`` (a sender and a recipient) and ``crm.referrals`` (a
referrer and the friend referred: a customer, or someone invited by e-mail who is not one yet).

The map names the parties: the sender owns a message (and its text), the recipient appears in it; the referrer owns
a referral, the referred friend appears in it (by customer id, or by the invitation's e-mail address).
"""

from __future__ import annotations

import datetime

from .demo_context import BuildContext, Chunk, sql_list
from .demo_people import MUL, POOL
from .demo_schema import DEMO_TODAY, END
from .demo_stories import STORY_CUSTOMERS
from .demo_texts import CHATS, INVITE_DOMAINS

__all__ = ["INVITE_DAYS", "insert_community_messages", "insert_referrals"]

INVITE_DAYS = 90
"""An invitation nobody took up within this many days is `expired` (else still `invited`)."""


def insert_community_messages(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the messages the chunk's customers sent (0-3 each) to other customers generated so far, while both
    were customers."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "community.messages"
    if first:
        ctx.insert_stories(table)
    if blo >= hi:
        return
    off = ctx.next_id[table]
    first_bulk = STORY_CUSTOMERS + 1  # recipients are bulk customers of the whole company generated so far
    span = f"({chunk.unit_hi('customer_id')} - {first_bulk})"  # ... up to the end of the sender's unit
    n = ctx.exec(f"""
    INSERT INTO community.messages
    WITH s AS (
        SELECT customer_id, created_at, coalesce(closed_at, {END}) AS end_at,
               CASE WHEN u(customer_id, 150, 100) < 70 THEN 0 WHEN u(customer_id, 150, 100) < 85 THEN 1
                    WHEN u(customer_id, 150, 100) < 95 THEN 2 ELSE 3 END AS n
        FROM crm.customers WHERE customer_id >= {blo} AND customer_id < {hi}
    ), e AS (
        SELECT *, unnest(range(n)) AS k FROM s
    ), x AS (
        SELECT *, {first_bulk} + u2(customer_id, k, 151, {span}) AS o FROM e
    ), y AS (
        SELECT x.customer_id, x.k,
               CASE WHEN x.o <> x.customer_id THEN x.o WHEN x.o > {first_bulk} THEN x.o - 1 ELSE x.o + 1 END AS rid,
               x.created_at, x.end_at
        FROM x
    ), m AS (
        SELECT y.customer_id, y.k, y.rid, greatest(y.created_at, r.created_at) AS w_lo,
               least(y.end_at, coalesce(r.closed_at, {END})) AS w_hi
        FROM y JOIN crm.customers r ON r.customer_id = y.rid
    ), t AS (
        SELECT customer_id, k, rid, rts(h2(customer_id, k, 153), w_lo, w_hi) AS sent_at,
               u2(customer_id, k, 152, {len(CHATS)}) AS ci
        FROM m WHERE w_hi > w_lo + INTERVAL 1 HOUR
    )
    SELECT {off} + row_number() OVER (ORDER BY t.customer_id, t.sent_at, t.k), t.customer_id, t.rid, c.body,
           t.sent_at
    FROM t JOIN pool_chat c ON c.idx = t.ci
    ORDER BY 1""")
    ctx.next_id[table] += n


def insert_referrals(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's referrals: one from about a tenth of its customers, of another customer of the chunk who
    joined later (each referred at most once), else of a friend invited by e-mail who is no customer."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "crm.referrals"
    if first:
        ctx.insert_stories(table)
    if hi - blo < 2:
        return
    off = ctx.next_id[table]
    # a rotation of the bulk ids of the referrer's unit: two referrers never name the same friend, nobody names
    # themselves (a unit of fewer than two bulk customers refers nobody)
    ulo, size = chunk.unit_lo("customer_id"), f"({chunk.unit_hi('customer_id')} - {chunk.unit_lo('customer_id')})"
    shift = f"(1 + ({ctx.seed * 7_919} + {chunk.unit_no('customer_id')} * 104729) % ({size} - 1))"
    invite_off = (ctx.seed * 31_337 + 9_001) % 9_900_000
    domains = sql_list(INVITE_DOMAINS)
    pending = DEMO_TODAY - datetime.timedelta(days=INVITE_DAYS)  # newer invitations are still open
    n = ctx.exec(f"""
    INSERT INTO crm.referrals
    WITH r AS (
        SELECT customer_id, country, created_at, coalesce(closed_at, {END}) AS end_at,
               {ulo} + (customer_id - {ulo} + {shift}) % {size} AS cand
        FROM crm.customers
        WHERE customer_id >= {blo} AND customer_id < {hi} AND u(customer_id, 160, 100) < 10 AND {size} >= 2
    ), j AS (
        SELECT r.*, f.created_at AS f_created,
               f.created_at > r.created_at + INTERVAL 1 DAY AND f.created_at < r.end_at AS joined
        FROM r JOIN crm.customers f ON f.customer_id = r.cand
        WHERE f.customer_id >= {blo} AND f.customer_id < {hi}
    ), x AS (
        SELECT j.*,
               CAST(CASE WHEN joined THEN rts(h(customer_id, 161),
                                             greatest(created_at, f_created - INTERVAL 60 DAY), f_created)
                         ELSE rts(h(customer_id, 161), created_at, end_at - INTERVAL 1 DAY) END AS DATE) AS on_day,
               u(customer_id, 162, 2) AS gender, u(customer_id, 163, {POOL}) AS fi, u(customer_id, 164, {POOL}) AS li
        FROM j
    )
    SELECT {off} + row_number() OVER (ORDER BY x.customer_id), x.customer_id,
        CASE WHEN x.joined THEN x.cand END,
        CASE WHEN NOT x.joined
             THEN fn.ascii || '.' || ln.ascii || (100 + (x.customer_id * {MUL} + {invite_off}) % 9900000) || '@'
                  || list_element({domains}, 1 + u(x.customer_id, 165, {len(INVITE_DOMAINS)})::INT) END,
        x.on_day,
        CASE WHEN x.joined THEN 'joined' WHEN x.on_day >= DATE '{pending}' THEN 'invited' ELSE 'expired' END
    FROM x
    JOIN pool_first fn ON fn.k = pk(x.country, x.gender, x.fi)
    JOIN pool_last ln ON ln.k = pk(x.country, x.gender, x.li)
    ORDER BY 1""")
    ctx.next_id[table] += n
