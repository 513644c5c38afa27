"""Erasure that follows what the store declares (issue "Step 8", items 1-3).

PostgreSQL: the rental shop of tests/fixtures/constraints_pg.sql (payments partitioned by month with their keys on
the partitions only, ON DELETE CASCADE / SET NULL, a deferrable self-reference, NOT NULL, CHECK, UNIQUE, a generated
column, `last_update` triggers), with the map in tests/fixtures/rental_map.yaml. SQLite: a small club built here
with the same kinds of constraints. Each rule has a test that fails without it:

1. the plan follows every foreign key the store reports: a row staying rows point at through a key on a partition
   is kept minimised and the plan names the key; a CASCADE or SET NULL the plan did not decide refuses the plan;
2. masking is decided when planning: NOT NULL, CHECK, UNIQUE and the column's type are known, a map placeholder is
   used where it fits, a field no value can hide refuses the plan with the map line to change;
3. columns the store maintains (`maintained:`) are never compared by verification and are named on the
   certificate; a trigger that rewrites a masked field fails verification in plain words.

Plans are approved by a second actor and executed; expected values come from SQL on the stores.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from privacyops.erasure import (
    DELETE,
    MASK,
    RETAIN,
    ErasureError,
    approve_plan,
    execute_plan,
    plan_erasure,
    verify_certificate,
)
from privacyops.ledger import open_case
from privacyops.workspace import check_workspace, open_workspace
from tests.support import pg as pgserver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHOP_SQL = FIXTURES / "constraints_pg.sql"
RENTAL_MAP = FIXTURES / "rental_map.yaml"
DSN_ENV = "PRIVACYOPS_RENTAL_DSN"
MARY, JANIS = "mary.smith@mail.example", "janis.berzins@mail.example"
AS_OF = dt.date(2026, 11, 20)  # the 2024 payments are kept for the accounts until 2031


def run(ws, monkeypatch, identifier: str, *, execute: bool = True):
    """Plan as alice, approve as bob (four-eyes), execute; the plan and the result (None: not executed)."""
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    case_id = open_case(ws, "erasure", AS_OF).case_id
    plan = plan_erasure(ws, case_id, identifier, as_of=AS_OF)
    if not execute:
        return plan, None
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    if result.ok:  # the whole way: a certificate that checks out offline
        assert verify_certificate(result.certificate_path).ok
    return plan, result


def certificate(result) -> dict:
    return json.loads(result.certificate_path.read_text())["certificate"]


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL: the rental shop.


@pytest.fixture(scope="module")
def shop_template(postgres_dsn):
    with pgserver.database(postgres_dsn, "rental_tpl") as dsn:
        with pgserver.connect(dsn) as con:  # closed before copies are made: a template must have no session
            con.execute(SHOP_SQL.read_text())
        yield pgserver.database_name(dsn)


class Shop:
    """A workspace on a fresh copy of the shop, and SQL on it."""

    def __init__(self, root: Path, dsn: str):
        self.root, self.dsn = root, dsn

    def workspace(self, edit=lambda text: text):
        """The workspace with the fixture's map, changed by `edit` (a variant for one rule)."""
        (self.root / "privacyops.yaml").write_text(edit(RENTAL_MAP.read_text()))
        return open_workspace(self.root)

    def q(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.dsn) as con:
            return con.execute(sql, list(params)).fetchall()


@pytest.fixture()
def shop(shop_template, postgres_dsn, tmp_path, monkeypatch):
    with pgserver.database(postgres_dsn, "rental", template=shop_template) as dsn:
        monkeypatch.setenv(DSN_ENV, dsn)
        root = tmp_path / "ws"
        root.mkdir()
        yield Shop(root, dsn)


def partition_keys(shop: Shop, column: str, referenced: str) -> list[str]:
    """The foreign keys on payment's partitions from `column` to `referenced`, as the catalog names them."""
    return [r[0] for r in shop.q(
        "SELECT k.conname FROM pg_constraint k JOIN pg_inherits i ON i.inhrelid = k.conrelid "
        "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
        "WHERE i.inhparent = 'payment'::regclass AND k.contype = 'f' AND k.confrelid = %s::regclass "
        "AND a.attname = %s ORDER BY k.conname", [referenced, column])]


