"""The demo company's tables: the datasets it writes, their DDL and keys, and the demo's fixed "today"."""

from __future__ import annotations

import datetime
import re

import duckdb

__all__ = ["DATASETS", "DEMO_TODAY", "END", "LAST", "PRIMARY_KEYS", "SCHEMA", "create_schema"]

DEMO_TODAY = datetime.date(2026, 11, 15)
"""The demo's fixed "today". No generated date or timestamp is on or after it (all are before its midnight)."""

DATASETS = (
    "crm.customers",
    "crm.delivery_addresses",
    "crm.referrals",
    "app.user_accounts",
    "app.login_events",
    "support.agents",
    "support.tickets",
    "support.ticket_messages",
    "community.messages",
    "catalog.products",
    "billing.invoices",
    "billing.invoice_lines",
    "marketing.consent_events",
    "marketing.email_sends",
    "marketing.newsletter_signups",
    "web.analytics_events",
)
"""Every dataset the demo writes (``web.analytics_events`` lives in the Parquet lake)."""

END = "TIMESTAMP '2026-11-15 00:00:00'"  # exclusive upper bound of every generated timestamp
LAST = "TIMESTAMP '2026-11-14 23:59:59'"
assert END[11:21] == DEMO_TODAY.isoformat()

SCHEMA = """
CREATE SCHEMA crm; CREATE SCHEMA app; CREATE SCHEMA support; CREATE SCHEMA community; CREATE SCHEMA catalog;
CREATE SCHEMA billing; CREATE SCHEMA marketing;
CREATE TABLE crm.customers (
    customer_id BIGINT NOT NULL, full_name VARCHAR, email VARCHAR, phone VARCHAR, street_address VARCHAR,
    city VARCHAR, postal_code VARCHAR, country VARCHAR, created_at TIMESTAMP, closed_at TIMESTAMP, status VARCHAR,
    delivery_address_id BIGINT);
CREATE TABLE crm.delivery_addresses (
    address_id BIGINT NOT NULL, street VARCHAR, city VARCHAR, postal_code VARCHAR, country VARCHAR, phone VARCHAR,
    last_used_at TIMESTAMP);
CREATE TABLE crm.referrals (
    referral_id BIGINT NOT NULL, referrer_id BIGINT, referred_id BIGINT, referred_email VARCHAR, referred_on DATE,
    status VARCHAR);
CREATE TABLE app.user_accounts (
    account_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, username VARCHAR, email VARCHAR,
    password_hash VARCHAR, created_at TIMESTAMP, last_login_at TIMESTAMP, closed_at TIMESTAMP);
CREATE TABLE app.login_events (
    event_id BIGINT NOT NULL, account_id BIGINT NOT NULL, logged_in_at TIMESTAMP, ip_address VARCHAR,
    user_agent VARCHAR, success BOOLEAN);
CREATE TABLE support.agents (
    agent_id INTEGER NOT NULL, full_name VARCHAR, display_name VARCHAR, email VARCHAR, password_hash VARCHAR,
    team VARCHAR);
CREATE TABLE support.tickets (
    ticket_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, agent_id INTEGER, subject VARCHAR, status VARCHAR,
    opened_at TIMESTAMP, closed_at TIMESTAMP);
CREATE TABLE support.ticket_messages (
    message_id BIGINT NOT NULL, ticket_id BIGINT NOT NULL, author_type VARCHAR, body VARCHAR, sent_at TIMESTAMP);
CREATE TABLE community.messages (
    message_id BIGINT NOT NULL, sender_id BIGINT, recipient_id BIGINT, body VARCHAR, sent_at TIMESTAMP);
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
# ``build.PRIMARY_KEY_CONSTRAINTS`` (benchmark --primary-keys) generates with the constraints.
PRIMARY_KEYS = {
    "crm.customers": "customer_id",
    "crm.delivery_addresses": "address_id",
    "crm.referrals": "referral_id",
    "app.user_accounts": "account_id",
    "app.login_events": "event_id",
    "support.agents": "agent_id",
    "support.tickets": "ticket_id",
    "support.ticket_messages": "message_id",
    "community.messages": "message_id",
    "catalog.products": "product_id",
    "billing.invoices": "invoice_id",
    "billing.invoice_lines": "line_id",
    "marketing.consent_events": "event_id",
    "marketing.email_sends": "send_id",
    "marketing.newsletter_signups": "signup_id",
}


def create_schema(con: duckdb.DuckDBPyConnection, primary_keys: bool = False) -> None:
    """Create the schemas and the empty tables; with `primary_keys`, each table's key column gets a PRIMARY KEY."""
    schema = SCHEMA
    if primary_keys:  # measured, off by default (see PRIMARY_KEYS)
        for table, pk in PRIMARY_KEYS.items():
            schema = re.sub(rf"(CREATE TABLE {re.escape(table)} \(\s*{pk} \w+ NOT NULL)",
                            r"\1 PRIMARY KEY", schema)
    con.execute(schema)
