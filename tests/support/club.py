"""The club: a hand-made schema with several people per row, written the natural way with parties.

Members (people) own an address that two of them may share; visits name a host (a member) and a guest (by e-mail
and name); messages have a sender and a recipient; referrals a referrer and the member referred; payments name the
payer and the rental they pay for (which may be another member's); staff are shared reference data with a password
hash that must never be shown.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb

CLUB_MAP = """
version: 1
organisation:
  name: The Club
  contact: privacy@club.example
  authority: {name: Datu valsts inspekcija, country: LV}
purposes:
  membership: {description: Run the membership, legal_basis: contract}
  books: {description: Bookkeeping, legal_basis: legal_obligation}
retention:
  payments: {keep: 5 years, from: paid_on, ground: "Accounting law"}
sources:
  club: {kind: duckdb, path: club.duckdb, location: LV}
datasets:
  club.members:
    source: club
    subject: member
    primary_key: member_id
    identities: {email: email, phone: phone, name: full_name, member_id: member_id}
    references:
      address_id: {to: club.addresses.address_id, owned: true}
    purposes: [membership]
    fields:
      member_id: user.unique_id
      full_name: user.name
      email: user.contact.email
      phone: user.contact.phone_number
      address_id: user.unique_id
      joined_on: system.operations
  club.addresses:
    source: club
    primary_key: address_id
    identities: {phone: landline}
    purposes: [membership]
    fields:
      address_id: system.operations
      street: user.contact.address.street
      city: user.contact.address.city
      landline: user.contact.phone_number
  club.staff:
    source: club
    subject: employee
    primary_key: staff_id
    identities: {email: email}
    purposes: [membership]
    context_fields: [first_name]
    fields:
      staff_id: user.unique_id
      first_name: user.name
      email: user.contact.email
      password_hash: user.authorization.credentials
      team: system.operations
  club.visits:
    source: club
    primary_key: visit_id
    references:
      host_id: club.members.member_id
      staff_id: {to: club.staff.staff_id, shared: true}
    parties:
      host: {reference: host_id, fields: [host_note]}
      guest: {identities: {email: guest_email, name: guest_name}}
    owner: host
    purposes: [membership]
    fields:
      visit_id: system.operations
      host_id: user.unique_id
      host_note: user.content
      guest_email: user.contact.email
      guest_name: user.name
      visited_on: system.operations
      staff_id: system.operations
  club.messages:
    source: club
    primary_key: message_id
    references:
      sender_id: club.members.member_id
      recipient_id: club.members.member_id
    parties:
      sender: {reference: sender_id, fields: [body]}
      recipient: {reference: recipient_id}
    owner: sender
    purposes: [membership]
    fields:
      message_id: system.operations
      sender_id: user.unique_id
      recipient_id: user.unique_id
      body: {category: user.content.private, free_text: true}
      sent_at: system.operations
  club.referrals:
    source: club
    primary_key: referral_id
    references:
      referrer_id: club.members.member_id
      referred_id: club.members.member_id
    parties:
      referrer: {reference: referrer_id}
      referred: {reference: referred_id}
    owner: referrer
    purposes: [membership]
    fields:
      referral_id: system.operations
      referrer_id: user.unique_id
      referred_id: user.unique_id
      referred_on: system.operations
  club.rentals:
    source: club
    primary_key: rental_id
    references:
      member_id: club.members.member_id
    purposes: [membership]
    fields:
      rental_id: system.operations
      member_id: user.unique_id
      item: system.operations
      rented_on: system.operations
  club.payments:
    source: club
    primary_key: payment_id
    references:
      member_id: club.members.member_id
      rental_id: club.rentals.rental_id
    purposes: [membership, books]
    retention: payments
    fields:
      payment_id: system.operations
      member_id: user.unique_id
      rental_id: system.operations
      amount: user.financial
      paid_on: system.operations