@pytest.mark.slow
def test_a_row_pointed_at_through_keys_on_partitions_is_kept_minimised_and_the_plan_names_them(shop, monkeypatch):
    ws = shop.workspace()
    others = shop.q("SELECT * FROM customer WHERE customer_id <> 1 ORDER BY 1")
    other_payments = shop.q("SELECT * FROM payment WHERE customer_id <> 1 ORDER BY payment_id")
    keys = partition_keys(shop, "customer_id", "customer")
    assert len(keys) == 2  # one per monthly partition, none on payment itself
    kept_payments = shop.q("SELECT payment_id, customer_id, rental_id, amount FROM payment WHERE customer_id = 1 "
                           "ORDER BY 1")
    assert all(r[2] is not None for r in kept_payments)

    plan, result = run(ws, monkeypatch, MARY)
    assert result.ok, result.verification.problems
    mary = plan.row("customer", (1,))
    assert mary.action == RETAIN and "enforces the link (payment.customer_id)" in mary.reason
    assert f"payment.customer_id: enforced by {keys[0]} (declared on a partition), {keys[1]} (declared on a " \
           f"partition)" in mary.notes
    assert "the store does not enforce the link" not in " ".join(n for r in plan.rows for n in r.notes)
    # Minimised: names redacted (NOT NULL text), the UNIQUE e-mail and the rest NULL; the generated full name
    # follows the names; the key and what the payments' keys need stay.
    assert shop.q("SELECT first_name, last_name, full_name, email, address_id, referred_by, birth_year "
                  "FROM customer WHERE customer_id = 1") == [
        ("[erased]", "[erased]", "[erased] [erased]", None, None, None, None)]
    # The payments are kept under the accounting rule: rental_id (ON DELETE SET NULL to the deleted rentals) is
    # masked to NULL by the plan, so the store's SET NULL changes nothing the plan did not decide.
    assert shop.q("SELECT payment_id, customer_id, rental_id, amount FROM payment WHERE customer_id = 1 "
                  "ORDER BY 1") == [(p, c, None, a) for p, c, _, a in kept_payments]
    assert shop.q("SELECT count(*) FROM rental WHERE customer_id = 1") == [(0,)]
    assert shop.q("SELECT count(*) FROM refund WHERE payment_id = 101") == [(0,)]
    assert shop.q("SELECT count(*) FROM customer_note WHERE customer_id = 1") == [(0,)]
    assert shop.q("SELECT count(*) FROM address WHERE address_id = 1") == [(0,)]
    assert shop.q("SELECT * FROM customer WHERE customer_id <> 1 ORDER BY 1") == others
    assert shop.q("SELECT * FROM payment WHERE customer_id <> 1 ORDER BY payment_id") == other_payments


@pytest.mark.slow
def test_a_deferrable_key_is_noted(shop, monkeypatch):
    ws = shop.workspace()
    referring = shop.q("SELECT customer_id FROM customer WHERE referred_by = 2 ORDER BY 1")
    assert referring == [(1,), (3,)]
    plan, _ = run(ws, monkeypatch, JANIS, execute=False)
    janis = plan.row("customer", (2,))
    assert janis.action == RETAIN
    assert "customer.referred_by: enforced by customer_referred_by_fkey (deferrable, checked when the " \
           "transaction commits)" in janis.notes


def _without_refund_reference(text: str) -> str:
    return text.replace("    references: {payment_id: payment.payment_id}\n", "")


def _payments_deleted(text: str) -> str:
    """No accounting rule: the payments go. One the auditor's sample points at stays minimised, its amount (NOT
    NULL, CHECK amount >= 0) masked with the map's placeholder."""
    return text.replace("    retention: accounts\n", "").replace(
        "erasure: {keep_fields: [customer_id, staff_id, amount]}",
        "erasure: {keep_fields: [customer_id, staff_id, amount], mask: {amount: {value: 0}}}")


def _customer_masked(text: str) -> str:
    """Customers are masked, not deleted (their rentals then stay under their own policy)."""
    return text.replace("      birth_year: user.demographic.date_of_birth\n",
                        "      birth_year: user.demographic.date_of_birth\n"
                        "    erasure: {action: mask, mask: {first_name: redact, last_name: redact, email: null, "
                        "birth_year: null, address_id: null}}\n")


