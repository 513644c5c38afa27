"""Rows with two people in them on the generated demo: messages between customers (sender and recipient), referrals
(referrer and the friend referred, a customer or an e-mail address), a customer's own delivery address (shared by
the family of the stories) and support agents as context.

Every expectation is computed with SQL on the generated company (or read from the stories), never from privacyops.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from privacyops.demo import STORIES
from privacyops.erasure import DELETE, MASK, approve_plan, execute_plan, plan_erasure
from privacyops.ledger import open_case
from privacyops.lookup import WITHHELD, lookup
from privacyops.workspace import open_workspace
from tests.support.demo import sql

JANIS, FAM_A, FAM_B, INVITED = STORIES["two_emails"], STORIES["family_a"], STORIES["family_b"], STORIES["invited"]
AS_OF = dt.date(2026, 11, 15)
STORY_IDS = [s["customer_id"] for s in STORIES.values() if s["customer_id"]]
STORY_REFERRALS = max(k for s in STORIES.values() for k in s.get("referrals_made", []) + s.get("referred_in", []))


@pytest.fixture(scope="module")
def ws(small_demo):
    return open_workspace(small_demo)


def ids(root, query, params=()):
    return sorted(r[0] for r in sql(root, query, params))


def rows_by_key(result, dataset):
    """key -> (row, role, owner, withheld, co_owned) of the subject's records in `dataset` ({} when none)."""
    recs = result.records.get(dataset)
    if recs is None:
        return {}
    return {k[0]: (row, recs.roles[i], recs.owner[i], set(recs.withheld[i]), recs.co_owned[i])
            for i, (k, row) in enumerate(zip(recs.keys(), recs.rows))}


def bulk_customers_with_two_party_rows(root) -> list[int]:
    """Bulk customers chosen by SQL: the ones in the most kinds of two-person rows (sent, received, referred
    someone, were referred, have an address), three of them."""
    return [r[0] for r in sql(root, """
        SELECT c.customer_id FROM crm.customers c WHERE c.customer_id > ?
        ORDER BY (EXISTS (SELECT 1 FROM community.messages m WHERE m.sender_id = c.customer_id))::INT
               + (EXISTS (SELECT 1 FROM community.messages m WHERE m.recipient_id = c.customer_id))::INT
               + (EXISTS (SELECT 1 FROM crm.referrals r WHERE r.referrer_id = c.customer_id))::INT
               + (EXISTS (SELECT 1 FROM crm.referrals r WHERE r.referred_id = c.customer_id))::INT
               + (c.delivery_address_id IS NOT NULL)::INT DESC, c.customer_id
        LIMIT 3""", [max(STORY_IDS)])]


def subjects(root) -> list[int]:
    """The story customers, the bulk customers in the most kinds of two-person rows, and the first bulk customer
    a friend referred and the first one who invited a friend by e-mail."""
    picked = STORY_IDS + bulk_customers_with_two_party_rows(root)
    for query in ("SELECT min(referred_id) FROM crm.referrals WHERE referred_id > ?",
                  "SELECT min(referrer_id) FROM crm.referrals WHERE referred_email IS NOT NULL AND referrer_id > ?"):
        ((cid,),) = sql(root, query, [max(STORY_IDS)])
        assert cid is not None, query
        picked += [cid] if cid not in picked else []
    return picked


# -- the map --------------------------------------------------------------------------------------------------------


