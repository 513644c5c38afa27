"""Delivery addresses: ``crm.delivery_addresses``, a customer's own address row (``crm.customers.delivery_address_id``,
an owned reference in the map).

Hardware (card readers, POS terminals) and paper invoices go to it. Most bulk addresses are the customer's home
address, some another street in the same city (an office); most carry the customer's own phone for the courier.
The family of the stories shares one row (their home, with its landline): co-owned, never erased for one of them.
Bulk addresses are never shared, so a bulk customer's phone always leads back to that customer alone.
"""

from __future__ import annotations

from .demo_context import BuildContext, Chunk
from .demo_people import POOL
from .demo_schema import END

__all__ = ["insert_delivery_addresses"]


def insert_delivery_addresses(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the address rows the chunk's customers point at (their ids were numbered with the customers)."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    table = "crm.delivery_addresses"
    if first:
        ctx.insert_stories(table)
    if blo >= hi:
        return
    # last used within the 4 years before the customer left (or today): a few are older than the 3-year rule
    n = ctx.exec(f"""
    INSERT INTO crm.delivery_addresses
    WITH c AS (
        SELECT customer_id, delivery_address_id, street_address, city, postal_code, country, phone, created_at,
               coalesce(closed_at, {END}) AS end_at
        FROM crm.customers
        WHERE customer_id >= {blo} AND customer_id < {hi} AND delivery_address_id IS NOT NULL
    )
    SELECT c.delivery_address_id,
        CASE WHEN u(c.customer_id, 141, 100) < 75 THEN c.street_address
             ELSE s.street || ' ' || (1 + u(c.customer_id, 142, 120)) END,
        c.city, c.postal_code, c.country,
        CASE WHEN u(c.customer_id, 143, 100) < 80 THEN c.phone END,
        rts(h(c.customer_id, 144), greatest(c.created_at, c.end_at - INTERVAL 4 YEAR), c.end_at)
    FROM c JOIN pool_street s ON s.k = pk(c.country, 0, u(c.customer_id, 145, {POOL}))
    ORDER BY 1""")
    ctx.next_id[table] += n
