"""Executions that fail, and what follows (privacyops/erasure/execute.py, plan.py, result.py).

A rental shop in PostgreSQL whose payments are partitioned by month, with the key to the rentals declared on the
partition only (as Pagila, tests/fixtures/constraints_pg.sql, does) and not in the data map; John paid for one of
Mary's rentals. Erasing Mary, the store refuses to delete that rental: the plan becomes `failed`, the message names
the constraint, the dataset, the row (by key) and the map setting; that source is untouched, the analytics source
erased before it stays erased. `erase retry` completes it after the fix (the key given ON DELETE SET NULL, the
blocking row removed); a fix in the map makes the plan stale (plan again); `erase cancel` stops it and the case is
planned again. A damaged or lost signing key is refused before anything changes. Plans as of a later day than today
are previews: never approved or executed; due runs and sweeps never run ahead of the calendar.

Expectations come from SQL against the stores and from the texts the modules promise.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import (
    APPROVED,
    CANCELLED,
    DONE,
    FAILED,
    PREVIEW,
    REFUSED,
    ErasureError,
    ExecutionFailed,
    StalePlanError,
    approve_plan,
    cancel_plan,
    erase_due,
    erase_retention,
    execute_plan,
    load_plan,
    plan_erasure,
    plan_retention,
    retry_plan,
    verify_certificate,
)
from privacyops.erasure import plan as plans
from privacyops.erasure.certificate import CertificateError
from privacyops.ledger import audit, open_case, open_ledger, schedule
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver
from tests.support.mini import erase_map

ENV = "PRIVACYOPS_TEST_SHOP_DSN"
SCHEMA = """
CREATE TABLE customer (customer_id integer PRIMARY KEY, email text NOT NULL, full_name text NOT NULL);
CREATE TABLE rental (rental_id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customer (customer_id),
                     rented_at date NOT NULL);
CREATE TABLE rental_note (note_id integer PRIMARY KEY, rental_id integer NOT NULL REFERENCES rental (rental_id),
                          note text);
CREATE TABLE payment (payment_id integer NOT NULL, customer_id integer NOT NULL REFERENCES customer (customer_id),
                      rental_id integer, amount numeric(5, 2) NOT NULL, payment_date date NOT NULL,
                      PRIMARY KEY (payment_date, payment_id)) PARTITION BY RANGE (payment_date);
CREATE TABLE payment_p2022_04 PARTITION OF payment FOR VALUES FROM ('2022-04-01') TO ('2022-05-01');
ALTER TABLE payment_p2022_04 ADD CONSTRAINT payment_p2022_04_rental_id_fkey
    FOREIGN KEY (rental_id) REFERENCES rental (rental_id);
INSERT INTO customer VALUES (1, 'mary@shop.example', 'Mary Smith'), (2, 'john@shop.example', 'John Doe');
INSERT INTO rental VALUES (10, 1, '2022-04-02'), (11, 1, '2022-04-05'), (12, 2, '2022-04-06');
INSERT INTO rental_note VALUES (1, 10, 'returned late'), (2, 12, 'scratched');
-- John (2) paid for Mary's rental 11: his payment, her rental. The payments are not in the data map.
INSERT INTO payment VALUES (101, 2, 11, 4.99, '2022-04-05'), (102, 2, 12, 0.99, '2022-04-06');
"""
PAYMENT = """  shop.payment:
    source: shop
    table: public.payment
    primary_key: [payment_date, payment_id]
    references: {customer_id: shop.customer.customer_id, rental_id: shop.rental.rental_id}
    purposes: [rentals]
    fields: {amount: user.financial}
"""
MAP = """
version: 1
organisation: {name: Rental Shop, contact: privacy@shop.example, authority: {name: DVI, country: LV}}
purposes: {rentals: {description: Rent films, legal_basis: contract}}
sources:
  shop: {kind: postgres, dsn_env: %(env)s, location: LV}
  analytics: {kind: duckdb, path: analytics.duckdb, location: LV}
