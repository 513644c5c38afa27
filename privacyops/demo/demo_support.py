"""Customer support: ``support.agents`` (fixed), ``support.tickets`` and ``support.ticket_messages``.

Agents are reference data a customer's tickets point at: a lookup shows them as context, only their first name
(``display_name``, which signs their answers) and team (the map's ``context_fields``), never their e-mail or the
helpdesk password hash.

Ticket messages are free text built from templates; some name the customer's own e-mail or phone, some another
customer's (the mentions a lookup must find).
"""

from __future__ import annotations

import hashlib

from .demo_context import BuildContext, Chunk
from .demo_schema import END, LAST
from .demo_stories import STORY_CUSTOMERS
from .demo_texts import TICKET_SUBJECTS, TOPICS, TPL_PER_KIND

__all__ = ["AGENTS", "insert_agents", "insert_messages", "insert_tickets"]


def _hash(agent_id: int) -> str:
    # a fixed, fake PBKDF2 hash of the agent's helpdesk password (credentials: never shown by a lookup)
    return f"pbkdf2_sha256$600000${hashlib.sha256(f'agent-{agent_id}'.encode()).hexdigest()[:22]}"


AGENTS = [  # agent_id, full_name, display_name (signs the answers), e-mail, helpdesk password hash, team
    (1, "Kristaps Ozoliņš", "Kristaps", "kristaps.ozolins@balticsoftware.example", _hash(1), "accounts"),
    (2, "Mārtiņš Kļaviņš", "Mārtiņš", "martins.klavins@balticsoftware.example", _hash(2), "technical"),
    (3, "Ilze Zariņa", "Ilze", "ilze.zarina@balticsoftware.example", _hash(3), "accounts"),
    (4, "Rūta Vītola", "Rūta", "ruta.vitola@balticsoftware.example", _hash(4), "accounts"),
    (5, "Anete Krūmiņa", "Anete", "anete.krumina@balticsoftware.example", _hash(5), "billing"),
    (6, "Edgars Eglītis", "Edgars", "edgars.eglitis@balticsoftware.example", _hash(6), "billing"),
    (7, "Tomas Kazlauskas", "Tomas", "tomas.kazlauskas@balticsoftware.example", _hash(7), "technical"),
    (8, "Kadri Tamm", "Kadri", "kadri.tamm@balticsoftware.example", _hash(8), "technical"),
    (9, "Dace Siliņa", "Dace", "dace.silina@balticsoftware.example", _hash(9), "billing"),
    (10, "Roberts Šteins", "Roberts", "roberts.steins@balticsoftware.example", _hash(10), "technical"),
    (11, "Elīna Lāce", "Elīna", "elina.lace@balticsoftware.example", _hash(11), "accounts"),
    (12, "Gints Vanags", "Gints", "gints.vanags@balticsoftware.example", _hash(12), "technical"),
]


def insert_agents(ctx: BuildContext) -> None:
    """Insert the support agents (the same for every seed)."""
    ctx.insert_rows("support.agents", AGENTS)


