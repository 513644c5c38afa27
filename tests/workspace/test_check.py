"""`check_workspace`: the validated map against the live sources (tables, columns, types) and policy warnings."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest

from privacyops.workspace import check_workspace, open_workspace
from tests.support import pg as pgserver
from tests.support.mini import MINI_MAP


def alter(ws, *statements: str) -> None:
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def line_no(needle: str, text: str = MINI_MAP) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def only_problem_at(report, path: str):
    hits = [p for p in report.problems if p.path == path]
    assert hits, f"no problem at {path}; got {[(p.path, p.message) for p in report.problems]}"
    return hits[0]


def test_mini_workspace_is_ok(mini_ws):
    report = check_workspace(mini_ws)
    assert report.ok, [str(p) for p in report.problems]
    assert report.problems == []
    assert report.rows == {"people.person": 4, "shop.orders": 5, "shop.order_events": 4, "shop.items": 3,
                           "mail.subscribers": 3}
    d = report.to_dict()
    assert d["ok"] is True and d["problems"] == [] and d["rows"] == report.rows


def test_count_rows_can_be_skipped(mini_ws):
    report = check_workspace(mini_ws, count_rows=False)
    assert report.ok
    assert report.rows == {}


def test_check_closes_the_sources(mini_ws):
    check_workspace(mini_ws)
    # nothing holds main.duckdb: another process (here: a writer connection) can open it
    alter(mini_ws, "CREATE TABLE scratch (x INTEGER)")


@pytest.mark.parametrize("sql, path, fragments, needle", [
    pytest.param("ALTER TABLE shop.orders DROP COLUMN note", "datasets.shop.orders.fields.note",
                 ["column 'note' does not exist in shop.orders", "it has: oid, pid, item_id, ordered_at"],
                 "fields: {note:", id="dropped-field"),
    pytest.param("ALTER TABLE people.person DROP COLUMN tel", "datasets.people.person.fields.tel",
                 ["column 'tel' does not exist"], "      tel: user.contact.phone_number", id="dropped-identity"),
    pytest.param("ALTER TABLE shop.orders DROP COLUMN ordered_at", "datasets.shop.orders.retention",
                 ["column 'ordered_at' does not exist"], "    retention: orders", id="dropped-anchor"),
    pytest.param("ALTER TABLE shop.orders DROP COLUMN pid", "datasets.shop.orders.references.pid",
                 ["column 'pid' does not exist"], "      pid: people.person.pid", id="dropped-reference"),
    pytest.param("ALTER TABLE shop.items RENAME TO goods", "datasets.shop.items",
                 ["shop.items", "does not exist"], "  shop.items:", id="renamed-table"),
    pytest.param("ALTER TABLE shop.orders ALTER ordered_at TYPE VARCHAR", "datasets.shop.orders.retention",
                 ["retention rule 'orders' counts from 'ordered_at'", "VARCHAR", "not a date"],
                 "    retention: orders", id="anchor-varchar"),
    pytest.param("ALTER TABLE shop.orders ALTER pid TYPE VARCHAR", "datasets.shop.orders.references.pid",
                 ["'pid' is VARCHAR but people.person.pid is INTEGER", "cannot match"],
                 "      pid: people.person.pid", id="reference-type-differs"),
    pytest.param("ALTER TABLE shop.items RENAME COLUMN item_id TO id", "datasets.shop.orders.references.item_id",
                 ["'shop.items' has no column 'item_id'"], "item_id: {to: shop.items.item_id", id="target-gone"),
    pytest.param("ALTER TABLE mail.subscribers ALTER address TYPE INTEGER USING sid",
                 "datasets.mail.subscribers.identities.email",
                 ["email column 'address' is INTEGER", "must be text"], "identities: {email: address}",
                 id="email-identity-not-text"),
    pytest.param("ALTER TABLE shop.orders ALTER note TYPE INTEGER USING oid", "datasets.shop.orders.fields.note",
                 ["free-text field 'note' is INTEGER, not text"], "fields: {note:", id="free-text-not-text"),
])
def test_live_mismatch_is_a_problem_with_path_and_line(mini_ws, sql, path, fragments, needle):
    alter(mini_ws, sql)
    report = check_workspace(mini_ws)
    assert not report.ok
    p = only_problem_at(report, path)
    for fragment in fragments:
        assert fragment in p.message, f"{fragment!r} not in {p.message!r}"
    assert p.line == line_no(needle)
    assert p.file == str(mini_ws.root / "privacyops.yaml")
    assert str(p).startswith(f"{mini_ws.root / 'privacyops.yaml'}:{p.line}: {path}: ")
    assert str(p) in report.to_dict()["problems"]
    assert report.to_dict()["ok"] is False


def test_only_the_broken_dataset_is_reported(mini_ws):
    alter(mini_ws, "ALTER TABLE shop.items RENAME TO goods")
    report = check_workspace(mini_ws)
    assert [p.path for p in report.problems] == ["datasets.shop.items"]
    assert "shop.items" not in report.rows
    assert report.rows["people.person"] == 4


def test_missing_source_folder_is_a_problem_not_a_crash(mini_ws):
    shutil.rmtree(mini_ws.root / "files")
    report = check_workspace(mini_ws)
    assert not report.ok
    p = only_problem_at(report, "datasets.shop.order_events")
    assert "folder" in p.message and "not found" in p.message
    assert "sources.files.path" in p.message
    assert p.line == line_no("  shop.order_events:")
    assert [q.path for q in report.problems] == ["datasets.shop.order_events"]
    assert report.rows["shop.orders"] == 5  # the other source is still checked


def test_missing_parquet_files_are_a_problem(mini_ws):
    (mini_ws.root / "files" / "events" / "part-0.parquet").unlink()
    report = check_workspace(mini_ws)
    p = only_problem_at(report, "datasets.shop.order_events")
    assert "no parquet files match" in p.message


def test_missing_database_file_is_a_problem_per_dataset(mini_ws):
    (mini_ws.root / "main.duckdb").unlink()
    report = check_workspace(mini_ws)
    assert sorted(p.path for p in report.problems) == sorted(
        ["datasets.people.person", "datasets.shop.orders", "datasets.shop.items", "datasets.mail.subscribers"])
    assert all("not found" in p.message for p in report.problems)


def test_warning_for_a_non_eu_source(mini_ws):
    assert not any("outside the EU/EEA" in w for w in check_workspace(mini_ws).warnings)  # DE is in the EU
    (mini_ws.root / "privacyops.yaml").write_text(MINI_MAP.replace("location: DE", "location: US"))
    ws = open_workspace(mini_ws.root)
    report = check_workspace(ws)
    assert report.ok
    outside = [w for w in report.warnings if "outside the EU/EEA" in w]
    assert outside == ["source 'files' is located in US, outside the EU/EEA: a transfer needs safeguards "
                       "(Chapter V GDPR)"]


def test_warning_for_a_non_eu_recipient(mini_ws):
    text = MINI_MAP.replace("sources:\n", "recipients:\n  mailer: {description: Mailer, location: US}\n"
                                          "  eu: {description: EU mailer, location: LV}\nsources:\n")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    report = check_workspace(open_workspace(mini_ws.root))
    assert [w for w in report.warnings if "recipient" in w] == [
        "recipient 'mailer' is located in US, outside the EU/EEA"]


def test_warnings_for_personal_data_without_retention(mini_ws):
    report = check_workspace(mini_ws)
    no_rule = sorted(w.split(":")[0] for w in report.warnings if "no retention rule" in w)
    # shop.orders has a rule; shop.items holds no personal data
    assert no_rule == ["mail.subscribers", "people.person", "shop.order_events"]
    assert report.ok  # warnings are not problems


def test_warning_for_unmapped_columns_of_personal_datasets(mini_ws):
    alter(mini_ws, "ALTER TABLE people.person ADD COLUMN birthday DATE",
          "ALTER TABLE shop.items ADD COLUMN colour VARCHAR")
    report = check_workspace(mini_ws)
    assert report.ok
    unmapped = [w for w in report.warnings if "without a data category" in w]
    assert unmapped == ["people.person: columns without a data category: birthday"]


# -- what the store's foreign keys suggest: parties, owned references, references the map does not list -----------

CLUB_SQL = [
    "CREATE TABLE addresses (address_id INTEGER PRIMARY KEY, street VARCHAR, city VARCHAR)",
    ("CREATE TABLE members (member_id INTEGER PRIMARY KEY, email VARCHAR, full_name VARCHAR, "
     "address_id INTEGER REFERENCES addresses (address_id))"),
    ("CREATE TABLE visits (visit_id INTEGER PRIMARY KEY, host_id INTEGER REFERENCES members (member_id), "
     "guest_member_id INTEGER REFERENCES members (member_id), visited_on DATE, note VARCHAR)"),
    ("CREATE TABLE lockers (locker_id INTEGER PRIMARY KEY, member_id INTEGER REFERENCES members (member_id), "
     "code VARCHAR)"),
]
CLUB_HEAD = """
version: 1
organisation: {name: Club, contact: privacy@club.example, authority: {name: A, country: LV}}
purposes: {club: {description: Run the club, legal_basis: contract}}
sources: {db: %s}
datasets:
  club.addresses:
    source: db
    table: addresses
    primary_key: address_id
    purposes: [club]
    fields: {street: user.contact.address.street, city: user.contact.address.city}
  club.members:
    source: db
    table: members
    subject: member
    primary_key: member_id
    identities: {email: email}
    purposes: [club]
    fields: {email: user.contact.email, full_name: user.name}