@pytest.mark.slow
def test_a_cascade_to_rows_the_plan_does_not_list_refuses_the_plan(shop, monkeypatch):
    ws = shop.workspace(lambda t: _payments_deleted(_without_refund_reference(t)))
    (key,) = [r[0] for r in shop.q("SELECT conname FROM pg_constraint WHERE conrelid = 'refund'::regclass "
                                   "AND contype = 'f' AND conparentid = 0")]  # not its clones per partition
    before = shop.q("SELECT count(*) FROM refund")
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, MARY, execute=False)
    text = str(exc.value)
    assert f"the store's foreign key {key} from refund.payment_date, payment_id to payment is ON DELETE CASCADE" \
           in text
    assert "that this plan does not list" in text and "a cascade the plan did not decide is refused" in text
    assert f"add payment_id: payment.payment_id under references of refund (line " \
           f"{ws.datamap.line_of('datasets.refund')}, datasets.refund)" in text
    assert shop.q("SELECT count(*) FROM refund") == before


@pytest.mark.slow
def test_a_key_to_a_partition_from_another_table_keeps_the_payment_it_points_at(shop, monkeypatch):
    # Without the accounting rule the payments go, but the auditor's sample points at one of them through a key
    # to the January partition: that payment stays, minimised; its refund (ON DELETE CASCADE, listed) goes.
    ws = shop.workspace(_payments_deleted)
    (key,) = [r[0] for r in shop.q("SELECT conname FROM pg_constraint WHERE conrelid = "
                                   "'audit_sample_2024_01'::regclass AND contype = 'f'")]
    sampled = shop.q("SELECT payment_date, payment_id FROM audit_sample_2024_01")
    mine = shop.q("SELECT payment_date, payment_id FROM payment WHERE customer_id = 1 ORDER BY 2")
    plan, result = run(ws, monkeypatch, MARY)
    assert result.ok, result.verification.problems
    kept = [k for k in mine if k in sampled]
    assert len(kept) == 1 and [pr.key for pr in plan.rows if pr.dataset == "payment" and pr.action == RETAIN] == kept
    row = plan.row("payment", kept[0])
    assert f"audit_sample_2024_01.payment_date/payment_id: enforced by {key}" in row.notes
    assert "1 other record(s) not part of this erasure" in row.reason
    assert [pr.action for pr in plan.rows if pr.dataset == "payment" and pr.key not in kept] == [DELETE]
    assert shop.q("SELECT payment_date, payment_id, rental_id, amount FROM payment WHERE customer_id = 1") == [
        (*kept[0], None, 0)]
    assert row.masks["amount"]["strategy"] == "value"
    assert shop.q("SELECT count(*) FROM refund") == [(0,)]


@pytest.mark.slow
def test_a_cascade_to_rows_the_plan_keeps_refuses_the_plan(shop, monkeypatch):
    # The payments go (no rule, no auditor's sample) and nothing keeps Mary's row: rental 11, not returned, is kept
    # while its return date is empty, and the store's key from rental would delete it with her.
    def edit(text: str) -> str:
        text = _payments_deleted(text).replace("retention:\n", "retention:\n  open_rentals: {keep: 1 month, from: "
                                                             "return_date, ground: Rental terms, "
                                                             "keep_while_empty: true}\n", 1)
        return text.replace("    references:\n      customer_id: customer.customer_id\n      staff_id: {to: "
                            "staff.staff_id, shared: true}\n    purposes: [rentals]\n",
                            "    references:\n      customer_id: customer.customer_id\n      staff_id: {to: "
                            "staff.staff_id, shared: true}\n    purposes: [rentals]\n    retention: open_rentals\n", 1)

    ws = shop.workspace(edit)
    assert ws.datamap.datasets["rental"].retention == "open_rentals"
    shop.q("DELETE FROM audit_sample_2024_01 RETURNING sample_id")  # nothing else holds the payments back
    (key,) = [r[0] for r in shop.q("SELECT conname FROM pg_constraint WHERE conrelid = 'rental'::regclass "
                                   "AND confrelid = 'customer'::regclass")]
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, MARY, execute=False)
    text = str(exc.value)
    assert f"{key} from rental.customer_id to customer is ON DELETE CASCADE and would delete 1 rental record(s) " \
           f"with them that this plan keeps" in text
    assert f"erasure: {{action: mask}} (line {ws.datamap.line_of('datasets.customer')}, datasets.customer)" in text
    assert "customer:1" in text