def test_the_map_names_the_parties_the_owned_address_and_the_agents_context(ws):
    dm = ws.datamap
    msgs, refs, addrs, agents = (dm.datasets[n] for n in ("community.messages", "crm.referrals",
                                                          "crm.delivery_addresses", "support.agents"))
    assert [(p.name, p.reference, p.owner, set(p.fields)) for p in msgs.parties] == [
        ("sender", "sender_id", True, {"sender_id", "body"}), ("recipient", "recipient_id", False, {"recipient_id"})]
    assert [(p.name, p.reference, p.owner, p.identities) for p in refs.parties] == [
        ("referrer", "referrer_id", True, {}), ("referred", "referred_id", False, {"email": ("referred_email",)})]
    assert [(r.dataset, r.column, r.to_dataset, r.to_column) for r in dm.owners_of("crm.delivery_addresses")] == \
        [("crm.customers", "delivery_address_id", "crm.delivery_addresses", "address_id")]
    assert addrs.identity_columns("phone") == ("phone",)
    # agents are context: what a customer sees of them is their first name and team, never e-mail or password
    assert agents.context_fields == ("display_name", "team")
    assert "user.authorization.credentials" in agents.fields["password_hash"].categories
    for ds in (msgs, refs, addrs):  # documented: purposes, a retention rule anchored on one of its dates, erasure
        assert ds.purposes and ds.description and ds.erasure.action == "delete", ds.name
        assert dm.retention[ds.retention].anchor.field in ds.fields, ds.name
        assert all(p in dm.purposes for p in ds.purposes), ds.name


# -- the stories in the data ----------------------------------------------------------------------------------------


def test_story_rows_match_the_stories_dict(ws):
    root = ws.root
    for key, s in STORIES.items():
        cid = s["customer_id"]
        if cid is None:
            continue
        assert ids(root, "SELECT message_id FROM community.messages WHERE sender_id = ?", [cid]) == \
            s["messages_sent"], key
        assert ids(root, "SELECT message_id FROM community.messages WHERE recipient_id = ?", [cid]) == \
            s["messages_received"], key
        assert ids(root, "SELECT referral_id FROM crm.referrals WHERE referrer_id = ?", [cid]) == \
            s["referrals_made"], key
        assert ids(root, "SELECT referral_id FROM crm.referrals WHERE referred_id = ?", [cid]) == \
            s["referred_in"], key
        assert sql(root, "SELECT delivery_address_id FROM crm.customers WHERE customer_id = ?", [cid]) == \
            [(s["delivery_address_id"],)], key
    # the family shares one address row (with the home's landline); nobody else shares one
    assert sql(root, "SELECT delivery_address_id, list(customer_id ORDER BY customer_id) FROM crm.customers "
                     "WHERE delivery_address_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1") == \
        [(FAM_A["delivery_address_id"], [FAM_A["customer_id"], FAM_B["customer_id"]])]
    assert sql(root, "SELECT phone FROM crm.delivery_addresses WHERE address_id = ?",
               [FAM_A["delivery_address_id"]]) == [(FAM_A["delivery_phone"],)]
    # Jānis invited a friend who is no customer: known only by the e-mail in his referral
    assert sql(root, "SELECT referrer_id, referred_id, status FROM crm.referrals WHERE referred_email = ?",
               [INVITED["email"]]) == [(JANIS["customer_id"], None, "invited")]
    assert sql(root, "SELECT count(*) FROM crm.customers WHERE lower(email) = ?", [INVITED["email"]]) == [(0,)]


