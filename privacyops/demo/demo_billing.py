"""Billing: ``catalog.products`` (fixed), ``billing.invoices`` and ``billing.invoice_lines``.

An invoice's total is the sum of its lines, so both are built together: ``insert_invoices`` stages the chunk's
invoices and lines in temporary tables and ``insert_invoice_lines`` writes the staged lines.
"""

from __future__ import annotations

from .demo_context import BuildContext, Chunk
from .demo_schema import END
from .demo_stories import STORY_ROWS

__all__ = ["PRODUCTS", "insert_invoice_lines", "insert_invoices", "insert_products"]


def _products() -> list[tuple]:
    # every product line in every tier, with its monthly unit price
    lines = [
        ("INV", "Invoicing Cloud", 9.0), ("CRM", "Baltic CRM", 14.0), ("HR", "People & Payroll", 19.0),
        ("STO", "Document Storage", 4.5), ("POS", "Point of Sale", 24.0), ("BKG", "Bookings", 7.0),
        ("SEC", "Secure Sign-in", 3.0), ("API", "Integration API", 29.0),
    ]
    tiers = [("STA", "Starter", 1.0), ("TEA", "Team", 2.5), ("BUS", "Business", 5.0), ("ENT", "Enterprise", 12.0),
             ("ADD", "Extra user", 0.4)]
    rows, pid = [], 1
    for code, name, base in lines:
        for tcode, tname, factor in tiers:
            rows.append((pid, f"BSF-{code}-{tcode}", f"{name} – {tname} (monthly)", round(base * factor, 2)))
            pid += 1
    return rows


PRODUCTS = _products()


def insert_products(ctx: BuildContext) -> None:
    """Insert the product catalogue (the same for every seed)."""
    ctx.insert_rows("catalog.products", PRODUCTS)


def insert_invoices(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the chunk's invoices (totals from their lines) and stage the lines."""
    first, blo, hi = chunk.first, chunk.bulk_lo, chunk.hi
    con = ctx.con
    con.execute("""CREATE OR REPLACE TEMP TABLE tmp_inv (invoice_id BIGINT, invoice_no VARCHAR,
        customer_id BIGINT, billing_name VARCHAR, billing_address VARCHAR, vat_number VARCHAR, issued_at DATE)""")
    if first:
        ctx.insert_rows("tmp_inv", STORY_ROWS["billing.invoices"])
        ctx.next_id["billing.invoices"] = len(STORY_ROWS["billing.invoices"])
    if blo < hi:
        off = ctx.next_id["billing.invoices"]
        ctx.next_id["billing.invoices"] += ctx.exec(f"""
        INSERT INTO tmp_inv
        WITH c AS (
            SELECT cu.customer_id, cu.full_name, cu.street_address, cu.city, cu.postal_code, cu.country,
                   pc.country_name, greatest(cu.created_at, TIMESTAMP '2018-01-01') AS start_at,
                   coalesce(cu.closed_at, {END}) AS end_at,
                   u(cu.customer_id, 70, 100) < 12 AS b2b, u(cu.customer_id, 71, 64) AS comp_i
            FROM crm.customers cu JOIN pool_country pc ON pc.country = cu.country
            WHERE cu.customer_id >= {blo} AND cu.customer_id < {hi}
        ), e AS (
            SELECT *, unnest(range(CASE WHEN end_at <= start_at + INTERVAL 1 DAY THEN 0
                                        ELSE u(customer_id, 72, 6) END)) AS k
            FROM c
        ), x AS (
            SELECT *, CAST(rts(h2(customer_id, k, 73), start_at, end_at) AS DATE) AS issued_at FROM e
        ), y AS (
            SELECT *, {off} + row_number() OVER (ORDER BY customer_id, issued_at, k) AS invoice_id FROM x
        )
        SELECT y.invoice_id, 'BSF-' || year(y.issued_at) || '-' || lpad(y.invoice_id::VARCHAR, 7, '0'),
            y.customer_id, CASE WHEN y.b2b THEN co.company ELSE y.full_name END,
            y.street_address || ', ' || y.postal_code || ' ' || y.city || ', ' || y.country_name,
            CASE WHEN NOT y.b2b THEN NULL
                 WHEN y.country = 'LV' THEN 'LV4000' || lpad(u(y.customer_id, 74, 10000000)::VARCHAR, 7, '0')
                 ELSE y.country || lpad(u(y.customer_id, 74, 1000000000)::VARCHAR, 9, '0') END,
            y.issued_at
        FROM y JOIN pool_company co ON co.k = pk(y.country, 0, y.comp_i)
        ORDER BY y.invoice_id""")
    off = ctx.next_id["billing.invoice_lines"]
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE tmp_lines AS
    WITH e AS (
        SELECT invoice_id, unnest(range(1 + u(invoice_id, 80, 3))) AS k FROM tmp_inv
    ), x AS (
        SELECT invoice_id, k, 1 + u2(invoice_id, k, 81, {len(PRODUCTS)})::INT AS pid,
               CASE WHEN u2(invoice_id, k, 82, 10) < 7 THEN 1 WHEN u2(invoice_id, k, 82, 10) < 9 THEN 2
                    ELSE 3 + u2(invoice_id, k, 83, 10)::INT END AS quantity
        FROM e
    )
    SELECT {off} + row_number() OVER (ORDER BY x.invoice_id, x.k) AS line_id, x.invoice_id,
           p.product_id, x.quantity::INTEGER AS quantity, p.unit_price,
           CAST(x.quantity * p.unit_price AS DECIMAL(12,2)) AS amount
    FROM x JOIN catalog.products p ON p.product_id = x.pid""")
    con.execute("""
    INSERT INTO billing.invoices
    SELECT i.invoice_id, i.invoice_no, i.customer_id, i.billing_name, i.billing_address, i.vat_number,
           i.issued_at, CAST(s.total AS DECIMAL(12,2)), 'EUR'
    FROM tmp_inv i JOIN (SELECT invoice_id, sum(amount) AS total FROM tmp_lines GROUP BY invoice_id) s
         ON s.invoice_id = i.invoice_id
    ORDER BY i.invoice_id""")


def insert_invoice_lines(ctx: BuildContext, chunk: Chunk) -> None:
    """Insert the invoice lines staged by ``insert_invoices`` (`chunk` unused: every step takes one)."""
    n = ctx.exec("INSERT INTO billing.invoice_lines SELECT * FROM tmp_lines ORDER BY line_id")
    ctx.con.execute("DROP TABLE tmp_lines; DROP TABLE tmp_inv")
    ctx.next_id["billing.invoice_lines"] += n