"""
# Written the way a first map often is: a plain reference from a person to their address, two people in a visit
# and no parties, the lockers' reference forgotten.
CLUB_NAIVE = CLUB_HEAD + """    references: {address_id: club.addresses.address_id}
  club.visits:
    source: db
    table: visits
    primary_key: visit_id
    references: {host_id: club.members.member_id, guest_member_id: club.members.member_id}
    purposes: [club]
    fields: {visited_on: system.operations, note: user.content}
  club.lockers:
    source: db
    table: lockers
    primary_key: locker_id
    purposes: [club]
    fields: {code: system.operations}
"""
# The same club mapped with parties and an owned address: nothing to warn about.
CLUB_GOOD = CLUB_HEAD + """    references: {address_id: {to: club.addresses.address_id, owned: true}}
  club.visits:
    source: db
    table: visits
    primary_key: visit_id
    references: {host_id: club.members.member_id, guest_member_id: club.members.member_id}
    parties:
      host: {reference: host_id}
      guest: {reference: guest_member_id}
    owner: host
    purposes: [club]
    fields: {visited_on: system.operations, note: user.content}
  club.lockers:
    source: db
    table: lockers
    primary_key: locker_id
    references: {member_id: club.members.member_id}
    purposes: [club]
    fields: {code: system.operations}
