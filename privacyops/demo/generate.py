"""The demo company: Baltic Software Factory, a Latvian SaaS, generated into a workspace.

``generate_demo(workspace, subjects, seed)`` (re)creates ``<workspace>/company.duckdb`` and ``<workspace>/lake/``
from scratch and copies the demo data map (``data/demo/privacyops.yaml``) into the workspace when it has none.

How it scales: Faker (seeded) only builds small value pools (names, streets, cities, companies, user agents,
campaigns) that are loaded into DuckDB as small temporary tables. Every row is then produced *set-based* inside
DuckDB: ``range()`` over customer ids, ``hash(key, salt, seed)`` for deterministic pseudo-random choices, joins to
the pools by hashed index. Subjects are generated in chunks (``CHUNK_SUBJECTS``) with a DuckDB ``memory_limit`` so
memory stays bounded, and every child table is inserted ordered by its foreign key so DuckDB zonemaps make
foreign-key lookups cheap without indexes.

The hand-made edge-case people (``STORIES``) always get the lowest ids; bulk customers follow them.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import re
import secrets
import shutil
import time
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
from faker import Faker
from tqdm.auto import tqdm

from ..errors import PrivacyOpsError
from ..ledger import close_case, extend_case, list_cases, open_case
from ..workspace import open_workspace

__all__ = ["DEMO_TODAY", "STORIES", "DemoSummary", "generate_demo", "seed_requests", "DEMO_REQUESTS", "MAP_SOURCE",
           "DATASETS"]

DEMO_TODAY = datetime.date(2026, 11, 15)
"""The demo's fixed "today". No generated date or timestamp is on or after it (all are before its midnight)."""

MAP_SOURCE = Path(__file__).resolve().parents[2] / "data" / "demo" / "privacyops.yaml"

CHUNK_SUBJECTS = 100_000
"""Customers generated per chunk (bounds memory; one analytics part file per chunk)."""

MAX_SUBJECTS = 5_000_000
"""Upper bound: e-mail numbers and phone numbers are bijections of the customer id below ~7 million."""

MEMORY_LIMIT = "512MB"

# e-mail numbers (100 + x mod 9,900,000) and phone digits (2,000,000 + x mod 7,000,000) are bijections of the
# customer id: x = id * _MUL + offset with _MUL coprime to both moduli, so they never collide below ~7M ids.
_MUL = 2_718_283

DATASETS = (
    "crm.customers",
    "app.user_accounts",
    "app.login_events",
    "support.agents",
    "support.tickets",
    "support.ticket_messages",
    "catalog.products",
    "billing.invoices",
    "billing.invoice_lines",
    "marketing.consent_events",
    "marketing.email_sends",
    "marketing.newsletter_signups",
    "web.analytics_events",
)
"""Every dataset the demo writes (``web.analytics_events`` lives in the Parquet lake)."""

_END = "TIMESTAMP '2026-11-15 00:00:00'"  # exclusive upper bound of every generated timestamp
_LAST = "TIMESTAMP '2026-11-14 23:59:59'"
assert _END[11:21] == DEMO_TODAY.isoformat()

# --------------------------------------------------------------------------------------------------------------
# The stories: fixed people present for every seed and every `subjects` >= 10.
# --------------------------------------------------------------------------------------------------------------

STORIES: dict[str, dict] = {
    "two_emails": {
        "customer_id": 1,
        "full_name": "Jānis Bērziņš",
        "email": "janis.berzins@example.lv",
        "phone": "+371 2912 3456",
        "account_ids": [1, 2],
        "account_emails": ["janis.berzins@example.lv", "j.berzins@inbox.example.lv"],
        "usernames": ["janis.berzins", "jberzins"],
        "ticket_ids": [1, 2],
        "invoice_ids": [1, 2, 3, 4, 5],
        "mentions_email": "anna.ozola@example.lv",  # his ticket message names Anna's e-mail
        "consent_granted_at": "2023-04-02",
        "consent_withdrawn_at": "2025-03-01",
        "send_after_withdrawal_at": "2025-04-10",
        "newsletter_email": "j.berzins@inbox.example.lv",
    },
    "name_variant": {
        "customer_id": 2,
        "full_name": "Janis Berzins",
        "email": "janis.berzins77@example.com",
        "phone": "+371 2961 7701",
        "account_ids": [3],
        "account_emails": ["janis.berzins77@example.com"],
        "usernames": ["janis77"],
        "ticket_ids": [],
        "invoice_ids": [6, 7],
    },
    "family_a": {
        "customer_id": 3,
        "full_name": "Pēteris Kalniņš",
        "email": "kalnini.family@example.lv",
        "phone": "+371 2934 5678",
        "account_ids": [4],
        "account_emails": ["kalnini.family@example.lv"],
        "usernames": ["peteris.kalnins"],
        "ticket_ids": [3],
        "invoice_ids": [8, 9],
    },
    "family_b": {
        "customer_id": 4,
        "full_name": "Ilze Kalniņa",
        "email": "kalnini.family@example.lv",
        "phone": "2934-8765",
        "account_ids": [5],
        "account_emails": ["kalnini.family@example.lv"],
        "usernames": ["ilze.kalnina"],
        "ticket_ids": [4],
        "invoice_ids": [10, 11],
    },
    "closed": {
        "customer_id": 5,
        "full_name": "Anna Ozola",
        "email": "anna.ozola@example.lv",
        "phone": "+371 2945 1122",
        "account_ids": [6],
        "account_emails": ["anna.ozola@example.lv"],
        "usernames": ["anna.ozola"],
        "ticket_ids": [5],
        "invoice_ids": [12, 13, 14],
        "closed_at": "2021-06-30",
        "mentions_email": "janis.berzins@example.lv",  # her ticket names Jānis's e-mail
    },
    "withdrawn": {
        "customer_id": 6,
        "full_name": "Līga Liepiņa",
        "email": "liga.liepina@example.lv",
        "phone": "+37129563344",
        "account_ids": [7],
        "account_emails": ["liga.liepina@example.lv"],
        "usernames": ["liga.l"],
        "ticket_ids": [6],
        "invoice_ids": [15],
        "consent_granted_at": "2020-01-10",
        "consent_withdrawn_at": "2024-06-15",
    },
    "prospect": {
        "customer_id": None,
        "full_name": None,
        "email": "marta.prospect@example.net",
        "newsletter_email": "marta.prospect@example.net",
    },
}
for _s in STORIES.values():
    _s["subject"] = "customer" if _s["customer_id"] is not None else None

_STORY_CUSTOMERS = max(s["customer_id"] or 0 for s in STORIES.values())  # bulk customers start after this id