datasets:
  shop.customer:
    source: shop
    table: public.customer
    subject: customer
    primary_key: customer_id
    identities: {email: email, name: full_name}
    purposes: [rentals]
    fields: {email: user.contact.email, full_name: user.name}
%(payment)s  shop.rental:
    source: shop
    table: public.rental
    primary_key: rental_id
    references: {customer_id: shop.customer.customer_id}
    purposes: [rentals]
    fields: {rented_at: system.operations}
  shop.rental_note:
    source: shop
    table: public.rental_note
    primary_key: note_id
    references: {rental_id: shop.rental.rental_id}
    purposes: [rentals]
    fields: {note: user.content}
  analytics.events:
    source: analytics
    table: events
    primary_key: event_id
    references: {customer_id: shop.customer.customer_id}
    purposes: [rentals]
    fields: {ip: user.device.ip_address}
"""


def map_text(payments: bool = False) -> str:
    """The map; with `payments` the payments are a dataset too (the fix: planning then sees their key)."""
    return MAP % {"env": ENV, "payment": PAYMENT if payments else ""}


class Shop:
    """The workspace, and SQL on its stores."""

    def __init__(self, ws, dsn):
        self.ws, self.dsn = ws, dsn

    def pg(self, sql: str, params=()):
        with pgserver.connect(self.dsn) as con:
            cur = con.execute(sql, list(params))
            return cur.fetchall() if cur.description else []

    def events(self):
        con = duckdb.connect(str(self.ws.root / "analytics.duckdb"), read_only=True)
        try:
            return con.execute("SELECT * FROM events ORDER BY 1").fetchall()
        finally:
            con.close()

    def shop_tables(self) -> dict:
        return {t: self.pg(f"SELECT * FROM {t} ORDER BY 1, 2") for t in ("customer", "rental", "rental_note",
                                                                          "payment")}

    def snapshot(self) -> dict:
        return {**self.shop_tables(), "events": self.events()}

    def ledger(self, sql: str, params=()):
        with open_ledger(self.ws) as con:
            return con.execute(sql, list(params)).fetchall()

    def reopen(self, text: str | None = None):
        if text is not None:
            (self.ws.root / "privacyops.yaml").write_text(text)
        self.ws = open_workspace(self.ws.root)
        return self.ws


@pytest.fixture()
def shop(postgres_dsn, tmp_path, monkeypatch):
    with pgserver.database(postgres_dsn, "erase_fail") as dsn:
        with pgserver.connect(dsn) as con:
            con.execute(SCHEMA)
        monkeypatch.setenv(ENV, dsn)
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
        root = tmp_path / "ws"
        root.mkdir()
        (root / "privacyops.yaml").write_text(map_text())
        duck = duckdb.connect(str(root / "analytics.duckdb"))
        duck.execute("CREATE TABLE events (event_id INTEGER PRIMARY KEY, customer_id INTEGER, ip VARCHAR)")
        duck.execute("INSERT INTO events VALUES (1, 1, '10.0.0.1'), (2, 2, '10.0.0.2'), (3, 1, '10.0.0.3')")
        duck.close()
        yield Shop(open_workspace(root), dsn)


def as_actor(monkeypatch, who: str) -> None:
    monkeypatch.setenv("PRIVACYOPS_ACTOR", who)


def approved_plan(shop, monkeypatch, case_id: str | None = None):
    as_actor(monkeypatch, "alice")
    case_id = case_id or open_case(shop.ws, "erasure", dt.date.today() - dt.timedelta(days=3)).case_id
    plan = plan_erasure(shop.ws, case_id, "mary@shop.example")
    as_actor(monkeypatch, "bob")
    approve_plan(shop.ws, plan.plan_id)
    return plan


def failed_plan(shop, monkeypatch):
    """Mary's plan, executed until the store refuses: (plan, the error, the stores before)."""
    plan = approved_plan(shop, monkeypatch)
    before = shop.snapshot()
    with pytest.raises(ExecutionFailed) as info:
        execute_plan(shop.ws, plan.plan_id)
    return plan, info.value, before