def test_two_person_rows_make_sense_in_time_and_between_people(ws):
    root = ws.root
    bad = {
        "message to oneself": "SELECT count(*) FROM community.messages WHERE sender_id = recipient_id",
        "message outside both customers' time": """SELECT count(*) FROM community.messages m
            JOIN crm.customers s ON s.customer_id = m.sender_id JOIN crm.customers r ON r.customer_id = m.recipient_id
            WHERE m.sent_at < greatest(s.created_at, r.created_at)
               OR m.sent_at > least(coalesce(s.closed_at, TIMESTAMP '2026-11-15'),
                                    coalesce(r.closed_at, TIMESTAMP '2026-11-15'))""",
        "referral of oneself": "SELECT count(*) FROM crm.referrals WHERE referrer_id = referred_id",
        "referral by someone not yet a customer": """SELECT count(*) FROM crm.referrals x
            JOIN crm.customers c ON c.customer_id = x.referrer_id WHERE x.referred_on < CAST(c.created_at AS DATE)""",
        "referral after the friend joined": """SELECT count(*) FROM crm.referrals x
            JOIN crm.customers f ON f.customer_id = x.referred_id WHERE x.referred_on > CAST(f.created_at AS DATE)""",
        "friend referred twice": "SELECT count(*) - count(DISTINCT referred_id) FROM crm.referrals "
                                 "WHERE referred_id IS NOT NULL",
        "neither a customer nor an e-mail": "SELECT count(*) FROM crm.referrals WHERE (referred_id IS NULL) = "
                                            "(referred_email IS NULL)",
        "status vs who": "SELECT count(*) FROM crm.referrals WHERE (status = 'joined') <> (referred_id IS NOT NULL)",
        "invited e-mail of a customer": "SELECT count(*) FROM crm.referrals x JOIN crm.customers c "
                                        "ON lower(c.email) = lower(x.referred_email)",
        "address nobody owns": "SELECT count(*) FROM crm.delivery_addresses a WHERE NOT EXISTS "
                               "(SELECT 1 FROM crm.customers c WHERE c.delivery_address_id = a.address_id)",
        "bulk address phone of someone else": """SELECT count(*) FROM crm.delivery_addresses a
            JOIN crm.customers c ON c.delivery_address_id = a.address_id
            WHERE a.phone IS NOT NULL AND a.address_id > 3 AND a.phone <> c.phone""",
    }
    for what, query in bad.items():
        assert sql(root, query) == [(0,)], what
    for kind in ("joined", "expired"):  # friends who joined and invitations never taken up, in bulk too
        assert sql(root, "SELECT count(*) > 0 FROM crm.referrals WHERE status = ? AND referral_id > ?",
                   [kind, STORY_REFERRALS]) == [(True,)], kind
    assert sql(root, "SELECT count(*) FROM crm.referrals WHERE NOT regexp_full_match(lower(referred_email), "
                     "'[a-z0-9._]+@[a-z0-9.-]+\\.[a-z]+')") == [(0,)]


# -- a lookup ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_customers_lookup_holds_exactly_their_messages_referrals_and_address(ws):
    root = ws.root
    for cid in subjects(root):
        r = lookup(ws, pick=f"crm.customers:{cid}", audit_log=False)
        assert r.status == "found" and r.subject.ref == f"crm.customers:{cid}", cid
        # messages: the ones they sent (theirs, text included), the ones they received (the sender withheld)
        sent = ids(root, "SELECT message_id FROM community.messages WHERE sender_id = ?", [cid])
        received = ids(root, "SELECT message_id FROM community.messages WHERE recipient_id = ?", [cid])
        msgs = rows_by_key(r, "community.messages")
        assert sorted(msgs) == sorted(sent + received), cid
        bodies = dict(sql(root, "SELECT message_id, body FROM community.messages WHERE sender_id = ?", [cid]))
        for k in sent:
            row, role, owner, withheld, co_owned = msgs[k]
            assert (role, owner, withheld, co_owned) == ("sender", True, {"recipient_id"}, False), (cid, k)
            assert row["sender_id"] == cid and row["body"] == bodies[k] and row["recipient_id"] == WITHHELD
        for k in received:
            row, role, owner, withheld, co_owned = msgs[k]
            assert (role, owner, withheld, co_owned) == ("recipient", False, {"sender_id", "body"}, False), (cid, k)
            assert row["recipient_id"] == cid and row["sender_id"] == WITHHELD and row["body"] == WITHHELD
        # referrals both ways: the ones they made (theirs), the ones that name them (the referrer withheld)
        made = ids(root, "SELECT referral_id FROM crm.referrals WHERE referrer_id = ?", [cid])
        named = ids(root, "SELECT referral_id FROM crm.referrals WHERE referred_id = ?", [cid])
        refs = rows_by_key(r, "crm.referrals")
        assert sorted(refs) == sorted(made + named), cid
        for k in made:
            row, role, owner, withheld, _ = refs[k]
            assert (role, owner, withheld) == ("referrer", True, {"referred_id", "referred_email"}), (cid, k)
            assert row["referrer_id"] == cid
            assert WITHHELD in (row["referred_id"], row["referred_email"])  # the friend, however named
        for k in named:
            row, role, owner, withheld, _ = refs[k]
            assert (role, owner, withheld) == ("referred", False, {"referrer_id"}), (cid, k)
            assert row["referred_id"] == cid and row["referrer_id"] == WITHHELD
        # their own delivery address, co-owned when someone else's row points at it too
        addr = sql(root, "SELECT delivery_address_id, (SELECT count(*) FROM crm.customers o "
                         "WHERE o.delivery_address_id = c.delivery_address_id) FROM crm.customers c "
                         "WHERE customer_id = ? AND delivery_address_id IS NOT NULL", [cid])
        got = rows_by_key(r, "crm.delivery_addresses")
        assert {k: (v[2], v[4]) for k, v in got.items()} == {a: (True, n > 1) for a, n in addr}, cid
        assert "crm.delivery_addresses" not in r.context