"""
VISITS_PARTIES = ("club.visits refers to people twice (host_id -> club.members, guest_member_id -> club.members): "
                  "name the parties (parties: {host: {reference: host_id}, guest: {reference: guest_member_id}}, "
                  "owner: the party the row belongs to)")
MEMBERS_OWNED = ("club.members.address_id points at club.addresses, which holds personal data (street, city): if "
                 "the row it points at is the member's own, mark the reference owned: true (address_id: {to: "
                 "club.addresses.address_id, owned: true}); if it is shared reference data, shared: true")
MAP_LACKS_IT = "; the store declares this foreign key, the map lists no reference: add {} under references"
LOCKERS_FORGOTTEN = ("club.lockers.member_id: the store declares a foreign key to club.members.member_id{} that the "
                     "map does not list; add member_id: club.members.member_id under references (with shared: true "
                     "if club.members is reference data, owned: true if the row it points at is this row's own)")


def reference_warnings(report) -> list[str]:
    return [w for w in report.warnings if " refers to people " in w or " points at " in w
            or "the store declares a foreign key" in w]


def club_workspace(root, kind: str, map_text: str):
    root.mkdir()
    if kind == "duckdb":
        source = "{kind: duckdb, path: club.duckdb, location: LV}"
        con = duckdb.connect(str(root / "club.duckdb"))
        for sql in CLUB_SQL:
            con.execute(sql)
        con.close()
    else:
        source = "{kind: sqlite, path: club.sqlite, location: LV}"
        con = sqlite3.connect(root / "club.sqlite")
        for sql in CLUB_SQL:
            con.execute(sql)
        con.commit()
        con.close()
    (root / "privacyops.yaml").write_text(map_text % source)
    return open_workspace(root)


def test_duckdb_club_warns_of_parties_owned_references_and_a_forgotten_key(tmp_path):
    ws = club_workspace(tmp_path / "club", "duckdb", CLUB_NAIVE)
    report = check_workspace(ws)
    assert report.ok, [str(p) for p in report.problems]
    with ws.session():
        key = ws.connector("db").foreign_keys(ws.datamap.datasets["club.lockers"])[0].name
    assert reference_warnings(report) == [MEMBERS_OWNED, VISITS_PARTIES, LOCKERS_FORGOTTEN.format(f" ({key})")]


def test_sqlite_club_warns_where_only_the_store_declares_the_references(tmp_path):
    text = (CLUB_NAIVE.replace("    references: {address_id: club.addresses.address_id}\n", "")
            .replace("references: {host_id: club.members.member_id, guest_member_id: club.members.member_id}",
                     "references: {host_id: club.members.member_id}"))
    report = check_workspace(club_workspace(tmp_path / "club", "sqlite", text))
    assert report.ok, [str(p) for p in report.problems]
    assert reference_warnings(report) == [
        MEMBERS_OWNED + MAP_LACKS_IT.format("address_id: club.addresses.address_id"),
        VISITS_PARTIES + MAP_LACKS_IT.format("guest_member_id: club.members.member_id"),
        LOCKERS_FORGOTTEN.format(""),  # SQLite names no constraint
    ]


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_a_map_with_parties_and_owned_references_gets_no_reference_warning(tmp_path, kind):
    report = check_workspace(club_workspace(tmp_path / "club", kind, CLUB_GOOD))
    assert report.ok, [str(p) for p in report.problems]
    assert reference_warnings(report) == []


def test_shared_references_to_people_and_rows_that_belong_to_the_person_need_nothing(tmp_path):
    text = (CLUB_NAIVE.replace("    references: {address_id: club.addresses.address_id}\n", "")
            .replace("guest_member_id: club.members.member_id}", "guest_member_id: {to: club.members.member_id, "
                                                                 "shared: true}}")
            .replace("    fields: {code: system.operations}\n", "    fields: {code: system.operations}\n"
                     "    references: {member_id: club.members.member_id}\n"))
    ws = club_workspace(tmp_path / "club", "duckdb", text)
    con = duckdb.connect(str(ws.root / "club.duckdb"))  # the address belongs to the member: found as theirs
    con.execute("ALTER TABLE addresses ADD COLUMN member_id INTEGER")
    con.close()
    text = text.replace("    fields: {street: user.contact.address.street",
                        "    references: {member_id: club.members.member_id}\n"
                        "    fields: {street: user.contact.address.street")
    (ws.root / "privacyops.yaml").write_text(text % "{kind: duckdb, path: club.duckdb, location: LV}")
    report = check_workspace(open_workspace(ws.root))
    assert report.ok, [str(p) for p in report.problems]
    # no parties needed (the guest is context), no owned address (it belongs to the member); only the key the map
    # leaves out is still said
    (only,) = reference_warnings(report)
    assert only.startswith("club.members.address_id: the store declares a foreign key to club.addresses.address_id")


RENTAL_MAP = """
version: 1
organisation: {name: Rentals, contact: privacy@rental.example, authority: {name: A, country: LV}}
purposes: {rent: {description: Rent films, legal_basis: contract}}
sources: {shop: {kind: postgres, dsn_file: shop.dsn, location: LV}}
datasets:
  shop.address:
    source: shop
    table: address
    primary_key: address_id
    purposes: [rent]
    fields: {address: user.contact.address.street, city: user.contact.address.city, phone: user.contact.phone_number}
  shop.customer:
    source: shop
    table: customer
    subject: customer
    primary_key: customer_id
    identities: {email: email}
    purposes: [rent]
    fields: {email: user.contact.email, first_name: user.name, last_name: user.name}
  shop.staff:
    source: shop
    table: staff
    subject: staff
    primary_key: staff_id
    identities: {email: email}
    references: {address_id: {to: shop.address.address_id, owned: true}}
    purposes: [rent]
    fields: {email: user.contact.email, first_name: user.name, last_name: user.name}
  shop.rental:
    source: shop
    table: rental
    primary_key: rental_id
    references:
      customer_id: shop.customer.customer_id
      staff_id: {to: shop.staff.staff_id, shared: true}
    purposes: [rent]
    fields: {rental_date: system.operations}
  shop.payment:
    source: shop
    table: payment
    primary_key: payment_id
    purposes: [rent]
    fields: {amount: system.operations, payment_date: system.operations}
