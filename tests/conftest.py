"""Shared fixtures: a tiny hand-made workspace whose schema is unlike the demo's, and seeded demo companies."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]

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


@pytest.fixture(scope="session")
def _mini_template(tmp_path_factory) -> Path:
    return build_mini(tmp_path_factory.mktemp("mini-template") / "mini")


@pytest.fixture()
def mini_ws(_mini_template, tmp_path, monkeypatch):
    """A fresh copy of the mini workspace per test (copied from a template built once: building is slower)."""
    from privacyops.workspace import open_workspace

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(shutil.copytree(_mini_template, tmp_path / "mini"))


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A PostgreSQL server for the session (tests/pgserver.py): a throwaway cluster, or
    $PRIVACYOPS_TEST_POSTGRES_DSN. Fails, never skips, when PostgreSQL is not installed. Give each test its own
    database: `pgserver.create_database(postgres_dsn)`."""
    import pgserver

    try:
        with pgserver.server() as dsn:
            yield dsn
    except pgserver.PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


def demo_workspace(tmp_path_factory, subjects: int = 1000, seed: int = 42) -> Path:
    """A demo company generated once per test session (reused by every test asking for the same size/seed)."""
    from privacyops.demo import generate_demo

    root = tmp_path_factory.getbasetemp() / f"demo-{subjects}-{seed}"
    if not (root / "company.duckdb").is_file():
        generate_demo(root, subjects=subjects, seed=seed, progress=False)
    return root


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    return demo_workspace(tmp_path_factory, 300)


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory) -> Path:
    return demo_workspace(tmp_path_factory, 1000)  # the defaults of `privacyops demo`


def cross_store_copy(src: Path, dst: Path, postgres_dsn: str, name: str = "xstore") -> Path:
    """A copy of a demo workspace spread over PostgreSQL, SQLite, CSV, DuckDB and Parquet (privacyops demo
    --postgres), in a fresh database of the test server."""
    import pgserver

    from privacyops.demo import distribute

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.head", "keys", "outputs",
                                                            "exports", "certificates"))
    distribute(dst, pgserver.create_database(postgres_dsn, name), progress=False)
    return dst