def _ts(s: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(s)


def _d(s: str) -> datetime.date:
    return datetime.date.fromisoformat(s)


# Rows in table column order (ids explicit and contiguous from 1, ordered by their foreign key).
_STORY_ROWS: dict[str, list[tuple]] = {
    "crm.customers": [
        (1, "Jānis Bērziņš", "janis.berzins@example.lv", "+371 2912 3456", "Brīvības iela 101-5", "Rīga",
         "LV-1001", "LV", _ts("2018-03-12 09:00:00"), None, "active"),
        (2, "Janis Berzins", "janis.berzins77@example.com", "+371 2961 7701", "Lielā iela 7", "Jelgava",
         "LV-3001", "LV", _ts("2020-11-05 14:20:00"), None, "active"),
        (3, "Pēteris Kalniņš", "kalnini.family@example.lv", "+371 2934 5678", "Ulbrokas iela 23-14", "Rīga",
         "LV-1021", "LV", _ts("2019-04-01 18:45:00"), None, "active"),
        (4, "Ilze Kalniņa", "kalnini.family@example.lv", "2934-8765", "Ulbrokas iela 23-14", "Rīga",
         "LV-1021", "LV", _ts("2019-04-03 20:10:00"), None, "active"),
        (5, "Anna Ozola", "anna.ozola@example.lv", "+371 2945 1122", "Tērbatas iela 14-3", "Rīga",
         "LV-1011", "LV", _ts("2017-05-20 11:30:00"), _ts("2021-06-30 16:00:00"), "closed"),
        (6, "Līga Liepiņa", "liga.liepina@example.lv", "+37129563344", "Jūras iela 5", "Jūrmala",
         "LV-2015", "LV", _ts("2019-09-09 10:00:00"), None, "active"),
    ],
    # account_id, customer_id, username, email, created_at, last_login_at, closed_at (password_hash added later)
    "app.user_accounts": [
        (1, 1, "janis.berzins", "janis.berzins@example.lv", _ts("2018-03-12 09:05:00"),
         _ts("2026-11-10 08:12:00"), None),
        (2, 1, "jberzins", "j.berzins@inbox.example.lv", _ts("2021-09-01 19:40:00"),
         _ts("2026-10-28 21:03:00"), None),
        (3, 2, "janis77", "janis.berzins77@example.com", _ts("2020-11-05 14:25:00"),
         _ts("2026-09-14 12:00:00"), None),
        (4, 3, "peteris.kalnins", "kalnini.family@example.lv", _ts("2019-04-01 18:50:00"),
         _ts("2026-11-02 07:30:00"), None),
        (5, 4, "ilze.kalnina", "kalnini.family@example.lv", _ts("2019-04-03 20:15:00"),
         _ts("2026-10-30 19:45:00"), None),
        (6, 5, "anna.ozola", "anna.ozola@example.lv", _ts("2017-05-20 11:35:00"),
         _ts("2021-06-29 09:10:00"), _ts("2021-06-30 16:00:00")),
        (7, 6, "liga.l", "liga.liepina@example.lv", _ts("2019-09-09 10:05:00"),
         _ts("2026-08-01 17:00:00"), None),
    ],
    # ticket_id, customer_id, agent_id, subject, status, opened_at, closed_at
    "support.tickets": [
        (1, 1, 3, "Neighbour wants to close her account", "closed", _ts("2021-06-20 10:00:00"),
         _ts("2021-06-22 15:00:00")),
        (2, 1, 5, "Stop marketing e-mails and call me", "closed", _ts("2025-02-27 08:30:00"),
         _ts("2025-03-01 09:30:00")),
        (3, 3, 1, "Invoice address for the family account", "closed", _ts("2022-01-10 12:00:00"),
         _ts("2022-01-11 09:00:00")),
        (4, 4, 2, "Nevaru pieslēgties / cannot log in", "open", _ts("2026-11-10 07:45:00"), None),
        (5, 5, 4, "Please close my account", "closed", _ts("2021-06-25 09:00:00"),
         _ts("2021-06-30 16:00:00")),
        (6, 6, 6, "Unsubscribe", "closed", _ts("2024-06-14 18:00:00"), _ts("2024-06-15 10:00:00")),
    ],
    # message_id, ticket_id, author_type, body, sent_at
    "support.ticket_messages": [
        (1, 1, "customer",
         "Hello, my neighbour Anna Ozola asked me to tell you that she wants to close her account. "
         "Her e-mail is anna.ozola@example.lv, she will write to you herself too.",
         _ts("2021-06-20 10:00:00")),
        (2, 1, "agent",
         "Hello Jānis, thank you. We can only close an account at the request of its owner; "
         "we will wait for her message. Best regards, Ilze", _ts("2021-06-21 09:15:00")),
        (3, 1, "customer", "Understood, thanks!", _ts("2021-06-22 14:50:00")),
        (4, 2, "customer",
         "Please stop sending me marketing e-mails. And please call me back about my invoices "
         "at +371 2912 3456.", _ts("2025-02-27 08:30:00")),
        (5, 2, "agent",
         "Hello Jānis, we have unsubscribed you from marketing e-mails and a colleague will call you. "
         "Best regards, Anete", _ts("2025-03-01 09:30:00")),
        (6, 3, "customer",
         "We share one e-mail in the family, please put my name on the invoices. Pēteris",
         _ts("2022-01-10 12:00:00")),
        (7, 3, "agent", "Hello Pēteris, done. Best regards, Kristaps", _ts("2022-01-11 09:00:00")),
        (8, 4, "customer", "Sveiki, nevaru pieslēgties savam kontam. Ilze", _ts("2026-11-10 07:45:00")),
        (9, 4, "agent", "Hello Ilze, we have sent a password reset link. Best regards, Mārtiņš",
         _ts("2026-11-10 11:20:00")),
        (10, 5, "customer",
         "Please close my account. My neighbour Jānis (janis.berzins@example.lv) keeps using your "
         "service, so please do not close his.", _ts("2021-06-25 09:00:00")),
        (11, 5, "agent", "Hello Anna, your account will be closed on 30 June. Best regards, Rūta",
         _ts("2021-06-28 13:00:00")),
        (12, 5, "customer", "Thank you.", _ts("2021-06-30 16:00:00")),
        (13, 6, "customer", "Please unsubscribe me from your newsletter and offers.",
         _ts("2024-06-14 18:00:00")),
        (14, 6, "agent", "Hello Līga, you have been unsubscribed. Best regards, Edgars",
         _ts("2024-06-15 10:00:00")),
    ],
    # invoice_id, invoice_no, customer_id, billing_name, billing_address, vat_number, issued_at (amount from lines)
    "billing.invoices": [
        (1, "BSF-2019-0000001", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2019-02-01")),
        (2, "BSF-2019-0000002", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2019-08-01")),
        (3, "BSF-2022-0000003", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2022-05-01")),
        (4, "BSF-2025-0000004", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2025-01-15")),
        (5, "BSF-2025-0000005", 1, "Jānis Bērziņš", "Brīvības iela 101-5, LV-1001 Rīga, Latvia", None,
         _d("2025-07-15")),
        (6, "BSF-2021-0000006", 2, "Janis Berzins", "Lielā iela 7, LV-3001 Jelgava, Latvia", None,
         _d("2021-03-10")),
        (7, "BSF-2024-0000007", 2, "SIA Berzins IT", "Lielā iela 7, LV-3001 Jelgava, Latvia", "LV40003987654",
         _d("2024-03-10")),
        (8, "BSF-2020-0000008", 3, "Pēteris Kalniņš", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2020-04-01")),
        (9, "BSF-2024-0000009", 3, "Pēteris Kalniņš", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2024-04-01")),
        (10, "BSF-2021-0000010", 4, "Ilze Kalniņa", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2021-09-01")),
        (11, "BSF-2025-0000011", 4, "Ilze Kalniņa", "Ulbrokas iela 23-14, LV-1021 Rīga, Latvia", None,
         _d("2025-09-01")),
        (12, "BSF-2018-0000012", 5, "Anna Ozola", "Tērbatas iela 14-3, LV-1011 Rīga, Latvia", None,
         _d("2018-02-01")),
        (13, "BSF-2019-0000013", 5, "Anna Ozola", "Tērbatas iela 14-3, LV-1011 Rīga, Latvia", None,
         _d("2019-02-01")),
        (14, "BSF-2020-0000014", 5, "Anna Ozola", "Tērbatas iela 14-3, LV-1011 Rīga, Latvia", None,
         _d("2020-02-01")),
        (15, "BSF-2023-0000015", 6, "Līga Liepiņa", "Jūras iela 5, LV-2015 Jūrmala, Latvia", None,
         _d("2023-05-05")),
    ],
    # event_id, customer_id, purpose, action, occurred_at, method, notice_version
    "marketing.consent_events": [
        (1, 1, "marketing", "granted", _ts("2023-04-02 10:15:00"), "web_form", "v3.1"),
        (2, 1, "analytics", "granted", _ts("2023-04-02 10:15:30"), "web_form", "v3.1"),
        (3, 1, "marketing", "withdrawn", _ts("2025-03-01 09:30:00"), "support_request", "v3.1"),
        (4, 3, "marketing", "granted", _ts("2022-02-02 19:00:00"), "email_link", "v2.0"),
        (5, 5, "marketing", "granted", _ts("2018-01-15 00:00:00"), "import", None),
        (6, 6, "marketing", "granted", _ts("2020-01-10 12:00:00"), "web_form", "v2.0"),
        (7, 6, "marketing", "withdrawn", _ts("2024-06-15 10:00:00"), "email_link", "v3.1"),
    ],
    # send_id, customer_id, email, campaign, sent_at, opened_at
    "marketing.email_sends": [
        (1, 1, "janis.berzins@example.lv", "Spring product update 2023-05", _ts("2023-05-10 09:00:00"),
         _ts("2023-05-10 12:31:00")),
        (2, 1, "janis.berzins@example.lv", "Black Friday offer 2023-11", _ts("2023-11-20 09:00:00"), None),
        (3, 1, "janis.berzins@example.lv", "Webinar: GDPR for small teams 2024-06", _ts("2024-06-01 09:00:00"),
         _ts("2024-06-02 08:02:00")),
        (4, 1, "janis.berzins@example.lv", "Year-end review 2024-12", _ts("2024-12-05 09:00:00"), None),
        (5, 1, "janis.berzins@example.lv", "Spring offer 2025-04", _ts("2025-04-10 09:00:00"),
         _ts("2025-04-10 19:45:00")),
        (6, 3, "kalnini.family@example.lv", "Family plan launch 2022-03", _ts("2022-03-01 09:00:00"), None),
        (7, 3, "kalnini.family@example.lv", "Spring product update 2023-03", _ts("2023-03-01 09:00:00"),
         _ts("2023-03-03 21:10:00")),
        (8, 5, "anna.ozola@example.lv", "Summer newsletter 2018-06", _ts("2018-06-01 09:00:00"), None),
        (9, 5, "anna.ozola@example.lv", "Summer newsletter 2019-06", _ts("2019-06-01 09:00:00"), None),
        (10, 5, "anna.ozola@example.lv", "Summer newsletter 2020-06", _ts("2020-06-01 09:00:00"),
         _ts("2020-06-04 10:00:00")),
        (11, 6, "liga.liepina@example.lv", "New year offer 2021-01", _ts("2021-01-04 09:00:00"), None),
        (12, 6, "liga.liepina@example.lv", "New year offer 2023-01", _ts("2023-01-04 09:00:00"),
         _ts("2023-01-04 13:13:00")),
        (13, 6, "liga.liepina@example.lv", "Spring product update 2024-05", _ts("2024-05-02 09:00:00"), None),
    ],
    # signup_id, email, signed_up_at, source
    "marketing.newsletter_signups": [
        (1, "j.berzins@inbox.example.lv", _ts("2021-10-03 21:14:00"), "blog"),
        (2, "marta.prospect@example.net", _ts("2024-09-12 16:40:00"), "webinar"),
    ],
}

# --------------------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE SCHEMA crm; CREATE SCHEMA app; CREATE SCHEMA support; CREATE SCHEMA catalog;
CREATE SCHEMA billing; CREATE SCHEMA marketing;
CREATE TABLE crm.customers (
    customer_id BIGINT NOT NULL, full_name VARCHAR, email VARCHAR, phone VARCHAR, street_address VARCHAR,
    city VARCHAR, postal_code VARCHAR, country VARCHAR, created_at TIMESTAMP, closed_at TIMESTAMP, status VARCHAR);
CREATE TABLE app.user_accounts (
    account_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, username VARCHAR, email VARCHAR,
    password_hash VARCHAR, created_at TIMESTAMP, last_login_at TIMESTAMP, closed_at TIMESTAMP);
CREATE TABLE app.login_events (
    event_id BIGINT NOT NULL, account_id BIGINT NOT NULL, logged_in_at TIMESTAMP, ip_address VARCHAR,
    user_agent VARCHAR, success BOOLEAN);
CREATE TABLE support.agents (
    agent_id INTEGER NOT NULL, full_name VARCHAR, email VARCHAR, team VARCHAR);
CREATE TABLE support.tickets (
    ticket_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, agent_id INTEGER, subject VARCHAR, status VARCHAR,
    opened_at TIMESTAMP, closed_at TIMESTAMP);
CREATE TABLE support.ticket_messages (
    message_id BIGINT NOT NULL, ticket_id BIGINT NOT NULL, author_type VARCHAR, body VARCHAR, sent_at TIMESTAMP);
CREATE TABLE catalog.products (
    product_id INTEGER NOT NULL, sku VARCHAR, name VARCHAR, unit_price DECIMAL(10,2));
CREATE TABLE billing.invoices (
    invoice_id BIGINT NOT NULL, invoice_no VARCHAR, customer_id BIGINT NOT NULL, billing_name VARCHAR,
    billing_address VARCHAR, vat_number VARCHAR, issued_at DATE, amount_total DECIMAL(12,2), currency VARCHAR);
CREATE TABLE billing.invoice_lines (
    line_id BIGINT NOT NULL, invoice_id BIGINT NOT NULL, product_id INTEGER, quantity INTEGER,
    unit_price DECIMAL(10,2), amount DECIMAL(12,2));
CREATE TABLE marketing.consent_events (
    event_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, purpose VARCHAR, action VARCHAR,
    occurred_at TIMESTAMP, method VARCHAR, notice_version VARCHAR);
CREATE TABLE marketing.email_sends (
    send_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, email VARCHAR, campaign VARCHAR, sent_at TIMESTAMP,
    opened_at TIMESTAMP);
CREATE TABLE marketing.newsletter_signups (
    signup_id BIGINT NOT NULL, email VARCHAR, signed_up_at TIMESTAMP, source VARCHAR);
"""

# PRIMARY KEY constraints (ART indexes) were measured at 1M subjects with benchmarks/demo_scale.py: they made
# company.duckdb ~34% larger (497 -> 667 MiB), did not change generation time beyond run-to-run noise, and did not
# make key lookups faster (customer_id = ? ~2 ms either way; customer_id IN (...) on child tables ~1-2 ms thanks
# to the zonemaps that the foreign-key ordering gives). So the demo declares none; uniqueness is tested instead.
# Set to True (benchmark --primary-keys) to generate with the constraints.
PRIMARY_KEY_CONSTRAINTS = False

PRIMARY_KEYS = {
    "crm.customers": "customer_id",
    "app.user_accounts": "account_id",
    "app.login_events": "event_id",
    "support.agents": "agent_id",
    "support.tickets": "ticket_id",
    "support.ticket_messages": "message_id",
    "catalog.products": "product_id",
    "billing.invoices": "invoice_id",
    "billing.invoice_lines": "line_id",
    "marketing.consent_events": "event_id",
    "marketing.email_sends": "send_id",
    "marketing.newsletter_signups": "signup_id",
}

_AGENTS = [
    (1, "Kristaps Ozoliņš", "kristaps.ozolins@balticsoftware.example", "accounts"),
    (2, "Mārtiņš Kļaviņš", "martins.klavins@balticsoftware.example", "technical"),
    (3, "Ilze Zariņa", "ilze.zarina@balticsoftware.example", "accounts"),
    (4, "Rūta Vītola", "ruta.vitola@balticsoftware.example", "accounts"),
    (5, "Anete Krūmiņa", "anete.krumina@balticsoftware.example", "billing"),
    (6, "Edgars Eglītis", "edgars.eglitis@balticsoftware.example", "billing"),
    (7, "Tomas Kazlauskas", "tomas.kazlauskas@balticsoftware.example", "technical"),
    (8, "Kadri Tamm", "kadri.tamm@balticsoftware.example", "technical"),
    (9, "Dace Siliņa", "dace.silina@balticsoftware.example", "billing"),
    (10, "Roberts Šteins", "roberts.steins@balticsoftware.example", "technical"),
    (11, "Elīna Lāce", "elina.lace@balticsoftware.example", "accounts"),
    (12, "Gints Vanags", "gints.vanags@balticsoftware.example", "technical"),
]


def _products() -> list[tuple]:
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


_PRODUCTS = _products()

# --------------------------------------------------------------------------------------------------------------
# Pools (Faker, seeded) and text templates
# --------------------------------------------------------------------------------------------------------------

POOL = 512  # entries per (country[, gender]) pool; chosen by hash % POOL

_LOCALES = {"LV": "lv_LV", "LT": "lt_LT", "EE": "et_EE", "DE": "de_DE", "FI": "fi_FI", "SE": "sv_SE"}
_COUNTRY_NAMES = {"LV": "Latvia", "LT": "Lithuania", "EE": "Estonia", "DE": "Germany", "FI": "Finland",
                  "SE": "Sweden"}

_LV_FIRST = {
    0: ["Jānis", "Andris", "Pēteris", "Mārtiņš", "Kārlis", "Edgars", "Māris", "Juris", "Aivars", "Roberts",
        "Artūrs", "Uldis", "Gints", "Raimonds", "Ēriks", "Dāvis", "Oskars", "Rihards", "Krišjānis", "Gatis"],
    1: ["Anna", "Līga", "Ilze", "Inese", "Kristīne", "Laura", "Dace", "Sandra", "Ieva", "Zane", "Māra",
        "Agnese", "Elīna", "Linda", "Evija", "Sarmīte", "Baiba", "Marta", "Daiga", "Anete"],
}
_LV_LAST = [("Bērziņš", "Bērziņa"), ("Kalniņš", "Kalniņa"), ("Ozols", "Ozola"), ("Jansons", "Jansone"),
            ("Liepiņš", "Liepiņa"), ("Krūmiņš", "Krūmiņa"), ("Balodis", "Balode"), ("Eglītis", "Eglīte"),
            ("Zariņš", "Zariņa"), ("Pētersons", "Pētersone"), ("Vītols", "Vītola"), ("Kļaviņš", "Kļaviņa"),
            ("Ziemelis", "Ziemele"), ("Kārkliņš", "Kārkliņa"), ("Vanags", "Vanaga"), ("Lācis", "Lāce"),
            ("Šteins", "Šteina"), ("Siliņš", "Siliņa"), ("Ozoliņš", "Ozoliņa"), ("Grīnbergs", "Grīnberga")]
_STREETS = {
    "LV": ["Brīvības iela", "Elizabetes iela", "Tērbatas iela", "Krišjāņa Barona iela", "Dzirnavu iela",
           "Lāčplēša iela", "Maskavas iela", "Krišjāņa Valdemāra iela", "Ganību dambis", "Zemitāna iela",
           "Kalnciema iela", "Slokas iela", "Ulbrokas iela", "Purvciema iela", "Dzelzavas iela", "Lielā iela",
           "Rīgas iela", "Skolas iela", "Pils iela", "Jūras iela", "Stacijas iela", "Dārza iela",
           "Avotu iela", "Ķengaraga iela", "Gaujas iela", "Meža iela", "Liepu iela", "Zvejnieku iela"],
    "LT": ["Gedimino pr.", "Laisvės al.", "Vilniaus g.", "Pilies g.", "Savanorių pr.", "Konstitucijos pr.",
           "Žalgirio g.", "Taikos pr.", "Ukmergės g.", "Kalvarijų g.", "Liepų g.", "Mokyklos g."],
    "EE": ["Narva mnt", "Pärnu mnt", "Tartu mnt", "Viru tn", "Pikk tn", "Kalamaja tn", "Mustamäe tee",
           "Sõpruse pst", "Rüütli tn", "Jõe tn", "Kase tn", "Lille tn"],
}
_CITIES = {  # (city, weight, postal code generator)
    "LV": [("Rīga", 55, lambda r: f"LV-{r.randint(1001, 1084)}"), ("Daugavpils", 7, lambda r: f"LV-{r.randint(5401, 5422)}"),
           ("Liepāja", 6, lambda r: f"LV-{r.randint(3401, 3416)}"), ("Jelgava", 5, lambda r: f"LV-{r.randint(3001, 3008)}"),
           ("Jūrmala", 5, lambda r: f"LV-{r.randint(2008, 2016)}"), ("Ventspils", 3, lambda r: f"LV-{r.randint(3601, 3602)}"),
           ("Rēzekne", 3, lambda r: f"LV-{r.randint(4601, 4604)}"), ("Valmiera", 3, lambda r: f"LV-{r.randint(4201, 4202)}"),
           ("Ogre", 3, lambda r: f"LV-{r.randint(5001, 5003)}"), ("Jēkabpils", 2, lambda r: f"LV-{r.randint(5201, 5202)}"),
           ("Cēsis", 2, lambda r: f"LV-{r.randint(4101, 4101)}"), ("Sigulda", 2, lambda r: f"LV-{r.randint(2150, 2150)}"),
           ("Salaspils", 2, lambda r: f"LV-{r.randint(2121, 2121)}"), ("Tukums", 2, lambda r: f"LV-{r.randint(3101, 3101)}")],
    "LT": [("Vilnius", 50, lambda r: f"LT-{r.randint(1100, 14300):05d}"), ("Kaunas", 25, lambda r: f"LT-{r.randint(44100, 52500)}"),
           ("Klaipėda", 12, lambda r: f"LT-{r.randint(91100, 94300)}"), ("Šiauliai", 8, lambda r: f"LT-{r.randint(76100, 78400)}"),
           ("Panevėžys", 5, lambda r: f"LT-{r.randint(35100, 37400)}")],
    "EE": [("Tallinn", 60, lambda r: f"{r.randint(10111, 13999)}"), ("Tartu", 20, lambda r: f"{r.randint(50050, 51100)}"),
           ("Pärnu", 10, lambda r: f"{r.randint(80010, 80050)}"), ("Narva", 10, lambda r: f"{r.randint(20101, 21020)}")],
}
_DOMAINS = {
    "LV": ["mail.example.lv", "pasts.example.lv", "webmail.example.com", "example.eu"],
    "LT": ["pastas.example.lt", "mail.example.lt", "webmail.example.com", "example.eu"],
    "EE": ["post.example.ee", "mail.example.ee", "webmail.example.com", "example.eu"],
    "DE": ["mail.example.de", "post.example.de", "webmail.example.com", "example.eu"],
    "FI": ["posti.example.fi", "mail.example.fi", "webmail.example.com", "example.eu"],
    "SE": ["post.example.se", "mail.example.se", "webmail.example.com", "example.eu"],
}
_ALT_DOMAINS = ["inbox.example.com", "work.example.eu", "cloudmail.example.org", "box.example.lv"]
_PROSPECT_DOMAINS = ["example.net", "post.example.net", "mailbox.example.org"]
_NEWSLETTER_SOURCES = ["website_footer", "blog", "webinar", "trade_fair_riga", "partner_import"]
_COMPANY_SUFFIX = {"LV": "SIA", "LT": "UAB", "EE": "OÜ", "DE": "GmbH", "FI": "Oy", "SE": "AB"}
_CAMPAIGN_THEMES = [
    "Spring product update", "Summer newsletter", "Autumn webinar", "Black Friday offer", "Year-end review",
    "New year offer", "Security tips", "Invoicing Cloud launch", "Customer stories", "Partner programme",
    "Webinar: GDPR for small teams", "Mobile app release", "Price update notice", "Feature spotlight",
    "Jāņi holiday greetings", "Student discount",
]
_N_CAMPAIGNS = 32
_UA_FIXED = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
]
_IP_PREFIXES = ["85.254", "91.105", "212.3", "195.13", "87.110", "46.109", "78.84", "159.148", "83.241", "213.175"]
_PAGES = ["/", "/pricing", "/features", "/blog", "/blog/gdpr-checklist", "/docs/getting-started", "/docs/api",
          "/signup", "/login", "/app/dashboard", "/app/invoices", "/app/customers", "/app/settings",
          "/app/settings/billing", "/support", "/contact"]
_TICKET_SUBJECTS = [
    "Cannot log in", "Question about my invoice", "Change of address", "Cancel subscription",
    "Please export my data", "Two-factor authentication", "Refund request", "API rate limit",
    "Nevaru pieslēgties", "Rēķina jautājums", "Upgrade to Business plan", "Payment card declined",
    "Add a colleague to the account", "Invoice in Latvian, please", "Bug in the mobile app", "Password reset",
]
_TPL_PER_KIND = 8
_TEMPLATES = {
    "first": [
        "Hello, I have a problem with {topic}. Could you help me? {first}",
        "Labdien! Man ir jautājums par {topic}. Paldies, {first}",
        "Hi, since yesterday {topic} does not work for me. Regards, {first}",
        "Good morning, please check {topic} on my account. {first}",
        "Sveiki, lūdzu palīdziet ar {topic}. {first}",
        "Hello support, I need help with {topic} as soon as possible. Thanks, {first}",
        "Hi! Quick question about {topic}. Best, {first}",
        "Dear team, could you look into {topic}? Kind regards, {first}",
    ],
    "followup": [
        "Thanks, that worked.", "Paldies, viss kārtībā!", "It still does not work, sorry.",
        "Thank you for the quick answer.", "Could you also send me a copy of the last invoice?",
        "OK, I will try again tomorrow.", "Great, you can close the ticket.", "Paldies par palīdzību."],
    "own_email": [
        "Please send the documents to {email}, that is the address I use now.",
        "My login e-mail is {email}, in case you need it.",
        "You can reach me at {email}. {first}",
        "Please use {email} for all invoices.",
    ],
    "own_phone": [
        "You can call me at {phone} during the day.",
        "My phone number is {phone}, please call if anything is unclear.",
        "Lūdzu zvaniet man: {phone}. {first}",
        "If e-mail is slow, call me on {phone}.",
    ],
    "other_email": [
        "Please also update my wife's address, her e-mail is {other_email}.",
        "My colleague also needs access, his e-mail is {other_email}.",
        "I am writing for my mother too, her e-mail is {other_email}.",
        "Please send a copy to my accountant at {other_email}.",
    ],
    "other_phone": [
        "If I am away, my husband can answer at {other_phone}.",
        "Please call my colleague on {other_phone}, he manages the account now.",
        "My son helps me with the computer, his number is {other_phone}.",
        "Contact my assistant at {other_phone} for the details.",
    ],
    "agent": [
        "Hello {first}, thank you for contacting us. We are looking into it. Best regards, {agent}",
        "Labdien, {first}! Paldies par ziņu, mēs to izskatīsim. Ar cieņu, {agent}",
        "Hello {first}, this should be fixed now. Please let us know if not. Best regards, {agent}",
        "Hi {first}, could you send us a screenshot? Best regards, {agent}",
        "Hello {first}, we have updated your account as requested. Best regards, {agent}",
        "Hello {first}, the invoice has been re-sent. Best regards, {agent}",
        "Hi {first}, we have forwarded this to our technical team. Best regards, {agent}",
        "Hello {first}, the issue is resolved, closing the ticket. Best regards, {agent}",
    ],
}
_TOPICS = ["my invoice", "the login", "two-factor authentication", "the mobile app", "my subscription",
           "the data export", "the API key", "the payment card", "rēķins", "the bookings calendar"]


def _ascii(text: str) -> str:
    """ASCII-fold a name for e-mail addresses: diacritics stripped, lower case, letters only."""
    text = text.replace("ß", "ss").replace("Æ", "Ae").replace("æ", "ae").replace("Ø", "O").replace("ø", "o")
    text = text.replace("Ł", "L").replace("ł", "l").replace("Đ", "D").replace("đ", "d")
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z]", "", folded.lower()) or "x"


_STORY_NAME_PAIRS = sorted({tuple(_ascii(w) for w in s["full_name"].split())
                            for s in STORIES.values() if s["full_name"]})
_STORY_NAME_SQL = "(" + ", ".join(f"('{a}', '{b}')" for a, b in _STORY_NAME_PAIRS) + ")"


def _pools(seed: int) -> dict[str, dict[str, list]]:
    """Small value pools from seeded Faker instances (deterministic for a seed and a Faker version)."""
    rnd = random.Random(seed * 1_000_003 + 17)
    first = {"country": [], "gender": [], "idx": [], "name": [], "ascii": []}
    last = {"country": [], "gender": [], "idx": [], "name": [], "ascii": []}
    streets = {"country": [], "idx": [], "street": []}
    cities = {"country": [], "idx": [], "city": [], "postal_code": []}
    companies = {"country": [], "idx": [], "company": []}
    for n, (country, locale) in enumerate(_LOCALES.items()):
        fk = Faker(locale)
        fk.seed_instance(seed * 101 + n)
        for gender in (0, 1):
            for i in range(POOL):
                if country == "LV" and rnd.random() < 0.5:
                    # the common Latvian names, the first ones of each list most often
                    fn = _LV_FIRST[gender][int(rnd.expovariate(1 / 7)) % len(_LV_FIRST[gender])]
                    ln = _LV_LAST[int(rnd.expovariate(1 / 8)) % len(_LV_LAST)][gender]
                else:
                    fn = fk.first_name_male() if gender == 0 else fk.first_name_female()
                    ln = fk.last_name_male() if gender == 0 else fk.last_name_female()
                for pool, name in ((first, fn), (last, ln)):
                    pool["country"].append(country)
                    pool["gender"].append(gender)
                    pool["idx"].append(i)
                    pool["name"].append(name)
                    pool["ascii"].append(_ascii(name))
        for i in range(POOL):
            if country in _STREETS:
                street = rnd.choice(_STREETS[country])
            else:
                street = fk.street_name()
            streets["country"].append(country)
            streets["idx"].append(i)
            streets["street"].append(street)
            if country in _CITIES:
                city, _w, postal = rnd.choices(_CITIES[country], weights=[c[1] for c in _CITIES[country]])[0]
                code = postal(rnd)
            else:
                city = fk.city()
                code = fk.postcode()
                if country == "SE" and len(code) == 5:
                    code = f"{code[:3]} {code[3:]}"
            cities["country"].append(country)
            cities["idx"].append(i)
            cities["city"].append(city)
            cities["postal_code"].append(code)
        for i in range(64):
            name = fk.last_name()
            word = rnd.choice(["Tech", "Serviss", "Consulting", "Trade", "Group", "Partners", "Digital", "Nord"])
            companies["country"].append(country)
            companies["idx"].append(i)
            companies["company"].append(f"{_COMPANY_SUFFIX[country]} {name} {word}" if country in ("LV", "LT")
                                        else f"{name} {word} {_COMPANY_SUFFIX[country]}")
    en = Faker("en_GB")
    en.seed_instance(seed * 101 + 99)
    ua = _UA_FIXED * 6 + [en.user_agent() for _ in range(64 - 6 * len(_UA_FIXED))]
    campaigns = list(_CAMPAIGN_THEMES) + [en.catch_phrase() for _ in range(_N_CAMPAIGNS - len(_CAMPAIGN_THEMES))]
    rnd.shuffle(ua)
    rnd.shuffle(campaigns)
    domains = {"country": [], "idx": [], "domain": []}
    for country, doms in _DOMAINS.items():
        for i, dom in enumerate(doms):
            domains["country"].append(country)
            domains["idx"].append(i)
            domains["domain"].append(dom)
    tpl = {"kind": [], "idx": [], "body": []}
    for kind, bodies in _TEMPLATES.items():
        for i in range(_TPL_PER_KIND):
            tpl["kind"].append(kind)
            tpl["idx"].append(i)
            tpl["body"].append(bodies[i % len(bodies)])
    # Bulk customers never get a story person's name (any spelling): a (first, last) pair that folds to a
    # story name takes the nearest last name of the pool that is not a story last name (`alt_idx`).
    story_lasts = {pair[1] for pair in _STORY_NAME_PAIRS}
    last["alt_idx"] = []
    for row, (country, gender, idx) in enumerate(zip(last["country"], last["gender"], last["idx"])):
        alt = idx
        for step in range(POOL):
            j = (idx + step) % POOL
            if last["ascii"][row - idx + j] not in story_lasts:
                alt = j
                break
        last["alt_idx"].append(alt)
    # One integer join key per pool row (country, gender, index): joining several pools on a shared `country`
    # column lets the optimizer join the pools with each other first (a cross product per country).
    codes = {c: n for n, c in enumerate(_LOCALES)}
    for pool in (first, last, streets, cities, companies, domains):
        genders = pool.get("gender") or [0] * len(pool["idx"])
        pool["k"] = [codes[c] * 100_000 + g * 10_000 + i for c, g, i in zip(pool["country"], genders, pool["idx"])]
    return {
        "pool_first": first, "pool_last": last, "pool_street": streets, "pool_city": cities,
        "pool_company": companies, "pool_domain": domains, "pool_tpl": tpl,
        "pool_ua": {"idx": list(range(len(ua))), "ua": ua},
        "pool_campaign": {"idx": list(range(len(campaigns))), "name": campaigns},
        "pool_subject": {"idx": list(range(len(_TICKET_SUBJECTS))), "subject": list(_TICKET_SUBJECTS)},
        "pool_topic": {"idx": list(range(len(_TOPICS))), "topic": list(_TOPICS)},
        "pool_country": {"country": list(_COUNTRY_NAMES), "country_name": list(_COUNTRY_NAMES.values())},
    }


# --------------------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    workspace: Path
    subjects: int
    seed: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _check_args(workspace, subjects, seed) -> Path:
    if isinstance(subjects, bool) or not isinstance(subjects, int):
        raise ValueError(f"subjects must be an integer, got {subjects!r}")
    if subjects < 10:
        raise ValueError(f"subjects must be at least 10 (the demo's story people need room), got {subjects}")
    if subjects > MAX_SUBJECTS:
        raise ValueError(f"subjects must be at most {MAX_SUBJECTS:,}, got {subjects:,}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be zero or positive, got {seed}")
    if seed >= 2**31:
        raise ValueError(f"seed must be below 2**31, got {seed}")
    try:
        ws = Path(workspace).expanduser()
    except TypeError as exc:
        raise ValueError(f"workspace must be a path, got {workspace!r}") from exc
    if ws.exists() and not ws.is_dir():
        raise ValueError(f"workspace {ws} exists and is not a folder")
    try:
        ws.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the workspace folder {ws}: {exc.strerror or exc}") from exc
    if not os.access(ws, os.W_OK | os.X_OK):
        raise ValueError(f"the workspace folder {ws} is not writable")
    return ws.resolve()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def generate_demo(workspace: str | Path, subjects: int = 1000, seed: int = 42, progress: bool = True) -> DemoSummary:
    """(Re)create the demo company in `workspace`: ``company.duckdb``, ``lake/`` and (if missing) the map.

    Deterministic for a seed. Raises ``ValueError`` for subjects < 10, a negative seed or an unwritable folder.
    """
    ws = _check_args(workspace, subjects, seed)
    started = time.perf_counter()

    # Delete the old company first: a run that is interrupted leaves no company rather than a mixed one.
    for old in [ws / "company.duckdb", ws / "company.duckdb.wal", ws / "lake", *ws.glob(".demo-build-*")]:
        _remove(old)
    try:
        build = ws / f".demo-build-{os.getpid()}-{secrets.token_hex(4)}"
        build.mkdir()
    except OSError as exc:
        raise ValueError(f"cannot write into the workspace folder {ws}: {exc.strerror or exc}") from exc

    try:
        rows = _Generator(build, subjects, seed, progress).run()
        # Commit: the lake first, the database last (its presence marks a complete company).
        os.replace(build / "lake", ws / "lake")
        os.replace(build / "company.duckdb", ws / "company.duckdb")
    finally:
        shutil.rmtree(build, ignore_errors=True)

    target = ws / "privacyops.yaml"
    if ws != MAP_SOURCE.parent.resolve() and not target.exists():
        if MAP_SOURCE.is_file():
            shutil.copyfile(MAP_SOURCE, target)
        else:  # pragma: no cover - only when the package is installed without its data folder
            warnings.warn(f"demo data map not found at {MAP_SOURCE}; {target} was not written", stacklevel=2)

    if target.exists():

        try:
            seed_requests(ws)
        except PrivacyOpsError:  # a map of the user's own that does not load: the company is there, no register
            pass

    return DemoSummary(workspace=ws, subjects=subjects, seed=seed, seconds=time.perf_counter() - started,
                       rows=rows)


# The demo's request register, relative to DEMO_TODAY (2026-11-15): (type, received, channel, closed on, outcome,
# extension (months, informed on, reason)). Seeded through the cases API, only into a workspace without cases.
DEMO_REQUESTS: list[tuple[str, str, str, str | None, str | None, tuple[int, str, str] | None]] = [
    ("consent-withdrawal", "2026-06-10", "web form", "2026-06-12", "marketing consent withdrawn", None),
    ("access", "2026-08-03", "email", "2026-08-20", "archive sent", None),
    ("portability", "2026-07-14", "email", "2026-08-29", "export sent (late: the billing export was missing)",
     None),
    ("erasure", "2026-09-01", "web form", "2026-09-25", "erased; certificate issued", None),
    ("rectification", "2026-10-01", "letter", None, None,
     (2, "2026-10-20", "the address is held in several systems that must be corrected together")),
    ("access", "2026-09-28", "email", None, None, None),
    ("objection", "2026-10-09", "phone", None, None, None),
    ("complaint", "2026-10-20", "email", None, None, None),
    ("erasure", "2026-10-19", "web form", None, None, None),
    ("access", "2026-11-02", "email", None, None, None),
]


def seed_requests(workspace: str | Path) -> int:
    """Seed the demo's request register (`DEMO_REQUESTS`) into the workspace ledger when it has no cases yet;
    returns how many cases were opened (0: the register already had cases)."""

    ws = open_workspace(workspace)
    if list_cases(ws):
        return 0
    for kind, received, channel, closed, outcome, extension in DEMO_REQUESTS:
        case = open_case(ws, kind, received, channel=channel)
        if extension:
            months, informed, reason = extension
            extend_case(ws, case.case_id, months, reason, informed=informed,
                        today=datetime.date.fromisoformat(informed))
        if closed:
            close_case(ws, case.case_id, outcome or "answered", at=datetime.date.fromisoformat(closed))
    return len(DEMO_REQUESTS)


_PARTS_PER_CHUNK = 11  # progress steps per chunk (one per table)


class _Generator:
    def __init__(self, build: Path, subjects: int, seed: int, progress: bool):
        self.build = build
        self.n = subjects
        self.seed = seed
        self.progress = progress
        self.lake_dir = build / "lake" / "web" / "analytics_events"
        self.next_id: dict[str, int] = {}
        self.lake_rows = 0
        # bijection offsets (e-mail numbers, phone digits, prospect numbers): derived from the seed
        self.email_off = (seed * 2_654_435_761 + 12_345) % 9_900_000
        self.phone_off = (seed * 40_503 + 777) % 7_000_000
        self.prospect_off = (seed * 97_531 + 4_242) % 9_900_000

    # -- plumbing ------------------------------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        self.lake_dir.mkdir(parents=True)
        spill = self.build / "spill"
        spill.mkdir()
        con = duckdb.connect(str(self.build / "company.duckdb"),
                             config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill),
                                     "preserve_insertion_order": True})
        self.con = con
        chunks = [(lo, min(lo + CHUNK_SUBJECTS, self.n + 1)) for lo in range(1, self.n + 1, CHUNK_SUBJECTS)]
        bar = tqdm(total=2 + len(chunks) * _PARTS_PER_CHUNK, desc="demo company", unit="step",
                   disable=not self.progress)
        try:
            self._setup()
            bar.update(1)
            for number, (lo, hi) in enumerate(chunks):
                for step, name in self._chunk_steps(number, lo, hi):
                    bar.set_postfix_str(f"{name} {lo:,}-{hi - 1:,}", refresh=False)
                    step()
                    bar.update(1)
            con.execute("CHECKPOINT")
            rows = {}
            for ds in DATASETS:
                if ds == "web.analytics_events":
                    rows[ds] = self.lake_rows
                else:
                    rows[ds] = con.execute(f"SELECT count(*) FROM {ds}").fetchone()[0]
            bar.update(1)
        finally:
            bar.close()
            con.close()
        shutil.rmtree(spill, ignore_errors=True)
        return rows

    def _exec(self, sql: str) -> int:
        result = self.con.execute(sql).fetchone()
        return int(result[0]) if result and result[0] is not None else 0

    def _load(self, name: str, columns: dict[str, list]) -> None:
        table = pa.Table.from_pydict(columns)
        self.con.register("_arrow_in", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _arrow_in")
        self.con.unregister("_arrow_in")

    def _insert_rows(self, table: str, rows: list[tuple]) -> None:
        marks = ", ".join("?" for _ in rows[0])
        self.con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def _setup(self) -> None:
        con, seed = self.con, self.seed
        schema = _SCHEMA
        if PRIMARY_KEY_CONSTRAINTS:  # measured, off by default (see PRIMARY_KEYS)
            for table, pk in PRIMARY_KEYS.items():
                schema = re.sub(rf"(CREATE TABLE {re.escape(table)} \(\s*{pk} \w+ NOT NULL)",
                                r"\1 PRIMARY KEY", schema)
        con.execute(schema)
        con.execute(f"CREATE TEMP MACRO h(a, s) AS hash(a, s, {seed})")
        con.execute(f"CREATE TEMP MACRO h2(a, b, s) AS hash(a, b, s, {seed})")
        con.execute(f"CREATE TEMP MACRO u(a, s, n) AS (hash(a, s, {seed}) % n)::BIGINT")
        con.execute(f"CREATE TEMP MACRO u2(a, b, s, n) AS (hash(a, b, s, {seed}) % n)::BIGINT")
        # a pseudo-random timestamp in [lo, hi) (lo when the window is empty)
        con.execute("CREATE TEMP MACRO rts(x, lo, hi) AS "
                    "lo + to_seconds((x % greatest(1, date_diff('second', lo, hi))::UBIGINT)::BIGINT)")
        con.execute(f"CREATE TEMP MACRO ip(a, s) AS list_element({_sql_list(_IP_PREFIXES)}, "
                    f"1 + u(a, s, {len(_IP_PREFIXES)})::INT) || '.' || u(a, s + 1, 256) || '.' || (1 + u(a, s + 2, 254))")
        con.execute("CREATE TEMP MACRO pk(c, g, i) AS (CASE c " + " ".join(
            f"WHEN '{c}' THEN {n}" for n, c in enumerate(_LOCALES)) + " END) * 100000 + g * 10000 + i")
        con.execute("CREATE TEMP MACRO notice(ts) AS CASE WHEN ts < TIMESTAMP '2020-01-01' THEN 'v1.2' "
                    "WHEN ts < TIMESTAMP '2023-01-01' THEN 'v2.0' ELSE 'v3.1' END")
        for name, cols in _pools(seed).items():
            self._load(name, cols)
        self._insert_rows("support.agents", _AGENTS)
        self._insert_rows("catalog.products", _PRODUCTS)
        for table in ("crm.customers", "app.user_accounts", "support.tickets", "support.ticket_messages",
                      "billing.invoices", "billing.invoice_lines", "marketing.consent_events",
                      "marketing.email_sends", "marketing.newsletter_signups", "app.login_events"):
            self.next_id[table] = 0
        self.next_id["web.analytics_events"] = 0

    def _chunk_steps(self, number: int, lo: int, hi: int):
        first = number == 0
        blo = max(lo, _STORY_CUSTOMERS + 1)  # first bulk customer id in this chunk
        return [
            (lambda: self._customers(first, blo, hi), "crm.customers"),
            (lambda: self._accounts(first, blo, hi), "app.user_accounts"),
            (lambda: self._logins(lo, hi), "app.login_events"),
            (lambda: self._tickets(first, blo, hi), "support.tickets"),
            (lambda: self._messages(first, blo, hi), "support.ticket_messages"),
            (lambda: self._invoices(first, blo, hi), "billing.invoices"),
            (lambda: self._invoice_lines(), "billing.invoice_lines"),
            (lambda: self._consents(first, blo, hi), "marketing.consent_events"),
            (lambda: self._sends(first, blo, hi), "marketing.email_sends"),
            (lambda: self._newsletter(first, blo, lo, hi), "marketing.newsletter_signups"),
            (lambda: self._analytics(number, lo, hi), "web.analytics_events"),
        ]

    def _stories(self, table: str, rows: list[tuple] | None = None) -> None:
        rows = rows if rows is not None else _STORY_ROWS[table]
        self._insert_rows(table, rows)
        self.next_id[table] = len(rows)

    # -- tables --------------------------------------------------------------------------------------------
    def _customers(self, first: bool, blo: int, hi: int) -> None:
        if first:
            self._stories("crm.customers")
        if blo >= hi:
            return
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
        n = self._exec(f"""
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
                u(i, 8, 100) < 8 AS is_closed,
                100 + (i * {_MUL} + {self.email_off}) % 9900000 AS num,
                2000000 + (i * {_MUL} + {self.phone_off}) % 7000000 AS n7
            FROM range({blo}, {hi}) t(i)
        ), b2 AS (
            SELECT b.*, f.name AS fname, f.ascii AS fascii,
                   CASE WHEN (f.ascii, l0.ascii) IN {_STORY_NAME_SQL} THEN l0.alt_idx ELSE l0.idx END AS li2
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
            CASE WHEN c.is_closed THEN rts(h(c.id, 13), c.created_at + INTERVAL 7 DAY, {_END}) END,
            CASE WHEN c.is_closed THEN 'closed' ELSE 'active' END
        FROM c ORDER BY c.id""")
        self.next_id["crm.customers"] += n

    def _accounts(self, first: bool, blo: int, hi: int) -> None:
        table = "app.user_accounts"
        if first:
            rows = [(*r[:4], hashlib.sha256(f"{self.seed}:{r[0]}".encode()).hexdigest(), *r[4:])
                    for r in _STORY_ROWS[table]]
            self._stories(table, rows)
        if blo >= hi:
            return
        off = self.next_id[table]
        alt = _sql_list(_ALT_DOMAINS)
        n = self._exec(f"""
        INSERT INTO app.user_accounts
        WITH c AS (
            SELECT customer_id, email, split_part(email, '@', 1) AS local, created_at, closed_at,
                   coalesce(closed_at, {_END}) AS end_at, 1 + (u(customer_id, 20, 100) < 20)::INT AS n
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
                           THEN rts(h(customer_id, 24), acreated + INTERVAL 1 DAY, {_END}) END AS aclosed
            FROM x
        )
        SELECT account_id, customer_id,
            CASE WHEN k = 0 THEN local ELSE local[1] || split_part(local, '.', 2) END,
            CASE WHEN k = 0 AND u(customer_id, 25, 100) < 4 THEN upper(email[1]) || email[2:]
                 WHEN k = 0 THEN email
                 ELSE local[1] || '.' || split_part(local, '.', 2) || '@'
                      || list_element({alt}, 1 + u(customer_id, 26, {len(_ALT_DOMAINS)})::INT) END,
            printf('%016x%016x%016x%016x', h(account_id, 27), h(account_id, 28), h(account_id, 29),
                   h(account_id, 30)),
            acreated,
            rts(h(account_id, 31), acreated, coalesce(aclosed, {_END})),
            aclosed
        FROM y ORDER BY account_id""")
        self.next_id[table] += n

    def _logins(self, lo: int, hi: int) -> None:
        table = "app.login_events"
        off = self.next_id[table]
        n = self._exec(f"""
        INSERT INTO app.login_events
        WITH a AS (
            SELECT account_id, created_at, coalesce(closed_at, {_END}) AS end_at
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
        self.next_id[table] += n

    def _tickets(self, first: bool, blo: int, hi: int) -> None:
        table = "support.tickets"
        if first:
            self._stories(table)
        if blo >= hi:
            return
        off = self.next_id[table]
        n = self._exec(f"""
        INSERT INTO support.tickets
        WITH c AS (
            SELECT customer_id, email, created_at, closed_at AS cclosed, coalesce(closed_at, {_END}) AS end_at,
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
                   u2(customer_id, k, 55, {len(_TICKET_SUBJECTS)}) AS si
            FROM t
        ), y AS (
            SELECT x.*, opened_at + delay AS close_cand,
                   cclosed IS NULL AND (opened_at + delay >= {_END}
                        OR (r < 30 AND opened_at >= {_END} - INTERVAL 30 DAY)) AS is_open,
                   CASE WHEN r >= 98 THEN 'Account access for ' || email ELSE s.subject END AS subject
            FROM x JOIN pool_subject s ON s.idx = x.si
        )
        SELECT {off} + row_number() OVER (ORDER BY customer_id, opened_at, k), customer_id, agent_id, subject,
               CASE WHEN is_open THEN 'open' ELSE 'closed' END, opened_at,
               CASE WHEN is_open THEN NULL ELSE least(close_cand, {_LAST}) END
        FROM y ORDER BY 1""")
        self.next_id[table] += n

    def _messages(self, first: bool, blo: int, hi: int) -> None:
        table = "support.ticket_messages"
        if first:
            self._stories(table)
        if blo >= hi:
            return
        con = self.con
        off = self.next_id[table]
        bulk_lo = _STORY_CUSTOMERS + 1
        span = hi - bulk_lo  # other customers are picked among the bulk customers generated so far
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE tmp_msg AS
        WITH t AS (
            SELECT t.ticket_id, t.customer_id, t.agent_id, t.opened_at,
                   coalesce(t.closed_at, {_LAST}) AS end_at, split_part(c.full_name, ' ', 1) AS first_name,
                   c.email, c.phone, 2 + u(t.ticket_id, 60, 3) AS n
            FROM support.tickets t JOIN crm.customers c ON c.customer_id = t.customer_id
            WHERE t.customer_id >= {blo} AND t.customer_id < {hi}
              AND c.customer_id >= {blo} AND c.customer_id < {hi}
        ), e AS (
            SELECT *, unnest(range(n)) AS k FROM t
        ), x AS (
            SELECT *, u2(ticket_id, k, 61, 1000) AS mr,
                   {bulk_lo} + u2(ticket_id, k, 62, {span}) AS o
            FROM e
        )
        SELECT ticket_id, k, customer_id, agent_id, first_name, email, phone,
            CASE WHEN k % 2 = 1 THEN 'agent' ELSE 'customer' END AS author_type,
            opened_at + to_seconds((k * (date_diff('second', opened_at, end_at) // n))::BIGINT) AS sent_at,
            CASE WHEN k % 2 = 1 THEN 'agent' WHEN mr < 50 THEN 'own_email' WHEN mr < 90 THEN 'own_phone'
                 WHEN mr < 110 THEN 'other_email' WHEN mr < 125 THEN 'other_phone'
                 WHEN k = 0 THEN 'first' ELSE 'followup' END AS kind,
            CASE WHEN k % 2 = 0 AND mr >= 90 AND mr < 125
                 THEN CASE WHEN o <> customer_id THEN o WHEN o > {bulk_lo} THEN o - 1 ELSE o + 1 END END
                 AS other_id,
            u2(ticket_id, k, 63, {_TPL_PER_KIND}) AS ti, u2(ticket_id, k, 64, {len(_TOPICS)}) AS topic_i
        FROM x""")
        con.execute("""
        CREATE OR REPLACE TEMP TABLE tmp_other AS
        SELECT customer_id AS other_id, email AS o_email, phone AS o_phone FROM crm.customers
        WHERE customer_id IN (SELECT other_id FROM tmp_msg WHERE other_id IS NOT NULL)""")
        n = self._exec(f"""
        INSERT INTO support.ticket_messages
        SELECT {off} + row_number() OVER (ORDER BY m.ticket_id, m.k), m.ticket_id, m.author_type,
            replace(replace(replace(replace(replace(replace(replace(tp.body,
                '{{first}}', m.first_name), '{{email}}', m.email), '{{phone}}', m.phone),
                '{{other_email}}', coalesce(o.o_email, '')), '{{other_phone}}', coalesce(o.o_phone, '')),
                '{{agent}}', split_part(a.full_name, ' ', 1)), '{{topic}}', tt.topic),
            m.sent_at
        FROM tmp_msg m
        JOIN pool_tpl tp ON tp.kind = m.kind AND tp.idx = m.ti
        JOIN pool_topic tt ON tt.idx = m.topic_i
        JOIN support.agents a ON a.agent_id = m.agent_id
        LEFT JOIN tmp_other o ON o.other_id = m.other_id
        ORDER BY 1""")
        con.execute("DROP TABLE tmp_msg; DROP TABLE tmp_other")
        self.next_id[table] += n

    def _invoices(self, first: bool, blo: int, hi: int) -> None:
        con = self.con
        con.execute("""CREATE OR REPLACE TEMP TABLE tmp_inv (invoice_id BIGINT, invoice_no VARCHAR,
            customer_id BIGINT, billing_name VARCHAR, billing_address VARCHAR, vat_number VARCHAR, issued_at DATE)""")
        if first:
            self._insert_rows("tmp_inv", _STORY_ROWS["billing.invoices"])
            self.next_id["billing.invoices"] = len(_STORY_ROWS["billing.invoices"])
        if blo < hi:
            off = self.next_id["billing.invoices"]
            self.next_id["billing.invoices"] += self._exec(f"""
            INSERT INTO tmp_inv
            WITH c AS (
                SELECT cu.customer_id, cu.full_name, cu.street_address, cu.city, cu.postal_code, cu.country,
                       pc.country_name, greatest(cu.created_at, TIMESTAMP '2018-01-01') AS start_at,
                       coalesce(cu.closed_at, {_END}) AS end_at,
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
        off = self.next_id["billing.invoice_lines"]
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE tmp_lines AS
        WITH e AS (
            SELECT invoice_id, unnest(range(1 + u(invoice_id, 80, 3))) AS k FROM tmp_inv
        ), x AS (
            SELECT invoice_id, k, 1 + u2(invoice_id, k, 81, {len(_PRODUCTS)})::INT AS pid,
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

    def _invoice_lines(self) -> None:
        n = self._exec("INSERT INTO billing.invoice_lines SELECT * FROM tmp_lines ORDER BY line_id")
        self.con.execute("DROP TABLE tmp_lines; DROP TABLE tmp_inv")
        self.next_id["billing.invoice_lines"] += n

    def _consents(self, first: bool, blo: int, hi: int) -> None:
        table = "marketing.consent_events"
        if first:
            self._stories(table)
        if blo >= hi:
            return
        off = self.next_id[table]
        n = self._exec(f"""
        INSERT INTO marketing.consent_events
        WITH c AS (
            SELECT customer_id, created_at, coalesce(closed_at, {_END}) AS end_at,
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
        self.next_id[table] += n

    def _sends(self, first: bool, blo: int, hi: int) -> None:
        table = "marketing.email_sends"
        if first:
            self._stories(table)
        if blo >= hi:
            return
        off = self.next_id[table]
        n = self._exec(f"""
        INSERT INTO marketing.email_sends
        WITH s AS (
            SELECT customer_id,
                   min(occurred_at) FILTER (WHERE purpose = 'marketing' AND action = 'granted') AS g_at,
                   min(occurred_at) FILTER (WHERE purpose = 'marketing' AND action = 'withdrawn') AS w_at
            FROM marketing.consent_events WHERE customer_id >= {blo} AND customer_id < {hi}
            GROUP BY customer_id
        ), c AS (
            SELECT s.customer_id, s.g_at, s.w_at, cu.email, coalesce(cu.closed_at, {_END}) AS end_at
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
                         AND s.sent_at + to_seconds(60 + u2(s.customer_id, s.k, 105, 3 * 86400)) < {_END}
                    THEN s.sent_at + to_seconds(60 + u2(s.customer_id, s.k, 105, 3 * 86400)) END
        FROM sends s JOIN pool_campaign p ON p.idx = u2(s.customer_id, s.k, 106, {_N_CAMPAIGNS})
        ORDER BY 1""")
        self.next_id[table] += n

    def _newsletter(self, first: bool, blo: int, lo: int, hi: int) -> None:
        table = "marketing.newsletter_signups"
        if first:
            self._stories(table)
        off = self.next_id[table]
        plo, phi = (lo - 1) // 5, (hi - 1) // 5  # prospects: ~0.2 per subject
        srcs = _sql_list(_NEWSLETTER_SOURCES)
        pdom = _sql_list(_PROSPECT_DOMAINS)
        n = self._exec(f"""
        INSERT INTO marketing.newsletter_signups
        WITH cust AS (
            SELECT 0 AS kind, customer_id AS key,
                CASE WHEN u(customer_id, 111, 100) < 10 THEN upper(email[1]) || email[2:]
                     WHEN u(customer_id, 111, 100) < 15 THEN ' ' || email
                     WHEN u(customer_id, 111, 100) < 18 THEN upper(email) ELSE email END AS email,
                rts(h(customer_id, 112), greatest(created_at - INTERVAL 365 DAY, TIMESTAMP '2017-01-01'),
                    least(coalesce(closed_at, {_END}), created_at + INTERVAL 365 DAY)) AS signed_up_at,
                list_element({srcs}, 1 + u(customer_id, 113, 4)::INT) AS source
            FROM crm.customers
            WHERE customer_id >= {blo} AND customer_id < {hi} AND u(customer_id, 110, 100) < 10
        ), pb AS (
            SELECT p, CASE WHEN u(p, 120, 100) < 80 THEN 'LV' WHEN u(p, 120, 100) < 90 THEN 'LT' ELSE 'EE' END
                   AS country, u(p, 121, 2) AS gender, u(p, 122, {POOL}) AS fi, u(p, 123, {POOL}) AS li
            FROM range({plo}, {phi}) t(p)
        ), prospects AS (
            SELECT 1 AS kind, pb.p AS key,
                f.ascii || '.' || l.ascii || (100 + (pb.p * {_MUL} + {self.prospect_off}) % 9900000) || '@'
                    || list_element({pdom}, 1 + u(pb.p, 124, {len(_PROSPECT_DOMAINS)})::INT) AS email,
                rts(h(pb.p, 125), TIMESTAMP '2018-01-01', {_END}) AS signed_up_at,
                list_element({srcs}, 1 + u(pb.p, 126, {len(_NEWSLETTER_SOURCES)})::INT) AS source
            FROM pb
            JOIN pool_first f ON f.k = pk(pb.country, pb.gender, pb.fi)
            JOIN pool_last l ON l.k = pk(pb.country, pb.gender, pb.li)
        ), a AS (SELECT * FROM cust UNION ALL SELECT * FROM prospects)
        SELECT {off} + row_number() OVER (ORDER BY kind, key), email, signed_up_at, source FROM a ORDER BY 1""")
        self.next_id[table] += n

    def _analytics(self, number: int, lo: int, hi: int) -> None:
        con = self.con
        off = self.next_id["web.analytics_events"]
        pages = _sql_list(_PAGES)
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE tmp_ev AS
        WITH a AS (
            SELECT account_id, created_at, coalesce(closed_at, {_END}) AS end_at
            FROM app.user_accounts WHERE customer_id >= {lo} AND customer_id < {hi}
        ), e AS (
            SELECT *, unnest(range(1 + u(account_id, 130, 8))) AS k FROM a
        ), x AS (
            SELECT account_id, k, k // 3 AS sess,
                   rts(h2(account_id, k // 3, 131), created_at, end_at - INTERVAL 10 MINUTE)
                       + to_seconds((k % 3) * (5 + u2(account_id, k, 132, 115))) AS occurred_at,
                   u2(account_id, k, 133, 100) AS r
            FROM e
        )
        SELECT CAST({off} + row_number() OVER (ORDER BY account_id, occurred_at, k) AS BIGINT) AS event_id,
               CAST(account_id AS BIGINT) AS account_id,
               printf('%016x', h2(account_id, sess, 134)) AS session_id,
               occurred_at,
               list_element({pages}, 1 + u2(account_id, k, 135, {len(_PAGES)})::INT) AS page,
               CASE WHEN k % 3 = 0 OR r < 55 THEN 'page_view' WHEN r < 80 THEN 'click'
                    WHEN r < 88 THEN 'search' WHEN r < 95 THEN 'download' ELSE 'signup_start' END AS event_type,
               CASE WHEN u2(account_id, sess, 136, 100) < 8 THEN ip(h2(account_id, sess, 137), 44)
                    ELSE ip(account_id * 2 + sess % 2, 44) END AS ip_address
        FROM x""")
        n = self._exec("SELECT count(*) FROM tmp_ev")
        path = self.lake_dir / f"part-{number:05d}.parquet"
        con.execute(f"COPY (SELECT * FROM tmp_ev ORDER BY event_id) TO '{path}' "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
        con.execute("DROP TABLE tmp_ev")
        self.next_id["web.analytics_events"] += n
        self.lake_rows += n


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - convenience entry point
    import argparse

    parser = argparse.ArgumentParser(description="Generate the Baltic Software Factory demo company.")
    parser.add_argument("workspace")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    summary = generate_demo(args.workspace, args.subjects, args.seed, progress=not args.quiet)
    print(f"{summary.workspace}: {summary.subjects:,} subjects, {summary.total_rows:,} rows "
          f"in {summary.seconds:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