# ---------------------------------------------------------------------------------------------------------------
# A foreign key the map does not know.


@pytest.mark.slow
def test_a_refused_delete_fails_the_plan_with_the_constraint_the_row_and_what_to_do(shop, monkeypatch):
    plan, err, before = failed_plan(shop, monkeypatch)
    pid = plan.plan_id
    message = str(err)
    assert message.startswith(
        f"erasure plan {pid} failed while erasing in source 'shop' (dataset shop.rental, row shop.rental:11): the "
        f"database refuses to delete rows of table public.rental: foreign key payment_p2022_04_rental_id_fkey of "
        f"table public.payment_p2022_04 still refers to them (through rental_id of the rows deleted). The store keeps "
        f"references whole: the referring rows must go first or let go of them (ON DELETE SET NULL / CASCADE on the "
        f"key), or the rows they need must stay.\n")
    assert ("\nSource 'shop' was rolled back: nothing in it changed. Sources already erased by this plan stay so: "
            "analytics.\n") in message
    assert message.endswith(
        f"What to do: table public.payment_p2022_04 (part of public.payment) is in no dataset of the map, so planning "
        f"could not see that its rows need this one: add public.payment as a dataset of source 'shop' with its "
        f"reference to shop.rental (datasets.<name>.references), then cancel this plan (privacyops erase cancel {pid} "
        f"--reason R) and plan again (the new plan keeps what the rows that stay still need); or, if the referring "
        f"rows should go or let go, change them in the store (delete them, or give the key ON DELETE SET NULL / "
        f"CASCADE) and run privacyops erase retry {pid}.")
    for value in ("john@shop.example", "mary@shop.example", "4.99", "Key ("):
        assert value not in message
    # The plan is failed, not executing; the analytics source committed before stays recorded and erased.
    assert load_plan(shop.ws, pid).status == FAILED
    assert shop.ledger("SELECT source FROM erasure_sources WHERE plan_id = ?", [pid]) == [("analytics",)]
    assert shop.events() == [(2, 2, "10.0.0.2")]
    # Nothing half-changed in the source that failed: rental 10's note was deleted in the same transaction before
    # the rentals were refused, and it is back.
    assert shop.shop_tables() == {t: before[t] for t in ("customer", "rental", "rental_note", "payment")}
    [entry] = audit.entries(shop.ws, action="erasure.failed")
    assert {k: entry.details[k] for k in ("plan_id", "phase", "source", "dataset", "kind", "constraint",
                                          "committed_sources")} == {
        "plan_id": pid, "phase": "write", "source": "shop", "dataset": "shop.rental", "kind": "foreign key",
        "constraint": "payment_p2022_04_rental_id_fkey", "committed_sources": ["analytics"]}
    assert "shop.rental:11" not in json.dumps(entry.details)  # the audit log names no row
    shown = load_plan(shop.ws, pid)
    assert shown.failure == entry.details["message"] and "payment_p2022_04_rental_id_fkey" in shown.render()
    # Running it again the same way is refused: it points at retry.
    with pytest.raises(ErasureError, match=f"plan {pid} failed: .*\nAfter fixing it: privacyops erase retry {pid}"):
        execute_plan(shop.ws, pid)
    assert shop.shop_tables() == {t: before[t] for t in ("customer", "rental", "rental_note", "payment")}