def insert_tickets(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's support tickets (0-3 per customer)."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "support.tickets"
    if first:
        ctx.insert_stories(table)
    if blo >= hi:
        return
    off = ctx.next_id[table]
    n = ctx.exec(f"""
    INSERT INTO support.tickets
    WITH c AS (
        SELECT customer_id, email, created_at, closed_at AS cclosed, coalesce(closed_at, {END}) AS end_at,
               CASE WHEN u(customer_id, 50, 100) < 45 THEN 0 WHEN u(customer_id, 50, 100) < 80 THEN 1
                    WHEN u(customer_id, 50, 100) < 95 THEN 2 ELSE 3 END AS n
        FROM crm.customers WHERE customer_id >= {blo} AND customer_id < {hi}
    ), t AS (
        SELECT *, unnest(range(n)) AS k FROM c
    ), x AS (
        SELECT customer_id, k, email, cclosed,
               rts(h2(customer_id, k, 51), created_at, end_at - INTERVAL 1 HOUR) AS opened_at,
               to_seconds(3600 + u2(customer_id, k, 52, 14 * 86400)) AS delay,
               u2(customer_id, k, 53, 100) AS r, 1 + u2(customer_id, k, 54, 12)::INT AS agent_id,
               u2(customer_id, k, 55, {len(TICKET_SUBJECTS)}) AS si
        FROM t
    ), y AS (
        SELECT x.*, opened_at + delay AS close_cand,
               cclosed IS NULL AND (opened_at + delay >= {END}
                    OR (r < 30 AND opened_at >= {END} - INTERVAL 30 DAY)) AS is_open,
               CASE WHEN r >= 98 THEN 'Account access for ' || email ELSE s.subject END AS subject
        FROM x JOIN pool_subject s ON s.idx = x.si
    )
    SELECT {off} + row_number() OVER (ORDER BY customer_id, opened_at, k), customer_id, agent_id, subject,
           CASE WHEN is_open THEN 'open' ELSE 'closed' END, opened_at,
           CASE WHEN is_open THEN NULL ELSE least(close_cand, {LAST}) END
    FROM y ORDER BY 1""")
    ctx.next_id[table] += n



# The placeholders of the message templates and what fills them, in the order they are replaced. A template is
# only searched for the placeholders it has (no value filled in contains a "{"), which skips most replace() calls.
_PLACES = [("first", "m.first_name"), ("email", "m.email"), ("phone", "m.phone"),
           ("other_email", "coalesce(o.o_email, '')"), ("other_phone", "coalesce(o.o_phone, '')"),
           ("agent", "a.display_name"), ("topic", "tt.topic")]


def _fill(body: str) -> str:
    """SQL: the template `body` with its placeholders replaced (``CASE`` skips the ones the template lacks)."""
    for name, value in _PLACES:
        body = f"CASE WHEN tp.has_{name} THEN replace({body}, '{{{name}}}', {value}) ELSE {body} END"
    return body

def insert_messages(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the messages of the chunk's tickets, alternating customer and agent."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "support.ticket_messages"
    if first:
        ctx.insert_stories(table)
    if blo >= hi:
        return
    con = ctx.con
    off = ctx.next_id[table]
    first_bulk = STORY_CUSTOMERS + 1  # the first bulk customer of the whole company, not of this chunk
    # other customers are picked among the bulk customers generated up to the end of the customer's unit
    span = f"({chunk.unit_hi('customer_id')} - {first_bulk})"
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE tmp_msg AS
    WITH t AS (
        SELECT t.ticket_id, t.customer_id, t.agent_id, t.opened_at,
               coalesce(t.closed_at, {LAST}) AS end_at, split_part(c.full_name, ' ', 1) AS first_name,
               c.email, c.phone, 2 + u(t.ticket_id, 60, 3) AS n
        FROM support.tickets t JOIN crm.customers c ON c.customer_id = t.customer_id
        WHERE t.customer_id >= {blo} AND t.customer_id < {hi}
          AND c.customer_id >= {blo} AND c.customer_id < {hi}
    ), e AS (
        SELECT *, unnest(range(n)) AS k FROM t
    ), x AS (
        SELECT *, u2(ticket_id, k, 61, 1000) AS mr,
               {first_bulk} + u2(ticket_id, k, 62, {span}) AS o
        FROM e
    )
    SELECT ticket_id, k, customer_id, agent_id, first_name, email, phone,
        CASE WHEN k % 2 = 1 THEN 'agent' ELSE 'customer' END AS author_type,
        opened_at + to_seconds((k * (date_diff('second', opened_at, end_at) // n))::BIGINT) AS sent_at,
        CASE WHEN k % 2 = 1 THEN 'agent' WHEN mr < 50 THEN 'own_email' WHEN mr < 90 THEN 'own_phone'
             WHEN mr < 110 THEN 'other_email' WHEN mr < 125 THEN 'other_phone'
             WHEN k = 0 THEN 'first' ELSE 'followup' END AS kind,
        CASE WHEN k % 2 = 0 AND mr >= 90 AND mr < 125
             THEN CASE WHEN o <> customer_id THEN o WHEN o > {first_bulk} THEN o - 1 ELSE o + 1 END END
             AS other_id,
        u2(ticket_id, k, 63, {TPL_PER_KIND}) AS ti, u2(ticket_id, k, 64, {len(TOPICS)}) AS topic_i
    FROM x""")
    con.execute("""
    CREATE OR REPLACE TEMP TABLE tmp_other AS
    SELECT customer_id AS other_id, email AS o_email, phone AS o_phone FROM crm.customers
    WHERE customer_id IN (SELECT other_id FROM tmp_msg WHERE other_id IS NOT NULL)""")
    n = ctx.exec(f"""
    INSERT INTO support.ticket_messages
    SELECT {off} + row_number() OVER (ORDER BY m.ticket_id, m.k), m.ticket_id, m.author_type,
        {_fill('tp.body')},
        m.sent_at
    FROM tmp_msg m
    JOIN (SELECT *, {', '.join(f"contains(body, '{{{p}}}') AS has_{p}" for p, _ in _PLACES)} FROM pool_tpl) tp
      ON tp.kind = m.kind AND tp.idx = m.ti
    JOIN pool_topic tt ON tt.idx = m.topic_i
    JOIN support.agents a ON a.agent_id = m.agent_id
    LEFT JOIN tmp_other o ON o.other_id = m.other_id
    ORDER BY 1""")
    con.execute("DROP TABLE tmp_msg; DROP TABLE tmp_other")
    ctx.next_id[table] += n