def test_the_family_address_is_co_owned_for_both_and_its_phone_finds_both(ws):
    shared = FAM_A["delivery_address_id"]
    for s in (FAM_A, FAM_B):
        r = lookup(ws, pick=f"crm.customers:{s['customer_id']}", audit_log=False)
        row, _role, owner, withheld, co_owned = rows_by_key(r, "crm.delivery_addresses")[shared]
        assert owner and co_owned and not withheld
        assert (row["street"], row["phone"]) == sql(ws.root, "SELECT street, phone FROM crm.delivery_addresses "
                                                             "WHERE address_id = ?", [shared])[0]
    r = lookup(ws, FAM_A["delivery_phone"], audit_log=False)  # the home's landline: two people, never merged
    owners = ids(ws.root, "SELECT customer_id FROM crm.customers WHERE delivery_address_id = ?", [shared])
    assert r.status == "ambiguous" and sorted(c.key[0] for c in r.candidates) == owners == \
        [FAM_A["customer_id"], FAM_B["customer_id"]]


def test_a_friend_known_only_by_e_mail_gets_the_referral_and_nothing_of_the_referrer(ws):
    r = lookup(ws, INVITED["email"], audit_log=False)
    assert r.status == "found" and r.subject is None and list(r.records) == ["crm.referrals"]
    expected = ids(ws.root, "SELECT referral_id FROM crm.referrals WHERE lower(referred_email) = ?", [INVITED["email"]])
    refs = rows_by_key(r, "crm.referrals")
    assert sorted(refs) == expected == INVITED["referred_in"]
    for row, role, owner, withheld, _ in refs.values():
        assert (role, owner, withheld) == ("referred", False, {"referrer_id"})
        assert row["referrer_id"] == WITHHELD and row["referred_email"] == INVITED["email"]


def shown_json(ws, result) -> str:
    """Every value the lookup shows (records and context), as JSON, except the free text in rows the subject owns:
    what they wrote may name other people (the mentions an export masks, Art. 15(4)) and is their own record; the
    text of a row they only appear in is another party's field (checked: withheld)."""
    shown = {}
    for part in (result.records, result.context):
        for name, recs in part.items():
            free = set(ws.datamap.datasets[name].free_text_fields)
            owner = recs.owner or [False] * len(recs.rows)
            shown[name] = [{c: v for c, v in row.items() if not (c in free and owner[i])}
                           for i, row in enumerate(recs.rows)]
    return json.dumps(shown, default=str, ensure_ascii=False)