@pytest.mark.slow
def test_retry_after_the_key_lets_go_completes_and_verifies(shop, monkeypatch):
    plan, _, _ = failed_plan(shop, monkeypatch)
    shop.pg("ALTER TABLE payment_p2022_04 DROP CONSTRAINT payment_p2022_04_rental_id_fkey")
    shop.pg("ALTER TABLE payment_p2022_04 ADD CONSTRAINT payment_p2022_04_rental_id_fkey FOREIGN KEY (rental_id) "
            "REFERENCES rental (rental_id) ON DELETE SET NULL")
    with pytest.raises(ErasureError, match="only a failed plan is retried"):
        retry_plan(shop.ws, approved_plan(shop, monkeypatch).plan_id)  # an approved plan is executed, not retried
    result = retry_plan(shop.ws, plan.plan_id)
    assert result.ok and result.plan.status == DONE
    assert [(s.source, s.status) for s in result.sources] == [
        ("analytics", "skipped (committed by an earlier run)"), ("shop", "committed")]
    assert shop.pg("SELECT customer_id FROM customer") == [(2,)]
    assert shop.pg("SELECT rental_id FROM rental") == [(12,)]
    # John's payment for her rental stays, no longer pointing at it; his other payment is untouched.
    assert shop.pg("SELECT payment_id, customer_id, rental_id FROM payment ORDER BY 1") == [(101, 2, None),
                                                                                           (102, 2, 12)]
    assert shop.events() == [(2, 2, "10.0.0.2")]
    assert verify_certificate(result.certificate_path, shop.ws).ok
    assert [e.details["map_changed"] for e in audit.entries(shop.ws, action="erasure.retry")] == [False]
    assert load_plan(shop.ws, plan.plan_id).status == DONE
    with pytest.raises(ErasureError, match="cannot be cancelled"):
        cancel_plan(shop.ws, plan.plan_id, "too late")


@pytest.mark.slow
def test_retry_from_the_cli_after_the_blocking_row_is_removed(shop, monkeypatch):
    plan, _, _ = failed_plan(shop, monkeypatch)
    runner = CliRunner()
    res = runner.invoke(main, ["erase", "retry", plan.plan_id, "-w", str(shop.ws.root)])
    assert res.exit_code == 3 and "payment_p2022_04_rental_id_fkey" in res.output  # not fixed yet: fails again
    assert load_plan(shop.ws, plan.plan_id).status == FAILED
    assert len(audit.entries(shop.ws, action="erasure.failed")) == 2
    shop.pg("DELETE FROM payment WHERE payment_id = 101")  # the blocking row removed (its owner asked, say)
    res = runner.invoke(main, ["erase", "retry", plan.plan_id, "-w", str(shop.ws.root)])
    assert res.exit_code == 0, res.output
    assert "Verified" in res.output and "source shop: committed" in res.output
    assert shop.pg("SELECT customer_id FROM customer") == [(2,)]
    assert shop.pg("SELECT payment_id FROM payment") == [(102,)]