@pytest.mark.slow
def test_set_null_on_a_column_the_plan_keeps_refuses_the_plan(shop, monkeypatch):
    ws = shop.workspace(lambda t: t.replace("erasure: {keep_fields: [customer_id, staff_id, amount]}",
                                            "erasure: {keep_fields: [customer_id, staff_id, amount, rental_id]}"))
    keys = partition_keys(shop, "rental_id", "rental")
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, MARY, execute=False)
    text = str(exc.value)
    assert f"the store's foreign key {keys[0]} (declared on a partition), {keys[1]} (declared on a partition) " \
           f"from payment.rental_id to rental is ON DELETE SET NULL and would set rental_id to NULL in 1 payment " \
           f"record(s) that this plan keeps" in text
    line = ws.datamap.line_of("datasets.payment.erasure.keep_fields")
    assert f"leave it out of erasure.keep_fields of payment (line {line}, datasets.payment.erasure.keep_fields)" \
           in text
    assert "rental:10" in text and "rental:11" in text
    assert shop.q("SELECT count(*) FROM rental WHERE customer_id = 1") == [(2,)]


@pytest.mark.slow
def test_a_not_null_field_no_value_can_hide_refuses_the_plan_with_the_map_line(shop, monkeypatch):
    ws = shop.workspace(lambda t: _customer_masked(t).replace("    fields: {inventory_id: user.behavior.media_consumption, "
                                            "rental_date: system.operations, return_date: system.operations}\n",
                                            "    fields: {inventory_id: user.behavior.media_consumption, "
                                            "rental_date: user.behavior, return_date: system.operations}\n"
                                            "    erasure: {action: mask, mask: {rental_date: null}}\n"))
    assert shop.q("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'rental' AND "
                  "column_name = 'rental_date'") == [("NO",)]
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, MARY, execute=False)
    line = ws.datamap.line_of("datasets.rental.erasure.mask.rental_date")
    assert (f"column rental_date of dataset rental is NOT NULL and has no value that hides the data (the column "
            f"does not allow NULL; redact needs a text column; hmac needs a text column): give it a placeholder "
            f"in the map (line {line}, datasets.rental.erasure.mask.rental_date): mask: {{rental_date: "
            f"{{value: ...}}}}") in str(exc.value)


def _rental_placeholder(value: str):
    def edit(text: str) -> str:
        return text.replace("    fields: {inventory_id: user.behavior.media_consumption, rental_date: "
                            "system.operations, return_date: system.operations}\n",
                            "    fields: {inventory_id: user.behavior.media_consumption, rental_date: "
                            "system.operations, return_date: user.behavior}\n"
                            f"    erasure: {{action: mask, mask: {{return_date: {{value: \"{value}\"}}}}}}\n")
    return lambda text: edit(_customer_masked(text))


@pytest.mark.slow
def test_a_placeholder_the_stores_check_refuses_refuses_the_plan(shop, monkeypatch):
    ws = shop.workspace(_rental_placeholder("1970-01-01"))
    (check,) = [r[0] for r in shop.q("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = "
                                     "'rental_returned_after_rented'")]
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, MARY, execute=False)
    line = ws.datamap.line_of("datasets.rental.erasure.mask.return_date")
    assert (f"column return_date of dataset rental: the store's check {check} refuses the placeholder "
            f"'1970-01-01'; change the placeholder in the map (line {line}, "
            f"datasets.rental.erasure.mask.return_date)") in str(exc.value)


@pytest.mark.slow
def test_a_placeholder_is_written_where_null_would_mean_not_returned(shop, monkeypatch):
    ws = shop.workspace(_rental_placeholder("2100-01-01"))
    others = shop.q("SELECT * FROM rental WHERE customer_id <> 1 ORDER BY 1")
    dates = shop.q("SELECT rental_id, rental_date FROM rental WHERE customer_id = 1 ORDER BY 1")
    plan, result = run(ws, monkeypatch, MARY)
    assert result.ok, result.verification.problems
    assert [plan.row("rental", (r,)).action for r, _ in dates] == [MASK, MASK]
    assert shop.q("SELECT rental_id, rental_date, return_date = timestamp '2100-01-01' FROM rental "
                  "WHERE customer_id = 1 ORDER BY 1") == [(r, d, True) for r, d in dates]
    assert shop.q("SELECT * FROM rental WHERE customer_id <> 1 ORDER BY 1") == others