@pytest.mark.slow
def test_no_other_persons_personal_value_anywhere_in_the_result(ws):
    root = ws.root
    agents = [v for row in sql(root, "SELECT full_name, email, password_hash FROM support.agents") for v in row]
    for cid in subjects(root):
        r = lookup(ws, pick=f"crm.customers:{cid}", audit_log=False)
        text = shown_json(ws, r)
        own = {str(v) for v in sql(root, "SELECT * FROM crm.customers WHERE customer_id = ?", [cid])[0] if v}
        own |= {str(v) for row in sql(root, "SELECT a.* FROM crm.delivery_addresses a JOIN crm.customers c "
                                            "ON c.delivery_address_id = a.address_id WHERE c.customer_id = ?", [cid])
                for v in row if v}
        others = [v for row in sql(root, "SELECT full_name, email, phone, street_address FROM crm.customers "
                                         "WHERE customer_id <> ?", [cid]) for v in row]
        others += [v for row in sql(root, "SELECT a.street, a.phone FROM crm.delivery_addresses a WHERE NOT EXISTS "
                                          "(SELECT 1 FROM crm.customers c WHERE c.delivery_address_id = a.address_id "
                                          "AND c.customer_id = ?)", [cid]) for v in row]
        others += [b for (b,) in sql(root, "SELECT body FROM community.messages WHERE sender_id <> ?", [cid])]
        others += [e for (e,) in sql(root, "SELECT referred_email FROM crm.referrals WHERE referred_email IS NOT NULL")]
        # a value shown is a whole JSON string: compared quoted, so a street never matches inside a longer one
        leaked = sorted(v for v in {str(v) for v in others + agents if v} - own
                        if json.dumps(v, ensure_ascii=False) in text)
        assert leaked == [], (cid, leaked)
        # the agents on their tickets are context: their first name and team, never their e-mail or password
        on_tickets = ids(root, "SELECT DISTINCT agent_id FROM support.tickets WHERE customer_id = ?", [cid])
        agents_ctx = r.context.get("support.agents")
        assert (agents_ctx is not None) == bool(on_tickets), cid
        if on_tickets:
            assert agents_ctx.columns == ["agent_id", "display_name", "team"]
            assert sorted(k[0] for k in agents_ctx.keys()) == on_tickets  # noqa: SIM118 (not a dict)


def test_another_persons_message_text_is_never_shown_even_where_it_names_the_subject(ws):
    """Anna's message to Jānis holds her phone number: his lookup withholds the text; hers shows it."""
    anna = STORIES["closed"]
    ((k, body),) = sql(ws.root, "SELECT message_id, body FROM community.messages WHERE sender_id = ? "
                                "AND recipient_id = ?", [anna["customer_id"], JANIS["customer_id"]])
    assert anna["phone"] in body
    janis = lookup(ws, JANIS["email"], audit_log=False)
    assert rows_by_key(janis, "community.messages")[k][0]["body"] == WITHHELD
    assert anna["phone"] not in json.dumps(janis.to_dict(), default=str, ensure_ascii=False)
    hers = lookup(ws, anna["email"], audit_log=False)
    assert rows_by_key(hers, "community.messages")[k][0]["body"] == body


# -- erasure ----------------------------------------------------------------------------------------------------


def plan_for(ws, subject=None, pick=None):
    return plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, subject, pick=pick, as_of=AS_OF)