@pytest.mark.slow
def test_retry_reads_the_map_again_and_a_killed_retry_resumes_with_execute(shop, monkeypatch):
    from privacyops.erasure import execute as erasure

    plan, _, _ = failed_plan(shop, monkeypatch)
    shop.pg("DELETE FROM payment WHERE payment_id = 101")
    # The map changed meanwhile in a way that decides nothing (a timeout for the source): a retry takes it.
    shop.reopen(map_text().replace("location: LV}", "location: LV, statement_timeout: 1 min}", 1))
    assert shop.ws.datamap.sources["shop"].statement_timeout == 60
    real = erasure._record_commit

    def killed(*args):
        raise KeyboardInterrupt  # killed right after the source's commit, before the ledger heard of it

    monkeypatch.setattr(erasure, "_record_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        retry_plan(shop.ws, plan.plan_id)
    assert load_plan(shop.ws, plan.plan_id).status == "executing"
    assert shop.pg("SELECT count(*) FROM customer WHERE customer_id = 1") == [(0,)]
    monkeypatch.setattr(erasure, "_record_commit", real)
    result = execute_plan(shop.ws, plan.plan_id)  # resumes under the map the retry accepted
    assert result.ok and result.plan.status == DONE
    [retry] = audit.entries(shop.ws, action="erasure.retry")
    assert retry.details["map_changed"] is True
    assert shop.pg("SELECT customer_id FROM customer") == [(2,)] and shop.events() == [(2, 2, "10.0.0.2")]


@pytest.mark.slow
def test_an_interrupted_retry_under_yet_another_map_is_refused(shop, monkeypatch):
    from privacyops.erasure import execute as erasure

    plan, _, before = failed_plan(shop, monkeypatch)
    shop.reopen(map_text().replace("location: LV}", "location: LV, statement_timeout: 1 min}", 1))
    real = erasure._apply

    def power_cut(*args):
        raise RuntimeError("power cut")

    monkeypatch.setattr(erasure, "_apply", power_cut)
    with pytest.raises(RuntimeError):
        retry_plan(shop.ws, plan.plan_id)
    monkeypatch.setattr(erasure, "_apply", real)
    assert load_plan(shop.ws, plan.plan_id).status == "executing"
    shop.reopen(map_text().replace("location: LV}", "location: LV, statement_timeout: 2 min}", 1))
    with pytest.raises(StalePlanError, match="the data map changed since plan"):
        execute_plan(shop.ws, plan.plan_id)
    assert shop.shop_tables() == {t: before[t] for t in ("customer", "rental", "rental_note", "payment")}


@pytest.mark.slow
def test_fixing_the_map_makes_a_retry_plan_again_and_the_new_plan_keeps_what_john_needs(shop, monkeypatch):
    plan, _, _ = failed_plan(shop, monkeypatch)
    shop.reopen(map_text(payments=True))
    with pytest.raises(StalePlanError, match="the map changed since planning and the plan does not hold under it "
                                             r"\(2 finding\(s\): 1 record\(s\) of shop.customer that it deletes "
                                             "are, with the map as it is now, still needed by records that stay; "
                                             r"1 record\(s\) of shop.rental"):
        retry_plan(shop.ws, plan.plan_id)
    assert load_plan(shop.ws, plan.plan_id).status == REFUSED
    assert shop.pg("SELECT count(*) FROM rental") == [(3,)]
    assert [e.details["map_changed"] for e in audit.entries(shop.ws, action="erasure.retry")] == [True]
    again = approved_plan(shop, monkeypatch, plan.case_id)
    assert again.row("shop.rental", (11,)).action == "retain"
    result = execute_plan(shop.ws, again.plan_id)
    assert result.ok, result.verification.problems
    assert shop.pg("SELECT rental_id FROM rental ORDER BY 1") == [(11,), (12,)]
    assert shop.pg("SELECT payment_id, rental_id FROM payment ORDER BY 1") == [(101, 11), (102, 12)]


# ---------------------------------------------------------------------------------------------------------------
# Cancelling.


@pytest.mark.slow
def test_cancel_from_the_cli_and_plan_the_case_again(shop, monkeypatch):
    plan, _, _ = failed_plan(shop, monkeypatch)
    runner = CliRunner()
    res = runner.invoke(main, ["erase", "cancel", plan.plan_id, "-w", str(shop.ws.root)])
    assert res.exit_code == 2 and "--reason" in res.output  # a reason is required
    res = runner.invoke(main, ["erase", "cancel", plan.plan_id, "--reason", "the map misses the payments' key",
                               "-w", str(shop.ws.root)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        f"{plan.plan_id} cancelled (the map misses the payments' key).",
        "Sources analytics were already erased by it and stay so; a new plan covers the rest.",
        f"Plan case {plan.case_id} again: privacyops erase SUBJECT --case {plan.case_id}"]
    assert load_plan(shop.ws, plan.plan_id).status == CANCELLED
    [entry] = audit.entries(shop.ws, action="erasure.cancel")
    assert entry.details == {"plan_id": plan.plan_id, "reason": "the map misses the payments' key", "was": FAILED,
                             "committed_sources": ["analytics"]} and entry.actor == "bob"
    for call in (lambda: execute_plan(shop.ws, plan.plan_id), lambda: retry_plan(shop.ws, plan.plan_id),
                 lambda: approve_plan(shop.ws, plan.plan_id), lambda: cancel_plan(shop.ws, plan.plan_id, "again")):
        with pytest.raises(ErasureError):
            call()
    shop.reopen(map_text(payments=True))
    again = approved_plan(shop, monkeypatch, plan.case_id)
    result = execute_plan(shop.ws, again.plan_id)
    assert result.ok and load_plan(shop.ws, again.plan_id).status == DONE
    assert shop.pg("SELECT customer_id FROM customer ORDER BY 1") == [(1,), (2,)]  # kept, minimised: rental 11 needs
    assert shop.pg("SELECT email FROM customer WHERE customer_id = 1") != [("mary@shop.example",)]


@pytest.mark.slow
def test_an_approved_plan_is_cancelled_and_never_runs(shop, monkeypatch):
    plan = approved_plan(shop, monkeypatch)
    cancelled, committed = cancel_plan(shop.ws, plan.plan_id, "the subject withdrew the request")
    assert cancelled.status == CANCELLED and committed == []
    before = shop.snapshot()
    with pytest.raises(ErasureError, match="was cancelled; plan again"):
        execute_plan(shop.ws, plan.plan_id)
    assert shop.snapshot() == before


# ---------------------------------------------------------------------------------------------------------------
# The signing key, checked before anything changes.


@pytest.mark.slow
def test_a_damaged_signing_key_is_refused_before_anything_changes(shop, monkeypatch):
    plan = approved_plan(shop, monkeypatch)
    keys = shop.ws.keys_dir
    keys.mkdir(exist_ok=True)
    (keys / "signing.key").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    before = shop.snapshot()
    with pytest.raises(CertificateError) as info:
        execute_plan(shop.ws, plan.plan_id)
    assert str(info.value) == (f"cannot sign the erasure certificate: {keys / 'signing.key'} is not a readable "
                               f"Ed25519 private key (damaged or replaced) — restore keys/signing.key from your backup "
                               f"(its public half is keys/signing.pub), then run the command again; nothing was "
                               f"changed")
    assert shop.snapshot() == before
    assert load_plan(shop.ws, plan.plan_id).status == APPROVED
    assert shop.ledger("SELECT count(*) FROM erasure_sources") == [(0,)]
    res = CliRunner().invoke(main, ["erase", "execute", plan.plan_id, "-w", str(shop.ws.root)])
    assert res.exit_code == 2 and "Traceback" not in res.output and "is not a readable Ed25519" in res.output
    (keys / "signing.key").unlink()  # no certificate was ever signed here: a new key is made, then it runs
    shop.pg("DELETE FROM payment WHERE payment_id = 101")
    assert execute_plan(shop.ws, plan.plan_id).ok


def test_a_lost_signing_key_is_refused_once_the_workspace_has_signed(mini_ws, monkeypatch):
    ws = open_workspace(_write(mini_ws, erase_map()))
    first = _approved(ws, monkeypatch, "M-002")
    assert execute_plan(ws, first.plan_id).ok  # signs: the key and signing.pub exist now
    (ws.keys_dir / "signing.key").unlink()
    plan = _approved(ws, monkeypatch, "M-001")
    before = _mini_snapshot(ws)
    with pytest.raises(CertificateError, match=r"signing.key is missing, but this workspace has signed certificates "
                                               r"before — restore keys/signing.key from your backup"):
        execute_plan(ws, plan.plan_id)
    assert _mini_snapshot(ws) == before and load_plan(ws, plan.plan_id).status == APPROVED
    assert not (ws.keys_dir / "signing.key").exists()


# ---------------------------------------------------------------------------------------------------------------
# Plans for a later day: previews. Runs without a second approval: never ahead of the calendar.


def _write(ws, text: str):
    (ws.root / "privacyops.yaml").write_text(text)
    return ws.root


def _approved(ws, monkeypatch, subject: str, as_of=None):
    as_actor(monkeypatch, "alice")
    plan = plan_erasure(ws, open_case(ws, "erasure", dt.date.today()).case_id, subject, as_of=as_of)
    as_actor(monkeypatch, "bob")
    if plan.status == PREVIEW:
        return plan
    return approve_plan(ws, plan.plan_id)


def _mini_snapshot(ws) -> dict:
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("people.person", "shop.orders", "shop.items", "mail.subscribers")}
    finally:
        con.close()


def test_a_plan_for_a_later_day_is_a_preview_never_approved_or_executed(mini_ws, monkeypatch):
    ws = open_workspace(_write(mini_ws, erase_map()))
    tomorrow = plans.today() + dt.timedelta(days=1)
    plan = _approved(ws, monkeypatch, "M-001", as_of=tomorrow)
    assert plan.status == PREVIEW and plan.preview and load_plan(ws, plan.plan_id).status == PREVIEW
    refusal = (f"plan {plan.plan_id} previews {tomorrow} (today is {plans.today()}): plans for a future date can be "
               f"looked at, never approved or executed; plan again as of today")
    assert plan.render().splitlines()[0] == f"PREVIEW ONLY — {refusal}."
    assert plan.summary()["preview"] is True and plan.summary()["note"] == refusal
    before = _mini_snapshot(ws)
    for call in (lambda: approve_plan(ws, plan.plan_id), lambda: execute_plan(ws, plan.plan_id)):
        with pytest.raises(ErasureError) as info:
            call()
        assert str(info.value) == refusal
    (ws.root / "privacyops.yaml").write_text(erase_map().replace("purposes:\n", "settings: {four_eyes: false}\n"
                                                                               "purposes:\n", 1))
    with pytest.raises(ErasureError, match="previews"):  # not even without four-eyes
        execute_plan(open_workspace(ws.root), plan.plan_id)
    assert _mini_snapshot(ws) == before
    today_plan = _approved(ws, monkeypatch, "M-001")
    assert today_plan.status == APPROVED and not today_plan.preview
    res = CliRunner().invoke(main, ["erase", "show", plan.plan_id, "-w", str(ws.root)])
    assert res.output.startswith("PREVIEW ONLY")


def test_due_runs_and_sweeps_refuse_a_later_day_and_change_nothing(mini_ws, monkeypatch):
    ws = open_workspace(_write(mini_ws, erase_map()))
    plan = _approved(ws, monkeypatch, "M-001", as_of=plans.today())
    assert execute_plan(ws, plan.plan_id).ok
    entries = schedule.entries(ws)
    assert entries  # kept under the bookkeeping rule, scheduled
    later = plans.today() + dt.timedelta(days=1)
    before = _mini_snapshot(ws)
    for what, call in (("erase --due", lambda: erase_due(ws, later)),
                       ("the retention sweep", lambda: erase_retention(ws, later))):
        with pytest.raises(ErasureError) as info:
            call()
        assert str(info.value).startswith(f"{what} as of {later}: that is later than today ({plans.today()}); "
                                          f"erasures that run without a second approval never run ahead of the "
                                          f"calendar")
    assert _mini_snapshot(ws) == before and schedule.entries(ws) == entries
    assert plan_retention(ws, later, save=False).status == APPROVED  # looking ahead, without saving, is fine
    res = CliRunner().invoke(main, ["erase", "--due", "--as-of", later.isoformat(), "-w", str(ws.root)])
    assert res.exit_code == 2 and "later than today" in res.output
    # When that day has come (the package's clock: plan.today), the same run goes ahead.
    due_day = max(e.due_on for e in entries)
    monkeypatch.setattr(plans, "today", lambda: due_day)
    results = erase_due(ws, due_day)
    assert results and all(r.ok for r in results)
    assert _mini_snapshot(ws) != before