@pytest.mark.slow
def test_maintained_columns_are_not_compared_and_the_certificate_names_them(shop, monkeypatch):
    ws = shop.workspace()
    _, result = run(ws, monkeypatch, MARY)
    assert result.ok, result.verification.problems
    changed = shop.q("SELECT last_update > now() - interval '1 hour' FROM customer WHERE customer_id = 1")
    assert changed == [(True,)]  # the trigger stamped the masked row
    generated = [r[0] for r in shop.q("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                      "'customer' AND is_generated = 'ALWAYS'")]
    assert certificate(result)["not_compared"] == {
        "customer": f"columns the store maintains, not compared: {', '.join(sorted(generated + ['last_update']))}"}


@pytest.mark.slow
def test_without_maintained_a_last_update_trigger_fails_verification_in_plain_words(shop, monkeypatch):
    ws = shop.workspace(lambda t: t.replace("    purposes: [rentals]\n    maintained: [last_update]\n    fields:\n"
                                            "      first_name", "    purposes: [rentals]\n    fields:\n"
                                                                "      first_name", 1))
    assert ws.datamap.datasets["customer"].maintained == ()
    (trigger,) = [r[0] for r in shop.q("SELECT tgname FROM pg_trigger WHERE tgrelid = 'customer'::regclass AND "
                                       "NOT tgisinternal")]
    _, result = run(ws, monkeypatch, MARY)
    assert not result.ok
    (problem,) = result.verification.problems
    assert problem.startswith("customer:1: the fields it keeps changed after erasure wrote it; the store runs "
                              f"trigger(s) ({trigger}) when customer is updated")
    assert f"list it under maintained: in the map (line {ws.datamap.line_of('datasets.customer')}, " \
           f"datasets.customer), e.g. maintained: [last_update]" in problem


@pytest.mark.slow
def test_check_lists_triggers_store_filled_columns_and_placeholders_that_do_not_fit(shop):
    ws = shop.workspace(lambda t: t.replace("      birth_year: user.demographic.date_of_birth\n",
                                            "      birth_year: user.demographic.date_of_birth\n"
                                            "    erasure: {mask: {birth_year: {value: 70000}}}\n"))
    report = check_workspace(ws)
    (problem,) = report.problems
    assert problem.line == ws.datamap.line_of("datasets.customer.erasure.mask.birth_year")
    assert "the placeholder 70000 does not fit column birth_year (smallint): 70000 is outside the range of " \
           "smallint (-32768 to 32767)" in str(problem)
    triggers = {t: tbl for t, tbl in shop.q("SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
                                            "WHERE NOT tgisinternal")}
    for name, table in triggers.items():
        assert any(w.startswith(f"{table}: the store runs trigger(s) when erasure or rectification writes {table}: "
                                f"{name} (BEFORE UPDATE)") for w in report.warnings), (name, report.warnings)
    (expr,) = [r[0] for r in shop.q("SELECT generation_expression FROM information_schema.columns WHERE "
                                    "table_name = 'customer' AND column_name = 'full_name'")]
    computed = [w for w in report.warnings if w.startswith("customer: the store computes full_name")]
    assert computed and "erasure never writes such a column" in computed[0]
    assert re.sub(r"[()\s]", "", expr) in re.sub(r"[()\s]", "", computed[0])
    filled = [w for w in report.warnings if w.startswith("customer: the store fills ")]
    defaults = [r[0] for r in shop.q("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                     "'customer' AND column_default IS NOT NULL ORDER BY ordinal_position")]
    assert filled and all(f"{c} (default" in filled[0] for c in defaults if c != "last_update")
    assert "last_update (default" not in filled[0]  # the map says the store maintains it


# ---------------------------------------------------------------------------------------------------------------
# SQLite: a club with the same kinds of constraints, built here.

CLUB_SQL = """
CREATE TABLE member (
    id          INTEGER PRIMARY KEY,
    email       TEXT UNIQUE,
    name        TEXT NOT NULL,
    birth_year  INTEGER NOT NULL CHECK (birth_year BETWEEN 1900 AND 2100),
    last_update TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE account (
    id        INTEGER PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES member (id),
    login     TEXT NOT NULL UNIQUE,
    notes     TEXT
);
CREATE TABLE visit (
    id        INTEGER PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES member (id) ON DELETE CASCADE,
    note      TEXT
);
CREATE TRIGGER member_touch AFTER UPDATE ON member BEGIN
    UPDATE member SET last_update = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
END;
INSERT INTO member VALUES (1, 'anna@club.example', 'Anna Liepa', 1985, '2020-01-01 00:00:00'),
                          (2, 'olga@club.example', 'Olga Koka', 1990, '2020-01-01 00:00:00');
INSERT INTO account VALUES (10, 1, 'anna', 'likes jazz'), (11, 1, 'anna-work', NULL), (12, 2, 'olga', 'x');
INSERT INTO visit VALUES (100, 1, 'first visit'), (101, 2, 'second visit');
"""

CLUB_MAP = """version: 1
organisation: {name: Club, contact: privacy@club.example, authority: {name: DVI, country: LV}}
purposes:
  membership: {description: Running the club, legal_basis: contract}
sources:
  club: {kind: sqlite, path: club.sqlite, location: LV}
datasets:
  member:
    source: club
    subject: member
    primary_key: id
    identities: {email: email}
    purposes: [membership]
    maintained: [last_update]
    fields: {email: user.contact.email, name: user.name, birth_year: user.demographic.date_of_birth}
    erasure: {action: mask, mask: {email: null, name: redact, birth_year: {value: 1900}}}
  account:
    source: club
    primary_key: id
    references: {member_id: member.id}
    purposes: [membership]
    fields: {login: user.account.username, notes: user.content}
    erasure: {action: mask, mask: {login: redact, notes: null}}
  visit:
    source: club
    primary_key: id
    references: {member_id: member.id}
    purposes: [membership]
    fields: {note: user.content}
"""
ANNA = "anna@club.example"


class Club:
    """A workspace on a fresh club database, and SQL on it."""

    def __init__(self, root: Path):
        self.root = root
        con = sqlite3.connect(root / "club.sqlite")
        con.executescript(CLUB_SQL)
        con.close()

    def workspace(self, edit=lambda text: text, sql: str = ""):
        if sql:
            self.q(sql)
        (self.root / "privacyops.yaml").write_text(edit(CLUB_MAP))
        return open_workspace(self.root)

    def q(self, sql: str, params=()) -> list[tuple]:
        con = sqlite3.connect(self.root / "club.sqlite")
        try:
            with con:
                if ";" in sql.strip().rstrip(";"):
                    con.executescript(sql)
                    return []
                return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

    def check_of(self, table: str, column: str) -> str:
        """The CHECK clause on `column` as the table's CREATE statement writes it."""
        (ddl,) = self.q("SELECT sql FROM sqlite_master WHERE name = ?", [table])[0]
        return re.search(rf"CHECK \({column} [^)]*\)", ddl).group(0)


@pytest.fixture()
def club(tmp_path):
    root = tmp_path / "club"
    root.mkdir()
    return Club(root)


def test_sqlite_unique_pseudonyms_placeholder_and_maintained_column(club, monkeypatch):
    ws = club.workspace()
    others = {t: club.q(f"SELECT * FROM {t} WHERE {c} <> 1 ORDER BY 1")
              for t, c in (("member", "id"), ("account", "member_id"), ("visit", "member_id"))}
    logins = club.q("SELECT id, login FROM account WHERE member_id = 1 ORDER BY 1")
    plan, result = run(ws, monkeypatch, ANNA)
    assert result.ok, result.verification.problems
    # login is UNIQUE and NOT NULL: the map's redact would put "[erased]" in both rows, so each gets its own
    # pseudonym, and the plan says why.
    masked = club.q("SELECT id, login, notes FROM account WHERE member_id = 1 ORDER BY 1")
    assert [i for i, _, _ in masked] == [i for i, _ in logins]
    assert len({v for _, v, _ in masked}) == len(masked) and all(v.startswith("ps-") for _, v, _ in masked)
    assert not {v for _, v, _ in masked} & {v for _, v in logins} and all(n is None for _, _, n in masked)
    assert "UNIQUE" in plan.row("account", (logins[0][0],)).masks["login"]["note"]
    # birth_year is NOT NULL with a CHECK: the map's placeholder goes in.
    assert club.q("SELECT email, name, birth_year FROM member WHERE id = 1") == [(None, "[erased]", 1900)]
    assert club.q("SELECT last_update > '2020-01-01 00:00:00' FROM member WHERE id = 1") == [(1,)]  # the trigger
    assert club.q("SELECT count(*) FROM visit WHERE member_id = 1") == [(0,)]
    for (t, c), rows in zip((("member", "id"), ("account", "member_id"), ("visit", "member_id")), others.values()):
        assert club.q(f"SELECT * FROM {t} WHERE {c} <> 1 ORDER BY 1") == rows
    assert certificate(result)["not_compared"] == {"member": "columns the store maintains, not compared: last_update"}


def test_sqlite_without_maintained_the_trigger_fails_verification(club, monkeypatch):
    ws = club.workspace(lambda t: t.replace("    maintained: [last_update]\n", ""))
    (trigger,) = [r[0] for r in club.q("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = "
                                       "'member'")]
    _, result = run(ws, monkeypatch, ANNA)
    assert not result.ok
    assert [p.split(";")[0] for p in result.verification.problems] == [
        "member:1: the fields it keeps changed after erasure wrote it"]
    assert f"the store runs trigger(s) ({trigger}) when member is updated" in result.verification.problems[0]


def test_sqlite_a_trigger_that_rewrites_a_masked_field_fails_verification(club, monkeypatch):
    ws = club.workspace(sql="CREATE TRIGGER account_notes_stay AFTER UPDATE OF notes ON account BEGIN "
                            "UPDATE account SET notes = OLD.notes WHERE id = NEW.id; END;")
    with_notes = club.q("SELECT id FROM account WHERE member_id = 1 AND notes IS NOT NULL")
    _, result = run(ws, monkeypatch, ANNA)
    assert not result.ok
    assert result.verification.problems == [
        f"the store changed account.notes after it was masked: a trigger (account_notes_stay) rewrites it; erasure "
        f"cannot keep it masked — check the trigger (account:{i})" for (i,) in with_notes]
    assert club.q("SELECT id FROM account WHERE member_id = 1 AND notes IS NOT NULL") == with_notes


def test_sqlite_not_null_field_without_a_value_refuses_the_plan_with_the_map_line(club, monkeypatch):
    ws = club.workspace(lambda t: t.replace("birth_year: {value: 1900}", "birth_year: redact"))
    before = club.q("SELECT * FROM member ORDER BY 1")
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, ANNA, execute=False)
    line = ws.datamap.line_of("datasets.member.erasure.mask.birth_year")
    assert (f"column birth_year of dataset member is NOT NULL and has no value that hides the data (redact needs "
            f"a text column; the column does not allow NULL; hmac needs a text column): give it a placeholder in "
            f"the map (line {line}, datasets.member.erasure.mask.birth_year): mask: {{birth_year: {{value: ...}}}}"
            f" (1 record(s): member:1)") in str(exc.value)
    assert club.q("SELECT * FROM member ORDER BY 1") == before


def test_sqlite_a_placeholder_the_check_refuses_refuses_the_plan(club, monkeypatch):
    ws = club.workspace(lambda t: t.replace("birth_year: {value: 1900}", "birth_year: {value: 0}"))
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, ANNA, execute=False)
    line = ws.datamap.line_of("datasets.member.erasure.mask.birth_year")
    assert (f"column birth_year of dataset member: the store's check {club.check_of('member', 'birth_year')} "
            f"refuses the placeholder 0; change the placeholder in the map (line {line}, "
            f"datasets.member.erasure.mask.birth_year)") in str(exc.value)


def test_sqlite_a_cascade_the_plan_does_not_list_refuses_the_plan(club, monkeypatch):
    # Members and accounts are deleted; the map forgot that visits belong to members, but the store's key takes
    # them with the member (ON DELETE CASCADE): refused, not a surprise.
    def edit(text: str) -> str:
        text = text.replace("    erasure: {action: mask, mask: {email: null, name: redact, birth_year: {value: 1900}}}\n",
                            "").replace("    erasure: {action: mask, mask: {login: redact, notes: null}}\n", "")
        return text.replace("    references: {member_id: member.id}\n    purposes: [membership]\n    fields: {note: "
                            "user.content}\n", "    purposes: [membership]\n    fields: {note: user.content}\n")

    ws = club.workspace(edit)
    assert ws.datamap.datasets["visit"].references == ()
    visits = club.q("SELECT count(*) FROM visit WHERE member_id = 1")
    (fk,) = club.q("SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list('visit')")
    assert fk[3] == "CASCADE"
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, ANNA, execute=False)
    text = str(exc.value)
    assert (f"the store's foreign key visit({fk[1]}) REFERENCES {fk[0]}({fk[2]}) from visit.member_id to member is "
            f"ON DELETE CASCADE and would delete {visits[0][0]} visit record(s) with them that this plan does not "
            f"list") in text
    assert f"add member_id: member.id under references of visit (line {ws.datamap.line_of('datasets.visit')}, " \
           f"datasets.visit)" in text
    assert club.q("SELECT count(*) FROM visit WHERE member_id = 1") == visits


def test_sqlite_rows_deleted_in_an_order_the_stores_key_refuses_refuse_the_plan(club, monkeypatch):
    # A guest book keyed by e-mail is Anna's too (the lookup finds it by her address), and the store's key ties it
    # to her member row; the map does not say so, so erasure's order (by the map) would delete the member first and
    # the key would take the entry with it before the plan's own delete.
    def edit(text: str) -> str:
        text = text.replace("    erasure: {action: mask, mask: {email: null, name: redact, birth_year: {value: 1900}}}\n",
                            "").replace("    erasure: {action: mask, mask: {login: redact, notes: null}}\n", "")
        return text + ("  guestbook:\n    source: club\n    primary_key: id\n    identities: {email: email}\n"
                       "    purposes: [membership]\n    fields: {email: user.contact.email}\n")

    ws = club.workspace(edit, sql="CREATE TABLE guestbook (id INTEGER PRIMARY KEY, member_id INTEGER REFERENCES "
                                  "member (id) ON DELETE CASCADE, email TEXT); INSERT INTO guestbook VALUES "
                                  "(1, 1, 'anna@club.example');")
    with pytest.raises(ErasureError) as exc:
        run(ws, monkeypatch, ANNA, execute=False)
    text = str(exc.value)
    assert ("the store's foreign key guestbook(member_id) REFERENCES member(id) from guestbook.member_id to member is "
            "not in the map, and erasure deletes in the map's order: 1 guestbook record(s) that this plan deletes "
            "too, in an order that deletes the referenced row first") in text
    assert f"add member_id: member.id under references of guestbook (line {ws.datamap.line_of('datasets.guestbook')}" \
           in text
    assert club.q("SELECT count(*) FROM guestbook") == [(1,)]


def test_sqlite_a_check_on_two_columns_is_held_to_the_row_as_masked(club, monkeypatch):
    # Each contact keeps a phone or an e-mail: masking both to NULL would break the check, so the second field
    # gets the redaction text and the plan names the check.
    def edit(text: str) -> str:
        return text + ("  contact:\n    source: club\n    primary_key: id\n    references: {member_id: member.id}\n"
                       "    purposes: [membership]\n    fields: {email: user.contact.email, phone: "
                       "user.contact.phone_number}\n    erasure: {action: mask, mask: {email: null, phone: null}}\n")

    ws = club.workspace(edit, sql="CREATE TABLE contact (id INTEGER PRIMARY KEY, member_id INTEGER REFERENCES "
                                  "member (id), email TEXT, phone TEXT, CHECK (email IS NOT NULL OR phone IS NOT "
                                  "NULL)); INSERT INTO contact VALUES (1, 1, 'anna@home.example', '+371 2000 0001');")
    (ddl,) = club.q("SELECT sql FROM sqlite_master WHERE name = 'contact'")[0]
    check = re.search(r"CHECK \(email .*NULL\)", ddl).group(0)
    plan, result = run(ws, monkeypatch, ANNA)
    assert result.ok, result.verification.problems
    masks = plan.row("contact", (1,)).masks
    assert [masks[c]["strategy"] for c in ("email", "phone")] == ["null", "redact"]
    assert f"the store's check {check} refuses NULL" in masks["phone"]["note"]
    assert club.q("SELECT email, phone FROM contact") == [(None, "[erased]")]
