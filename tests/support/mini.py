"""The mini workspace: a tiny hand-made schema unlike the demo's (people, shop, mail), and its variants."""

from __future__ import annotations

from pathlib import Path

import duckdb

MINI_MAP = """
version: 1
organisation:
  name: Mini Org
  contact: privacy@mini.example
  authority: {name: Test Authority, country: LV}
purposes:
  service: {description: Run the service, legal_basis: contract}
  mail: {description: Newsletters, legal_basis: consent}
retention:
  orders: {keep: 3 years, from: end_of_fiscal_year(ordered_at), ground: "Test law s.1"}
sources:
  main: {kind: duckdb, path: main.duckdb, location: LV}
  files: {kind: parquet, path: files, location: DE}
datasets:
  people.person:
    source: main
    subject: person
    primary_key: pid
    identities: {email: [mail, mail2], phone: tel, name: full_name, member_no: member_no}
    purposes: [service]
    fields:
      mail: user.contact.email
      mail2: user.contact.email
      tel: user.contact.phone_number
      full_name: user.name
      member_no: user.unique_id
  shop.orders:
    source: main
    primary_key: oid
    references:
      pid: people.person.pid
      item_id: {to: shop.items.item_id, shared: true}
    purposes: [service]
    retention: orders
    fields: {note: {category: user.content, free_text: true}, ordered_at: system.operations}
  shop.order_events:
    source: files
    table: "events/*.parquet"
    primary_key: eid
    references: {oid: shop.orders.oid}
    purposes: [service]
    fields: {ip: user.device.ip_address}
  shop.items:
    source: main
    primary_key: item_id
    fields: {title: system.operations}
  mail.subscribers:
    source: main
    primary_key: sid
    identities: {email: address}
    purposes: [mail]
    fields: {address: user.contact.email}
"""

def build_mini(root: Path) -> Path:
    """Create the mini workspace: 4 people (two share an e-mail), orders, shared items, Parquet events."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "privacyops.yaml").write_text(MINI_MAP)
    con = duckdb.connect(str(root / "main.duckdb"))
    con.execute("CREATE SCHEMA people; CREATE SCHEMA shop; CREATE SCHEMA mail")
    con.execute("CREATE TABLE people.person (pid INTEGER, full_name VARCHAR, mail VARCHAR, mail2 VARCHAR, "
                "tel VARCHAR, member_no VARCHAR)")
    con.execute("""INSERT INTO people.person VALUES
        (1, 'Jānis Bērziņš', 'Janis@Mini.example ', 'jb@other.example', '+371 2000 1111', 'M-001'),
        (2, 'Janis Berzins', 'janis2@mini.example', NULL, '2000-2222', 'M-002'),
        (3, 'Ieva Kalna', 'home@mini.example', NULL, '(+371) 2000 3333', 'M-003'),
        (4, 'Oskars Kalns', 'home@mini.example', NULL, '+371 2000 4444', 'M-004')""")
    con.execute("CREATE TABLE shop.items (item_id INTEGER, title VARCHAR)")
    con.execute("INSERT INTO shop.items VALUES (10, 'Pen'), (11, 'Book'), (12, 'Lamp')")
    con.execute("CREATE TABLE shop.orders (oid INTEGER, pid INTEGER, item_id INTEGER, note VARCHAR, "
                "ordered_at DATE)")
    con.execute("""INSERT INTO shop.orders VALUES
        (100, 1, 10, 'please call me on 2000 1111', DATE '2020-03-01'),
        (101, 1, 11, NULL, DATE '2025-01-05'),
        (102, 2, 10, 'gift for janis@mini.example', DATE '2024-02-02'),
        (103, 3, 11, NULL, DATE '2024-05-05'),
        (104, 4, 12, 'deliver to neighbour', DATE '2024-06-06')""")
    con.execute("CREATE TABLE mail.subscribers (sid INTEGER, address VARCHAR)")
    con.execute("INSERT INTO mail.subscribers VALUES (1, 'jb@other.example'), (2, 'someone@else.example'), "
                "(3, 'home@mini.example')")
    (root / "files" / "events").mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (SELECT * FROM (VALUES (1000, 100, '10.0.0.1'), (1001, 101, '10.0.0.2'),
        (1002, 102, '10.0.0.3'), (1003, 104, '10.0.0.4')) t(eid, oid, ip))
        TO '{root / "files" / "events" / "part-0.parquet"}' (FORMAT parquet)""")
    con.close()
    return root


# The mini workspace with an erasure policy: orders serve a legal obligation (bookkeeping), so their rule (3 years
# from the end of the fiscal year of ordered_at) keeps them; the note is redacted, the rest kept.
BOOKS = "  books: {description: Bookkeeping, legal_basis: legal_obligation}\n"

def erase_map(four_eyes: bool | None = None, roles: str | None = None) -> str:
    text = MINI_MAP.replace("  mail: {description: Newsletters, legal_basis: consent}\n",
                            "  mail: {description: Newsletters, legal_basis: consent}\n" + BOOKS)
    text = text.replace("    purposes: [service]\n    retention: orders\n",
                        "    purposes: [service, books]\n    retention: orders\n"
                        "    erasure: {action: mask, keep_fields: [oid, pid, item_id, ordered_at], "
                        "mask: {note: redact}}\n")
    assert BOOKS in text and "keep_fields: [oid" in text
    if four_eyes is not None:
        text = text.replace("purposes:\n", f"settings: {{four_eyes: {str(four_eyes).lower()}}}\npurposes:\n", 1)
    if roles:
        text += f"roles: {roles}\n"
    return text


# Identifiers every store must answer alike (DuckDB, PostgreSQL, SQLite; with and without indexes).
QUERIES = ["janis@mini.example", " JANIS@Mini.Example", "jb@other.example", "+371 2000 1111", "0037120001111",
           "20001111", "(+371) 2000-3333", "M-002", "home@mini.example", "someone@else.example", "Janis Berzins"]
