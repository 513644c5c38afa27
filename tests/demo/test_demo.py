"""The demo company generator (privacyops/demo.py) and its data map (data/demo/privacyops.yaml).

Expectations come from the brief (the stories, the schema, DEMO_TODAY) and from SQL over the generated files,
never from the generator's own output copied back.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from pathlib import Path

import duckdb
import pytest
import yaml

from privacyops.demo import DEMO_TODAY, STORIES, generate_demo
from privacyops.demo import demo_build as demo
from privacyops.map import load_datamap

REPO = Path(__file__).resolve().parents[2]
MAP = REPO / "data" / "demo" / "privacyops.yaml"
SMALL = 300
BIG = 1200

COMPANY_TABLES = [
    "crm.customers", "crm.delivery_addresses", "crm.referrals", "app.user_accounts", "app.login_events",
    "support.agents", "support.tickets", "support.ticket_messages", "community.messages", "catalog.products",
    "billing.invoices", "billing.invoice_lines", "marketing.consent_events", "marketing.email_sends",
    "marketing.newsletter_signups",
]
LAKE = "web.analytics_events"
PKS = {
    "crm.customers": "customer_id", "crm.delivery_addresses": "address_id", "crm.referrals": "referral_id",
    "app.user_accounts": "account_id", "app.login_events": "event_id",
    "support.agents": "agent_id", "support.tickets": "ticket_id", "support.ticket_messages": "message_id",
    "community.messages": "message_id",
    "catalog.products": "product_id", "billing.invoices": "invoice_id", "billing.invoice_lines": "line_id",
    "marketing.consent_events": "event_id", "marketing.email_sends": "send_id",
    "marketing.newsletter_signups": "signup_id", LAKE: "event_id",
}
# tables whose bulk rows depend on the seed (agents and products are fixed reference data)
SEEDED = [t for t in PKS if t not in ("support.agents", "catalog.products")]
# references a row may leave empty: a customer without a delivery address, a friend invited who never joined
OPTIONAL_REFERENCES = {("crm.customers", "delivery_address_id"), ("crm.referrals", "referred_id")}


class Company:
    """Read-only SQL over a generated workspace; the lake is visible as the view web_analytics_events."""

    def __init__(self, root: Path):
        self.root = root
        self.con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
        glob = str(root / "lake" / "web" / "analytics_events" / "*.parquet")
        self.con.execute(f"CREATE TEMP VIEW web_analytics_events AS SELECT * FROM read_parquet('{glob}')")

    @staticmethod
    def table(name: str) -> str:
        return "web_analytics_events" if name == LAKE else name

    def all(self, sql: str, params=()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def one(self, sql: str, params=()):
        return self.con.execute(sql, list(params)).fetchone()[0]

    def checksum(self, name: str) -> tuple[int, str]:
        t = self.table(name)
        return self.all(f"SELECT count(*), md5(coalesce(string_agg(CAST(x AS VARCHAR), chr(10) "
                        f"ORDER BY x.{PKS[name]}), '')) FROM {t} x")[0]

    def columns(self, name: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.all(f"DESCRIBE SELECT * FROM {self.table(name)}")}


def _build(root: Path, subjects: int, seed: int, chunk: int | None = None) -> tuple[Company, demo.DemoSummary]:
    if chunk is None:
        summary = generate_demo(root, subjects=subjects, seed=seed, progress=False)
    else:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(demo, "CHUNK_SUBJECTS", chunk)
            summary = generate_demo(root, subjects=subjects, seed=seed, progress=False)
    return Company(root), summary


class _Built(dict):
    """The module's companies, each generated when a test first asks for it (the fast tier never asks for 'a2')."""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.recipes = {"a": (SMALL, 42, None), "a2": (SMALL, 42, None), "seed7": (SMALL, 7, None),
                        "big": (BIG, 42, None), "chunked": (SMALL, 3, 128)}  # 3 chunks: the path 1M subjects take
        self.base = base

    def __missing__(self, name: str) -> tuple[Company, demo.DemoSummary]:
        subjects, seed, chunk = self.recipes[name]
        self[name] = _build(self.base / name, subjects, seed, chunk)
        return self[name]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return _Built(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def a(built):
    return built["a"][0]


@pytest.fixture(scope="module", params=["a", "seed7", "big", "chunked"])
def any_co(request, built):
    return built[request.param][0]


def _map() -> dict:
    return yaml.safe_load(MAP.read_text(encoding="utf-8"))


def _fiscal_expiry(issued: datetime.date) -> datetime.date:
    return datetime.date(issued.year + 5, 12, 31)  # 5 years from the end of the fiscal year (01-01 start)


# --- determinism -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_gives_identical_tables(built):
    a, a2 = built["a"][0], built["a2"][0]
    for name in PKS:
        assert a.checksum(name) == a2.checksum(name), name
        assert a.checksum(name)[0] > 0, name


def test_different_seed_gives_different_bulk_but_the_same_stories(built):
    a, b = built["a"][0], built["seed7"][0]
    for name in SEEDED:
        assert a.checksum(name) != b.checksum(name), name
    story_ids = [s["customer_id"] for s in STORIES.values() if s["customer_id"]]
    q = ("SELECT customer_id, full_name, email, phone, street_address, city, postal_code, country, created_at, "
         "closed_at, status FROM crm.customers WHERE customer_id IN ({}) ORDER BY 1")
    q = q.format(", ".join(map(str, story_ids)))
    assert a.all(q) == b.all(q)
    assert len(a.all(q)) == len(story_ids)
    assert a.all("SELECT * FROM support.agents ORDER BY 1") == b.all("SELECT * FROM support.agents ORDER BY 1")


# --- the stories -----------------------------------------------------------------------------------------------


def test_story_records_match_the_stories_dict(any_co):
    for key, s in STORIES.items():
        if s["customer_id"] is None:
            continue
        row = any_co.all("SELECT full_name, email, phone FROM crm.customers WHERE customer_id = ?",
                         [s["customer_id"]])
        assert row == [(s["full_name"], s["email"], s["phone"])], key
        accounts = any_co.all("SELECT account_id, email, username FROM app.user_accounts WHERE customer_id = ? "
                              "ORDER BY account_id", [s["customer_id"]])
        assert [r[0] for r in accounts] == s["account_ids"], key
        assert [r[1] for r in accounts] == s["account_emails"], key
        assert [r[2] for r in accounts] == s["usernames"], key
        tickets = any_co.all("SELECT ticket_id FROM support.tickets WHERE customer_id = ? ORDER BY 1",
                             [s["customer_id"]])
        assert [r[0] for r in tickets] == s["ticket_ids"], key
        invoices = any_co.all("SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1",
                              [s["customer_id"]])
        assert [r[0] for r in invoices] == s["invoice_ids"], key
        assert s["subject"] == "customer"


def test_two_emails_story(any_co):
    s = STORIES["two_emails"]
    cid = s["customer_id"]
    assert s["full_name"] == "Jānis Bērziņš" and s["email"] == "janis.berzins@example.lv"
    assert sorted(s["account_emails"]) == ["j.berzins@inbox.example.lv", "janis.berzins@example.lv"]
    accounts = [r[0] for r in any_co.all("SELECT account_id FROM app.user_accounts WHERE customer_id = ?", [cid])]
    assert len(accounts) == 2
    for acc in accounts:  # logins and analytics on both accounts
        assert any_co.one("SELECT count(*) FROM app.login_events WHERE account_id = ?", [acc]) >= 1
        assert any_co.one("SELECT count(*) FROM web_analytics_events WHERE account_id = ?", [acc]) >= 1
    bodies = [r[0] for r in any_co.all(
        "SELECT m.body FROM support.ticket_messages m JOIN support.tickets t USING (ticket_id) "
        "WHERE t.customer_id = ? AND m.author_type = 'customer'", [cid])]
    assert any_co.one("SELECT count(*) FROM support.tickets WHERE customer_id = ?", [cid]) == 2
    assert any("anna.ozola@example.lv" in b for b in bodies)  # another customer's e-mail
    assert any(s["phone"] in b for b in bodies)  # his own phone
    issued = [r[0] for r in any_co.all("SELECT issued_at FROM billing.invoices WHERE customer_id = ?", [cid])]
    assert any(_fiscal_expiry(d) < DEMO_TODAY for d in issued)  # past the 5-year accounting retention
    assert any(_fiscal_expiry(d) >= DEMO_TODAY for d in issued)  # still to be kept
    assert {d.year for d in issued} >= {2019, 2025}
    assert any_co.one("SELECT count(*) FROM billing.invoices i WHERE customer_id = ? AND NOT EXISTS "
                      "(SELECT 1 FROM billing.invoice_lines l WHERE l.invoice_id = i.invoice_id)", [cid]) == 0
    events = any_co.all("SELECT action, occurred_at FROM marketing.consent_events WHERE customer_id = ? "
                        "AND purpose = 'marketing' ORDER BY occurred_at", [cid])
    assert [e[0] for e in events] == ["granted", "withdrawn"]
    assert events[0][1].year == 2023 and events[1][1].date() == datetime.date(2025, 3, 1)
    assert any_co.one("SELECT count(*) FROM marketing.email_sends WHERE customer_id = ? AND sent_at > ?",
                      [cid, events[1][1]]) >= 1
    assert any_co.one("SELECT count(*) FROM marketing.newsletter_signups WHERE email = ?",
                      ["j.berzins@inbox.example.lv"]) == 1


def test_name_variant_story(any_co):
    s1, s2 = STORIES["two_emails"], STORIES["name_variant"]
    assert s2["full_name"] == "Janis Berzins" and s1["customer_id"] != s2["customer_id"]
    rows = any_co.all("SELECT customer_id, full_name, email, phone FROM crm.customers "
                      "WHERE strip_accents(full_name) = 'Janis Berzins' ORDER BY 1")
    assert [r[0] for r in rows] == [s1["customer_id"], s2["customer_id"]]  # bulk never reuses a story name
    assert rows[0][1] != rows[1][1]  # one with diacritics, one without
    assert rows[1][1].isascii() and not rows[0][1].isascii()
    assert rows[0][2] != rows[1][2] and re.sub(r"\D", "", rows[0][3]) != re.sub(r"\D", "", rows[1][3])
    assert any_co.one("SELECT count(*) FROM billing.invoices WHERE customer_id = ?", [s2["customer_id"]]) >= 1


def test_family_story_shares_an_email(any_co):
    a, b = STORIES["family_a"], STORIES["family_b"]
    rows = any_co.all("SELECT customer_id, full_name, phone FROM crm.customers WHERE lower(trim(email)) = ? "
                      "ORDER BY 1", ["kalnini.family@example.lv"])
    assert [r[0] for r in rows] == [a["customer_id"], b["customer_id"]]
    assert [r[1] for r in rows] == ["Pēteris Kalniņš", "Ilze Kalniņa"]
    assert re.sub(r"\D", "", rows[0][2])[-8:] != re.sub(r"\D", "", rows[1][2])[-8:]
    for s in (a, b):
        for table in ("app.user_accounts", "support.tickets", "billing.invoices"):
            assert any_co.one(f"SELECT count(*) FROM {table} WHERE customer_id = ?", [s["customer_id"]]) >= 1


def test_closed_story(any_co):
    s = STORIES["closed"]
    status, closed_at = any_co.all("SELECT status, closed_at FROM crm.customers WHERE customer_id = ?",
                                   [s["customer_id"]])[0]
    assert (s["full_name"], status, closed_at.date()) == ("Anna Ozola", "closed", datetime.date(2021, 6, 30))
    assert any_co.one("SELECT bool_and(closed_at IS NOT NULL) FROM app.user_accounts WHERE customer_id = ?",
                      [s["customer_id"]])
    years = {r[0] for r in any_co.all("SELECT year(issued_at) FROM billing.invoices WHERE customer_id = ?",
                                      [s["customer_id"]])}
    assert years and years <= {2018, 2019, 2020}
    mention = any_co.one("SELECT count(*) FROM support.ticket_messages m JOIN support.tickets t USING (ticket_id) "
                         "WHERE t.customer_id = ? AND m.body LIKE '%janis.berzins@example.lv%'", [s["customer_id"]])
    assert mention >= 1


def test_withdrawn_story_gets_no_send_after_withdrawal(any_co):
    cid = STORIES["withdrawn"]["customer_id"]
    events = any_co.all("SELECT action, occurred_at FROM marketing.consent_events WHERE customer_id = ? "
                        "AND purpose = 'marketing' ORDER BY occurred_at", [cid])
    assert [e[0] for e in events] == ["granted", "withdrawn"]
    assert any_co.one("SELECT count(*) FROM marketing.email_sends WHERE customer_id = ?", [cid]) >= 1
    assert any_co.one("SELECT count(*) FROM marketing.email_sends WHERE customer_id = ? AND sent_at > ?",
                      [cid, events[1][1]]) == 0


def test_prospect_is_only_a_newsletter_signup(any_co):
    email = STORIES["prospect"]["email"]
    assert any_co.one("SELECT count(*) FROM marketing.newsletter_signups WHERE lower(trim(email)) = ?", [email]) == 1
    for table in ("crm.customers", "app.user_accounts", "marketing.email_sends"):
        assert any_co.one(f"SELECT count(*) FROM {table} WHERE lower(trim(email)) = ?", [email]) == 0
    assert any_co.one("SELECT count(*) FROM support.ticket_messages WHERE body LIKE ?", [f"%{email}%"]) == 0


def test_bulk_never_collides_with_story_identities(any_co):
    story_ids = {s["customer_id"] for s in STORIES.values() if s["customer_id"]}
    emails = {e for s in STORIES.values() for e in [s["email"], *s.get("account_emails", [])]}
    phones = {re.sub(r"\D", "", s["phone"])[-8:] for s in STORIES.values() if s.get("phone")}
    for table in ("crm.customers", "app.user_accounts", "marketing.email_sends"):
        owners = {r[0] for r in any_co.all(f"SELECT customer_id FROM {table} WHERE lower(trim(email)) IN "
                                           f"(SELECT unnest(?))", [sorted(emails)])}
        assert owners and owners <= story_ids, table
    signups = [r[0] for r in any_co.all("SELECT lower(trim(email)) FROM marketing.newsletter_signups")]
    assert sorted(e for e in signups if e in emails) == [STORIES["two_emails"]["newsletter_email"],
                                                         STORIES["prospect"]["email"]]
    bulk_phones = any_co.all("SELECT right(regexp_replace(phone, '\\D', '', 'g'), 8) FROM crm.customers "
                             "WHERE customer_id > ?", [max(story_ids)])
    assert not {r[0] for r in bulk_phones} & phones
    # bulk free text never mentions a story person
    for e in emails:
        hits = any_co.all("SELECT t.customer_id FROM support.ticket_messages m JOIN support.tickets t "
                          "USING (ticket_id) WHERE m.body LIKE ?", [f"%{e}%"])
        assert {h[0] for h in hits} <= story_ids


# --- integrity and shape -------------------------------------------------------------------------------------


def test_primary_keys_unique_and_every_reference_resolves(any_co):
    datasets = _map()["datasets"]
    assert set(datasets) == set(PKS)
    for name, spec in datasets.items():
        t = any_co.table(name)
        pk = spec["primary_key"]
        assert any_co.one(f"SELECT count(*) - count(DISTINCT {pk}) FROM {t}") == 0, name
        assert any_co.one(f"SELECT count(*) FROM {t} WHERE {pk} IS NULL") == 0, name
        for col, target in (spec.get("references") or {}).items():
            target = target["to"] if isinstance(target, dict) else target
            to_ds, to_col = target.rsplit(".", 1)
            orphans = any_co.one(f"SELECT count(*) FROM {t} x WHERE x.{col} IS NULL OR NOT EXISTS "
                                 f"(SELECT 1 FROM {any_co.table(to_ds)} y WHERE y.{to_col} = x.{col})")
            if (name, col) in OPTIONAL_REFERENCES:  # empty in some rows (never all), else it resolves
                empty = any_co.one(f"SELECT count(*) FROM {t} WHERE {col} IS NULL")
                assert 0 < empty < any_co.one(f"SELECT count(*) FROM {t}"), f"{name}.{col}"
                orphans -= empty
            assert orphans == 0, f"{name}.{col} -> {target}"
    # the references the brief requires are in the map
    refs = {(n, c) for n, s in datasets.items() for c in (s.get("references") or {})}
    assert {("app.user_accounts", "customer_id"), ("app.login_events", "account_id"),
            ("support.tickets", "customer_id"), ("support.tickets", "agent_id"),
            ("support.ticket_messages", "ticket_id"), ("billing.invoices", "customer_id"),
            ("billing.invoice_lines", "invoice_id"), ("billing.invoice_lines", "product_id"),
            ("marketing.consent_events", "customer_id"), ("marketing.email_sends", "customer_id"),
            (LAKE, "account_id"), ("crm.customers", "delivery_address_id"), ("community.messages", "sender_id"),
            ("community.messages", "recipient_id"), ("crm.referrals", "referrer_id"),
            ("crm.referrals", "referred_id")} <= refs


def test_no_date_on_or_after_demo_today_and_timelines_make_sense(any_co):
    limit = datetime.datetime.combine(DEMO_TODAY, datetime.time())
    checked = 0
    for name in PKS:
        for col, typ in any_co.columns(name).items():
            if typ in ("DATE", "TIMESTAMP"):
                latest = any_co.one(f"SELECT max({col}) FROM {any_co.table(name)}")
                if latest is not None:
                    latest = latest if isinstance(latest, datetime.datetime) else \
                        datetime.datetime.combine(latest, datetime.time())
                    assert latest < limit, f"{name}.{col} = {latest}"
                    checked += 1
    assert checked == 18  # every date and timestamp column of the schema
    bad = {
        "customer closed before created": "SELECT count(*) FROM crm.customers WHERE closed_at < created_at",
        "status vs closed_at": "SELECT count(*) FROM crm.customers WHERE (status = 'closed') <> (closed_at IS NOT NULL)",
        "ticket closed before opened": "SELECT count(*) FROM support.tickets WHERE closed_at < opened_at",
        "ticket status vs closed_at": "SELECT count(*) FROM support.tickets WHERE (status = 'closed') <> (closed_at IS NOT NULL)",
        "message before its ticket": "SELECT count(*) FROM support.ticket_messages m JOIN support.tickets t "
                                     "USING (ticket_id) WHERE m.sent_at < t.opened_at",
        "login before account": "SELECT count(*) FROM app.login_events e JOIN app.user_accounts a USING (account_id) "
                                "WHERE e.logged_in_at < a.created_at",
        "invoice before 2018": "SELECT count(*) FROM billing.invoices WHERE issued_at < DATE '2018-01-01'",
        "invoice total != lines": "SELECT count(*) FROM billing.invoices i WHERE amount_total <> "
                                  "(SELECT sum(amount) FROM billing.invoice_lines l WHERE l.invoice_id = i.invoice_id)",
        "send opened before sent": "SELECT count(*) FROM marketing.email_sends WHERE opened_at < sent_at",
    }
    for what, sql in bad.items():
        assert any_co.one(sql) == 0, what


def test_emails_unique_per_customer_except_the_family_and_ascii(any_co):
    dupes = any_co.all("SELECT lower(trim(email)), list(customer_id ORDER BY customer_id) FROM crm.customers "
                       "GROUP BY 1 HAVING count(*) > 1")
    assert dupes == [("kalnini.family@example.lv", [STORIES["family_a"]["customer_id"],
                                                    STORIES["family_b"]["customer_id"]])]
    assert any_co.one("SELECT count(*) FROM (SELECT right(regexp_replace(phone, '\\D', '', 'g'), 8) d "
                      "FROM crm.customers GROUP BY d HAVING count(*) > 1)") == 0
    # an account e-mail never belongs to two customers (again except the family)
    shared = any_co.all("SELECT lower(trim(email)) FROM app.user_accounts GROUP BY 1 "
                        "HAVING count(DISTINCT customer_id) > 1")
    assert shared == [("kalnini.family@example.lv",)]
    for table in ("crm.customers", "app.user_accounts", "marketing.email_sends", "marketing.newsletter_signups"):
        bad = any_co.one(f"SELECT count(*) FROM {table} WHERE NOT regexp_full_match(lower(trim(email)), "
                         f"'[a-z0-9._]+@[a-z0-9.-]+\\.[a-z]+')")
        assert bad == 0, table
    # usernames are unique identifiers
    assert any_co.one("SELECT count(*) - count(DISTINCT username) FROM app.user_accounts") == 0


def test_latvian_names_with_diacritics_are_common(a):
    lv, diacritics = a.all("SELECT count(*), count(*) FILTER (WHERE NOT regexp_full_match(full_name, '[ -~]*')) "
                           "FROM crm.customers WHERE country = 'LV'")[0]
    total = a.one("SELECT count(*) FROM crm.customers")
    assert lv > total * 0.6
    assert diacritics > lv * 0.4
    # the e-mail local part is the ASCII-folded name
    rows = a.all("SELECT full_name, email FROM crm.customers WHERE customer_id > 6 LIMIT 50")
    for name, email in rows:
        first = name.split(" ")[0]
        folded = "".join(c for c in unicodedata.normalize("NFKD", first) if not unicodedata.combining(c))
        folded = re.sub(r"[^a-z]", "", folded.lower().replace("ß", "ss"))
        assert email.startswith(folded + "."), (name, email)


def test_volumes_scale_with_subjects(built):
    small, s_sum = built["a"]
    big, b_sum = built["big"]
    assert s_sum.rows["crm.customers"] == SMALL and b_sum.rows["crm.customers"] == BIG
    for name in PKS:  # the summary reports what is really there
        assert s_sum.rows[name] == small.one(f"SELECT count(*) FROM {small.table(name)}"), name
        assert b_sum.rows[name] == big.one(f"SELECT count(*) FROM {big.table(name)}"), name
    for name in SEEDED:
        ratio = b_sum.rows[name] / s_sum.rows[name]
        assert 3.0 < ratio < 5.3, (name, ratio)
    assert b_sum.rows["support.agents"] == s_sum.rows["support.agents"] == 12
    assert s_sum.rows["catalog.products"] == b_sum.rows["catalog.products"] >= 30
    per_subject = sum(b_sum.rows.values()) / BIG
    assert 15 <= per_subject <= 30
    expected = {"app.user_accounts": 1.2, "app.login_events": 3, "support.tickets": 0.8,
                "support.ticket_messages": 2.4, "billing.invoices": 2.5, "billing.invoice_lines": 5,
                "marketing.consent_events": 1.3, "marketing.email_sends": 3, "marketing.newsletter_signups": 0.3,
                LAKE: 5, "crm.delivery_addresses": 0.55, "community.messages": 0.5, "crm.referrals": 0.1}
    for name, per in expected.items():
        assert per * 0.75 <= b_sum.rows[name] / BIG <= per * 1.25, name
    closed = big.one("SELECT avg((status = 'closed')::INT) FROM crm.customers")
    assert 0.05 < closed < 0.11
    assert b_sum.subjects == BIG and b_sum.seed == 42 and b_sum.seconds > 0


def test_marketing_sends_follow_consent_except_a_few_after_withdrawal(built):
    big = built["big"][0]
    consent = """WITH c AS (SELECT customer_id,
            min(occurred_at) FILTER (WHERE purpose = 'marketing' AND action = 'granted') AS g,
            min(occurred_at) FILTER (WHERE purpose = 'marketing' AND action = 'withdrawn') AS w
        FROM marketing.consent_events GROUP BY customer_id)"""
    assert big.one(f"{consent} SELECT count(*) FROM marketing.email_sends s LEFT JOIN c USING (customer_id) "
                   f"WHERE c.g IS NULL OR s.sent_at < c.g") == 0
    after = big.all(f"{consent} SELECT DISTINCT s.customer_id FROM marketing.email_sends s JOIN c "
                    f"USING (customer_id) WHERE s.sent_at > c.w ORDER BY 1")
    after = [r[0] for r in after]
    assert STORIES["two_emails"]["customer_id"] in after
    bulk = [c for c in after if c > 6]
    assert len(bulk) >= 3  # the breach a report finds
    withdrawn = big.one(f"{consent} SELECT count(*) FROM c WHERE w IS NOT NULL")
    assert len(after) < withdrawn * 0.2  # ... but only a small share
    assert 0.10 < withdrawn / BIG < 0.20
    # some consent without proof (imported, no notice version)
    assert big.one("SELECT count(*) FROM marketing.consent_events WHERE method = 'import' "
                   "AND notice_version IS NULL") > 0
    # free text mentions of other customers exist in bulk too
    mentions = big.one("SELECT count(*) FROM support.ticket_messages m JOIN support.tickets t USING (ticket_id) "
                       "JOIN crm.customers o ON m.body LIKE '%' || o.email || '%' "
                       "WHERE o.customer_id <> t.customer_id AND t.customer_id > 6")
    assert mentions >= 3


def test_child_tables_are_stored_in_foreign_key_order(built):
    co = built["chunked"][0]
    for table, col in [("app.user_accounts", "customer_id"), ("app.login_events", "account_id"),
                       ("support.tickets", "customer_id"), ("support.ticket_messages", "ticket_id"),
                       ("billing.invoices", "customer_id"), ("billing.invoice_lines", "invoice_id"),
                       ("marketing.consent_events", "customer_id"), ("marketing.email_sends", "customer_id"),
                       ("crm.customers", "delivery_address_id"), ("community.messages", "sender_id"),
                       ("crm.referrals", "referrer_id")]:
        unordered = co.one(f"SELECT count(*) FROM (SELECT {col} - lag({col}) OVER (ORDER BY rowid) AS d "
                           f"FROM {table}) WHERE d < 0")
        assert unordered == 0, table
    parts = sorted((co.root / "lake" / "web" / "analytics_events").glob("part-*.parquet"))
    assert len(parts) == 3  # one part file per chunk
    for part in parts:
        assert co.one(f"SELECT count(*) FROM (SELECT account_id - lag(account_id) OVER (ORDER BY file_row_number) d "
                      f"FROM read_parquet('{part}', file_row_number = true)) WHERE d < 0") == 0


# --- the workspace and the map -------------------------------------------------------------------------------


def test_map_is_copied_and_matches_the_data(built):
    co = built["a"][0]
    assert (co.root / "privacyops.yaml").read_text(encoding="utf-8") == MAP.read_text(encoding="utf-8")
    m = _map()
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    keys = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    assert m["organisation"]["name"] == "Baltic Software Factory"
    assert m["organisation"]["authority"]["country"] == "LV"
    for name, spec in m["datasets"].items():
        cols = co.columns(name)
        for col, field in (spec.get("fields") or {}).items():
            assert col in cols, f"{name}.{col}"
            cats = field if isinstance(field, list) else [field.get("category")] if isinstance(field, dict) else [field]
            assert all(c in keys for c in cats), f"{name}.{col}: {cats}"
        for kind, col in (spec.get("identities") or {}).items():
            assert col in (spec.get("fields") or {}), f"{name} identity {kind}"
        rule = spec.get("retention")
        if rule:
            anchor = re.sub(r"^\w+\((\w+)\)$", r"\1", m["retention"][rule]["from"])
            assert cols.get(anchor) in ("DATE", "TIMESTAMP"), f"{name}: {rule} anchor {anchor}"
    subjects = {n: s.get("subject") for n, s in m["datasets"].items() if s.get("subject")}
    assert subjects == {"crm.customers": "customer", "support.agents": "employee"}
    shared = {(n, c) for n, s in m["datasets"].items() for c, t in (s.get("references") or {}).items()
              if isinstance(t, dict) and t.get("shared")}
    assert shared == {("support.tickets", "agent_id"), ("billing.invoice_lines", "product_id")}
    assert m["datasets"]["support.ticket_messages"]["fields"]["body"]["free_text"] is True


def test_map_validates_with_privacyops(built):
    dm = load_datamap(MAP)
    assert set(dm.datasets) == set(PKS)
    try:
        from privacyops.workspace import check_workspace, open_workspace
    except ImportError:  # pragma: no cover - the live check arrives with the workspace module
        return
    ws = open_workspace(built["a"][0].root)
    report = check_workspace(ws)
    assert report.ok, [str(p) for p in report.problems]
    assert report.rows["crm.customers"] == SMALL


def test_regenerating_replaces_the_company_and_keeps_an_existing_map(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "privacyops.yaml").write_text("# my own map\n")
    (ws / "lake" / "stale").mkdir(parents=True)
    (ws / "lake" / "stale" / "old.parquet").write_text("junk")
    generate_demo(ws, subjects=20, seed=1, progress=False)
    first = Company(ws)
    before = first.checksum("crm.customers")
    first.con.close()
    generate_demo(ws, subjects=30, seed=2, progress=False)
    again = Company(ws)
    assert again.one("SELECT count(*) FROM crm.customers") == 30
    assert again.checksum("crm.customers") != before
    again.con.close()
    assert (ws / "privacyops.yaml").read_text() == "# my own map\n"
    assert not (ws / "lake" / "stale").exists()
    assert sorted(p.name for p in ws.iterdir()) == ["company.duckdb", "lake", "privacyops.yaml"]


@pytest.mark.slow
def test_an_interrupted_run_leaves_no_half_company(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    generate_demo(ws, subjects=10, seed=1, progress=False)
    assert (ws / "company.duckdb").exists()

    def boom(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "insert_sends", boom)
    with pytest.raises(KeyboardInterrupt):
        generate_demo(ws, subjects=10, seed=2, progress=False)
    leftovers = sorted(p.name for p in ws.iterdir()
                       if p.name not in ("ledger.duckdb", "keys", "audit.head", "audit.checkpoints"))
    assert leftovers == ["privacyops.yaml"]  # no database, no lake, no build folder (the ops state stays)


@pytest.mark.parametrize("kwargs, message", [
    ({"subjects": 9}, "at least 10"),
    ({"subjects": 0}, "at least 10"),
    ({"subjects": -100}, "at least 10"),
    ({"subjects": "100"}, "integer"),
    ({"subjects": 10.5}, "integer"),
    ({"subjects": 10**9}, "at most"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
])
def test_bad_input_raises_value_error(tmp_path, kwargs, message):
    ws = tmp_path / "ws"
    args = {"subjects": 10, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_demo(ws, progress=False, **args)
    assert not (ws / "company.duckdb").exists()


@pytest.mark.slow
def test_bad_input_keeps_an_existing_company(tmp_path):
    ws = tmp_path / "ws"
    generate_demo(ws, subjects=10, seed=1, progress=False)
    stamp = (ws / "company.duckdb").stat().st_mtime_ns
    with pytest.raises(ValueError):
        generate_demo(ws, subjects=5, progress=False)
    assert (ws / "company.duckdb").stat().st_mtime_ns == stamp


def test_unwritable_workspace_raises_value_error(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        generate_demo(a_file, subjects=10, progress=False)
    with pytest.raises(ValueError, match="cannot create"):
        generate_demo(a_file / "ws", subjects=10, progress=False)


@pytest.mark.slow
def test_progress_bar_only_when_asked(tmp_path, capsys):
    generate_demo(tmp_path / "quiet", subjects=10, seed=1, progress=False)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
    generate_demo(tmp_path / "loud", subjects=10, seed=1, progress=True)
    assert "demo company" in capsys.readouterr().err


def test_generating_into_the_maps_own_folder_never_rewrites_the_map(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "demo"
    folder.mkdir(parents=True)
    fake_map = folder / "privacyops.yaml"
    monkeypatch.setattr(demo, "MAP_SOURCE", fake_map)
    generate_demo(folder, subjects=10, seed=1, progress=False)
    assert not fake_map.exists()  # the map's own folder: nothing copied onto itself
    fake_map.write_text("# source map\n")
    generate_demo(tmp_path / "other", subjects=10, seed=1, progress=False)
    assert (tmp_path / "other" / "privacyops.yaml").read_text() == "# source map\n"