@pytest.mark.slow
def test_janis_erasure_masks_only_his_part_of_messages_he_received_and_never_plans_the_shared_address(
        demo_ws, monkeypatch):
    ws, root, cid = demo_ws, demo_ws.root, JANIS["customer_id"]
    plan = plan_for(ws, JANIS["email"])
    acts = {(r.dataset, r.key[0]): r for r in plan.rows}
    for k in ids(root, "SELECT message_id FROM community.messages WHERE recipient_id = ?", [cid]):
        row = acts[("community.messages", k)]
        assert row.action == MASK and set(row.masks) == {"recipient_id"} and not row.owner
        assert set(row.withheld) == {"sender_id", "body"}
    for k in ids(root, "SELECT message_id FROM community.messages WHERE sender_id = ?", [cid]):
        assert acts[("community.messages", k)].action == DELETE
    for k in ids(root, "SELECT referral_id FROM crm.referrals WHERE referred_id = ?", [cid]):
        row = acts[("crm.referrals", k)]
        assert row.action == MASK and "referrer_id" not in row.masks and set(row.masks) <= {"referred_id",
                                                                                             "referred_email"}
    for k in ids(root, "SELECT referral_id FROM crm.referrals WHERE referrer_id = ?", [cid]):
        assert acts[("crm.referrals", k)].action == DELETE
    (own_address,) = ids(root, "SELECT delivery_address_id FROM crm.customers WHERE customer_id = ?", [cid])
    assert acts[("crm.delivery_addresses", own_address)].action == DELETE
    shared = ids(root, "SELECT delivery_address_id FROM crm.customers WHERE delivery_address_id IS NOT NULL "
                       "GROUP BY 1 HAVING count(*) > 1")
    assert shared and not {("crm.delivery_addresses", a) for a in shared} & set(acts)
    # nothing of anybody else is planned: every planned message or referral names him
    for (name, k), row in acts.items():
        if name == "community.messages":
            assert cid in sql(root, "SELECT sender_id, recipient_id FROM community.messages WHERE message_id = ?",
                              [k])[0]
        elif name == "crm.referrals":
            assert cid in sql(root, "SELECT referrer_id, referred_id FROM crm.referrals WHERE referral_id = ?",
                              [k])[0]

    before = {t: {r[0]: r for r in sql(root, f"SELECT * FROM {t}")}
              for t in ("community.messages", "crm.referrals", "crm.delivery_addresses")}
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    after = {t: {r[0]: r for r in sql(root, f"SELECT * FROM {t}")} for t in before}
    msgs_b, msgs_a = before["community.messages"], after["community.messages"]
    # the messages he received stay, the sender's part untouched and his id gone; his own are gone; others intact
    assert msgs_a == {k: (v[:2] + (None,) + v[3:] if v[2] == cid else v) for k, v in msgs_b.items() if v[1] != cid}
    refs_b = before["crm.referrals"]
    assert after["crm.referrals"] == {k: (v[:2] + (None, None) + v[4:] if v[2] == cid else v)
                                      for k, v in refs_b.items() if v[1] != cid}
    assert after["crm.delivery_addresses"] == {k: v for k, v in before["crm.delivery_addresses"].items()
                                               if k != own_address}


@pytest.mark.slow
def test_a_family_members_erasure_leaves_the_shared_address_for_review(demo_ws, monkeypatch):
    ws, root = demo_ws, demo_ws.root
    shared = FAM_A["delivery_address_id"]
    plan = plan_for(ws, pick=f"crm.customers:{FAM_A['customer_id']}")
    assert ("crm.delivery_addresses", (shared,)) not in {(r.dataset, r.key) for r in plan.rows}
    assert any(n.dataset == "crm.delivery_addresses" and tuple(n.key) == (shared,) for n in plan.not_erased)
    before = sql(root, "SELECT * FROM crm.delivery_addresses WHERE address_id = ?", [shared])
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    assert execute_plan(ws, plan.plan_id).ok
    assert sql(root, "SELECT * FROM crm.delivery_addresses WHERE address_id = ?", [shared]) == before
    assert sql(root, "SELECT delivery_address_id FROM crm.customers WHERE customer_id = ?",
               [FAM_B["customer_id"]]) == [(shared,)]
    ilze = lookup(ws, pick=f"crm.customers:{FAM_B['customer_id']}", audit_log=False)
    # still hers; no longer co-owned: nobody else's row points at it now
    assert {k: v[4] for k, v in rows_by_key(ilze, "crm.delivery_addresses").items()} == {shared: False}