"""


@pytest.mark.slow
def test_postgres_keys_on_partitions_warn_for_the_partitioned_payments(postgres_dsn, tmp_path):
    root = tmp_path / "rentals"
    root.mkdir()
    (root / "privacyops.yaml").write_text(RENTAL_MAP)
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "constraints_pg.sql"
    with pgserver.database(postgres_dsn, "check") as dsn:
        with pgserver.connect(dsn) as con:
            con.execute(fixture.read_text())
        (root / "shop.dsn").write_text(dsn)
        report = check_workspace(open_workspace(root))
    assert report.ok, [str(p) for p in report.problems]
    assert reference_warnings(report) == [
        ("shop.customer.address_id points at shop.address, which holds personal data (address, city, phone): if "
         "the row it points at is the customer's own, mark the reference owned: true (address_id: {to: "
         "shop.address.address_id, owned: true}); if it is shared reference data, shared: true"
         + MAP_LACKS_IT.format("address_id: shop.address.address_id")),
        ("shop.customer.referred_by: the store declares a foreign key to shop.customer.customer_id "
         "(customer_referred_by_fkey) that the map does not list; add referred_by: {to: shop.customer.customer_id, "
         "shared: true} under references (one person never belongs to another)"),
        # declared on the monthly partitions only, so found there
        ("shop.payment refers to people twice (customer_id -> shop.customer, staff_id -> shop.staff): name the "
         "parties (parties: {customer: {reference: customer_id}, staff: {reference: staff_id}}, owner: the party "
         "the row belongs to); the store declares these foreign keys, the map lists no reference: add "
         "customer_id: shop.customer.customer_id; staff_id: shop.staff.staff_id under references"),
        ("shop.payment.rental_id: the store declares a foreign key to shop.rental.rental_id "
         "(payment_p2024_01_rental_id_fkey) that the map does not list; add rental_id: shop.rental.rental_id under "
         "references (with shared: true if shop.rental is reference data, owned: true if the row it points at is "
         "this row's own)"),
    ]
