"""Marketing: ``marketing.consent_events``, ``marketing.email_sends`` and ``marketing.newsletter_signups``.

Sends follow the marketing consent, except a small deterministic share after a withdrawal (the breach a consent
report must find). Newsletter sign-ups come from customers and from prospects who are no customer at all.
"""

from __future__ import annotations

from .demo_context import BuildContext, Chunk, sql_list
from .demo_people import MUL, POOL, PROSPECT_DOMAINS
from .demo_schema import END
from .demo_texts import N_CAMPAIGNS, NEWSLETTER_SOURCES

__all__ = ["insert_consents", "insert_newsletter", "insert_sends"]


def insert_consents(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's consent events (marketing granted / withdrawn, analytics)."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "marketing.consent_events"
    if first:
        ctx.insert_stories(table)
    if blo >= hi:
        return
    off = ctx.next_id[table]
    n = ctx.exec(f"""
    INSERT INTO marketing.consent_events
    WITH c AS (
        SELECT customer_id, created_at, coalesce(closed_at, {END}) AS end_at,
               u(customer_id, 90, 100) AS rm, u(customer_id, 91, 100) AS rw, u(customer_id, 92, 100) AS ra,
               u(customer_id, 93, 100) AS rmeth, u(customer_id, 94, 100) AS rnv
        FROM crm.customers WHERE customer_id >= {blo} AND customer_id < {hi}
    ), g AS (
        SELECT *, CASE WHEN rmeth < 55 THEN 'web_form' WHEN rmeth < 72 THEN 'email_link'
                       WHEN rmeth < 77 THEN 'support_request' ELSE 'import' END AS gmethod,
               CASE WHEN rmeth >= 77 THEN created_at
                    ELSE rts(h(customer_id, 95), created_at, least(end_at, created_at + INTERVAL 180 DAY))
               END AS g_at
        FROM c WHERE rm < 75
    ), w AS (
        SELECT customer_id, rts(h(customer_id, 96), g_at + INTERVAL 1 DAY, end_at - INTERVAL 3 DAY) AS w_at,
               u(customer_id, 97, 3) AS wm
        FROM g WHERE rw < 20 AND g_at + INTERVAL 1 DAY < end_at - INTERVAL 3 DAY
    ), ev AS (
        SELECT customer_id, 'marketing' AS purpose, 'granted' AS action, g_at AS occurred_at,
               gmethod AS method,
               CASE WHEN gmethod = 'import' AND rnv < 50 THEN NULL ELSE notice(g_at) END AS notice_version
        FROM g
        UNION ALL
        SELECT customer_id, 'marketing', 'withdrawn', w_at,
               CASE wm WHEN 0 THEN 'email_link' WHEN 1 THEN 'web_form' ELSE 'support_request' END,
               notice(w_at)
        FROM w
        UNION ALL
        SELECT customer_id, 'analytics', 'granted',
               rts(h(customer_id, 98), created_at, least(end_at, created_at + INTERVAL 30 DAY)),
               'web_form', notice(created_at)
        FROM c WHERE ra < 40
    )
    SELECT {off} + row_number() OVER (ORDER BY customer_id, occurred_at, purpose, action), customer_id,
           purpose, action, occurred_at, method, notice_version
    FROM ev ORDER BY 1""")
    ctx.next_id[table] += n


def insert_sends(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's marketing e-mail sends (after consent; a few after withdrawal)."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "marketing.email_sends"
    if first:
        ctx.insert_stories(table)
    if blo >= hi:
        return
    off = ctx.next_id[table]
    n = ctx.exec(f"""
    INSERT INTO marketing.email_sends
    WITH s AS (
        SELECT customer_id,
               min(occurred_at) FILTER (WHERE purpose = 'marketing' AND action = 'granted') AS g_at,
               min(occurred_at) FILTER (WHERE purpose = 'marketing' AND action = 'withdrawn') AS w_at
        FROM marketing.consent_events WHERE customer_id >= {blo} AND customer_id < {hi}
        GROUP BY customer_id
    ), c AS (
        SELECT s.customer_id, s.g_at, s.w_at, cu.email, coalesce(cu.closed_at, {END}) AS end_at
        FROM s JOIN crm.customers cu ON cu.customer_id = s.customer_id
        WHERE s.g_at IS NOT NULL AND cu.customer_id >= {blo} AND cu.customer_id < {hi}
    ), e AS (
        SELECT *, unnest(range(1 + u(customer_id, 100, 7))) AS k FROM c
    ), sends AS (
        SELECT customer_id, email, k, rts(h2(customer_id, k, 101), g_at, coalesce(w_at, end_at)) AS sent_at
        FROM e
        UNION ALL  -- the breach: a small deterministic share of withdrawn customers still gets one send
        SELECT customer_id, email, 99,
               rts(h(customer_id, 102), w_at + INTERVAL 1 HOUR, least(w_at + INTERVAL 60 DAY, end_at))
        FROM c WHERE w_at IS NOT NULL AND u(customer_id, 103, 100) < 5
    )
    SELECT {off} + row_number() OVER (ORDER BY s.customer_id, s.sent_at, s.k), s.customer_id, s.email,
           p.name || ' ' || strftime(s.sent_at, '%Y-%m'), s.sent_at,
           CASE WHEN u2(s.customer_id, s.k, 104, 100) < 35
                     AND s.sent_at + to_seconds(60 + u2(s.customer_id, s.k, 105, 3 * 86400)) < {END}
                THEN s.sent_at + to_seconds(60 + u2(s.customer_id, s.k, 105, 3 * 86400)) END
    FROM sends s JOIN pool_campaign p ON p.idx = u2(s.customer_id, s.k, 106, {N_CAMPAIGNS})
    ORDER BY 1""")
    ctx.next_id[table] += n


def insert_newsletter(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's newsletter sign-ups: some customers, and prospects."""
    first, blo, lo, hi = chunk.first, chunk.bulk_lo, chunk.lo, chunk.hi
    table = "marketing.newsletter_signups"
    if first:
        ctx.insert_stories(table)
    off = ctx.next_id[table]
    plo, phi = (lo - 1) // 5, (hi - 1) // 5  # prospects: ~0.2 per subject
    srcs = sql_list(NEWSLETTER_SOURCES)
    pdom = sql_list(PROSPECT_DOMAINS)
    n = ctx.exec(f"""
    INSERT INTO marketing.newsletter_signups
    WITH cust AS (
        SELECT {chunk.unit_no('customer_id')} AS unit, 0 AS kind, customer_id AS key,
            CASE WHEN u(customer_id, 111, 100) < 10 THEN upper(email[1]) || email[2:]
                 WHEN u(customer_id, 111, 100) < 15 THEN ' ' || email
                 WHEN u(customer_id, 111, 100) < 18 THEN upper(email) ELSE email END AS email,
            rts(h(customer_id, 112), greatest(created_at - INTERVAL 365 DAY, TIMESTAMP '2017-01-01'),
                least(coalesce(closed_at, {END}), created_at + INTERVAL 365 DAY)) AS signed_up_at,
            list_element({srcs}, 1 + u(customer_id, 113, 4)::INT) AS source
        FROM crm.customers
        WHERE customer_id >= {blo} AND customer_id < {hi} AND u(customer_id, 110, 100) < 10
    ), pb AS (
        SELECT p, CASE WHEN u(p, 120, 100) < 80 THEN 'LV' WHEN u(p, 120, 100) < 90 THEN 'LT' ELSE 'EE' END
               AS country, u(p, 121, 2) AS gender, u(p, 122, {POOL}) AS fi, u(p, 123, {POOL}) AS li
        FROM range({plo}, {phi}) t(p)
    ), prospects AS (
        SELECT (5 * pb.p + 4) // {chunk.unit} AS unit, 1 AS kind, pb.p AS key,
            f.ascii || '.' || l.ascii || (100 + (pb.p * {MUL} + {ctx.prospect_off}) % 9900000) || '@'
                || list_element({pdom}, 1 + u(pb.p, 124, {len(PROSPECT_DOMAINS)})::INT) AS email,
            rts(h(pb.p, 125), TIMESTAMP '2018-01-01', {END}) AS signed_up_at,
            list_element({srcs}, 1 + u(pb.p, 126, {len(NEWSLETTER_SOURCES)})::INT) AS source
        FROM pb
        JOIN pool_first f ON f.k = pk(pb.country, pb.gender, pb.fi)
        JOIN pool_last l ON l.k = pk(pb.country, pb.gender, pb.li)
    ), a AS (SELECT * FROM cust UNION ALL SELECT * FROM prospects)
    SELECT {off} + row_number() OVER (ORDER BY unit, kind, key), email, signed_up_at, source FROM a ORDER BY 1""")
    ctx.next_id[table] += n