"""

# Hand-picked rows; every test computes what it expects from these tables with SQL, not from privacyops.
MEMBERS = [  # member_id, full_name, email, phone, address_id, joined_on
    (1, "Ilze Kalna", "ilze@club.example", "+371 2000 0001", 10, dt.date(2020, 1, 5)),
    (2, "Maris Kalns", "maris@club.example", "+371 2000 0002", 10, dt.date(2020, 1, 5)),  # shares Ilze's address
    (3, "Anna Ozola", "anna@club.example", "+371 2000 0003", 11, dt.date(2021, 3, 1)),
    (4, "Peteris Liepa", "peteris@club.example", "+371 2000 0004", 12, dt.date(2022, 6, 9)),
]
ADDRESSES = [(10, "Brivibas 1", "Riga", "+371 6700 0010"), (11, "Elizabetes 2", "Riga", "+371 6700 0011"),
             (12, "Valdemara 3", "Cesis", None)]
STAFF = [(100, "Laura", "laura@club.example", "pbkdf2$secret-hash-1", "desk"),
         (101, "Janis", "janis.staff@club.example", "pbkdf2$secret-hash-2", "desk")]
VISITS = [  # visit_id, host_id, host_note, guest_email, guest_name, visited_on, staff_id
    (200, 1, "brought cake", "outsider@mail.example", "Olga Outsider", dt.date(2024, 2, 1), 100),
    (201, 1, None, "anna@club.example", "Anna Ozola", dt.date(2024, 3, 1), 101),  # a member as guest
    (202, 3, "late", "outsider@mail.example", "Olga Outsider", dt.date(2024, 4, 1), 100),
    (203, 4, "quiet", "visitor2@mail.example", "Viktors Viesis", dt.date(2024, 5, 1), None),
]
MESSAGES = [  # message_id, sender_id, recipient_id, body, sent_at
    (300, 1, 3, "Hi Anna, see you at the club", dt.datetime(2024, 1, 1, 10)),
    (301, 3, 1, "Thanks Ilze! call me at +371 2000 0003", dt.datetime(2024, 1, 2, 11)),
    (302, 4, 3, "Anna, your locker key is here", dt.datetime(2024, 1, 3, 12)),
    (303, 2, 4, "Peteris, the boat needs a check", dt.datetime(2024, 1, 4, 13)),
]
REFERRALS = [(400, 1, 3, dt.date(2021, 2, 1)), (401, 3, 4, dt.date(2022, 5, 1))]  # id, referrer, referred, on
RENTALS = [(500, 1, "kayak", dt.date(2024, 6, 1)), (501, 3, "bike", dt.date(2024, 6, 2))]
PAYMENTS = [  # payment_id, member_id (the payer), rental_id, amount, paid_on
    (600, 1, 500, 20.0, dt.date(2024, 6, 1)),
    (601, 4, 500, 5.0, dt.date(2024, 6, 3)),  # Peteris pays towards Ilze's kayak: his payment, not hers
    (602, 3, 501, 15.0, dt.date(2024, 6, 2)),
    (603, 1, 501, 2.0, dt.date(2024, 6, 4)),  # Ilze pays towards Anna's bike: hers
]


def _open(root: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The club's file attached under another name: the file is named like its schema (club.duckdb holding schema
    club) on purpose — privacyops must cope with that; the tests' own SQL sidesteps it."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{root / 'club.duckdb'}' AS clubfile{' (READ_ONLY)' if read_only else ''}")
    con.execute("USE clubfile")
    return con


def build_club(root: Path, extra_map: str = "") -> Path:
    """The club workspace in `root` (tables, map)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "privacyops.yaml").write_text(CLUB_MAP + extra_map)
    con = _open(root, read_only=False)
    try:
        con.execute("CREATE SCHEMA club")
        tables = {
            "members": ("member_id INTEGER PRIMARY KEY, full_name VARCHAR, email VARCHAR, phone VARCHAR, "
                        "address_id INTEGER, joined_on DATE", MEMBERS),
            "addresses": ("address_id INTEGER PRIMARY KEY, street VARCHAR, city VARCHAR, landline VARCHAR", ADDRESSES),
            "staff": ("staff_id INTEGER PRIMARY KEY, first_name VARCHAR, email VARCHAR, password_hash VARCHAR, "
                      "team VARCHAR", STAFF),
            "visits": ("visit_id INTEGER PRIMARY KEY, host_id INTEGER, host_note VARCHAR, guest_email VARCHAR, "
                       "guest_name VARCHAR, visited_on DATE, staff_id INTEGER", VISITS),
            "messages": ("message_id INTEGER PRIMARY KEY, sender_id INTEGER, recipient_id INTEGER, body VARCHAR, "
                         "sent_at TIMESTAMP", MESSAGES),
            "referrals": ("referral_id INTEGER PRIMARY KEY, referrer_id INTEGER, referred_id INTEGER, "
                          "referred_on DATE", REFERRALS),
            "rentals": ("rental_id INTEGER PRIMARY KEY, member_id INTEGER, item VARCHAR, rented_on DATE", RENTALS),
            "payments": ("payment_id INTEGER PRIMARY KEY, member_id INTEGER, rental_id INTEGER, amount DOUBLE, "
                         "paid_on DATE", PAYMENTS),
        }
        for name, (cols, rows) in tables.items():
            con.execute(f"CREATE TABLE club.{name} ({cols})")
            if rows:
                con.executemany(f"INSERT INTO club.{name} VALUES ({', '.join('?' for _ in rows[0])})", rows)
    finally:
        con.close()
    return root


def club_sql(root: Path, query: str, params=()) -> list[tuple]:
    """Ground truth: a query on the club's own file, read-only (the file is named like its schema on purpose:
    privacyops must qualify names with the catalog; the test's own queries use club.club.<table>)."""
    con = _open(root, read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def copy_club(template: Path, dst: Path) -> Path:
    return Path(shutil.copytree(template, dst, ignore=shutil.ignore_patterns("ledger.duckdb*", "keys", "audit.*")))
