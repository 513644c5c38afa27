"""Lookup on the hand-made mini workspace: identity variants, reference direction, no leakage, candidates,
mentions. Expected rows are derived from SQL against the same files, not copied from lookup output."""

from __future__ import annotations

import json

import duckdb
import pytest

from privacyops.errors import LookupInputError
from privacyops.ledger import audit
from privacyops.lookup import detect_kinds, lookup


def sql(ws, query, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def keys(result, dataset):
    return sorted(k[0] for k in result.records[dataset].keys()) if dataset in result.records else []


@pytest.mark.parametrize("identifier", ["janis@mini.example", "  JANIS@Mini.Example ", "jb@other.example",
                                        "+371 2000 1111", "0037120001111", "20001111", "M-001"])
def test_every_identity_variant_finds_the_same_person(mini_ws, identifier):
    r = lookup(mini_ws, identifier)
    assert r.status == "found"
    assert r.subject.ref == "people.person:1"
    assert keys(r, "people.person") == [1]
    assert keys(r, "shop.orders") == sorted(x[0] for x in sql(mini_ws, "SELECT oid FROM shop.orders WHERE pid = 1"))


def test_rows_are_collected_transitively_across_sources(mini_ws):
    r = lookup(mini_ws, "janis@mini.example")
    # events (Parquet source) belong to orders which belong to the person
    own_orders = [x[0] for x in sql(mini_ws, "SELECT oid FROM shop.orders WHERE pid = 1")]
    assert own_orders
    events = r.records["shop.order_events"]
    con = duckdb.connect()
    expected = con.execute("SELECT eid FROM read_parquet(?) WHERE oid IN (SELECT unnest(?))",
                           [str(mini_ws.root / "files" / "events" / "*.parquet"), own_orders]).fetchall()
    assert sorted(row["eid"] for row in events.rows) == sorted(e for (e,) in expected)
    assert expected
    assert events.via == ["belongs to shop.orders"]
    assert events.location == "DE"


def test_shared_reference_rows_are_context_never_records_and_never_walked_down(mini_ws):
    r = lookup(mini_ws, "janis@mini.example")
    assert "shop.items" not in r.records
    item_ids = sorted(row["item_id"] for row in r.context["shop.items"].rows)
    assert item_ids == sorted(x[0] for x in sql(mini_ws, "SELECT DISTINCT item_id FROM shop.orders WHERE pid = 1"))
    # item 10 is also on person 2's order 102: that order must not leak in through the shared item
    assert 102 not in keys(r, "shop.orders")
    assert all(row["pid"] == 1 for row in r.records["shop.orders"].rows)


def test_shared_email_returns_candidates_and_never_merges(mini_ws):
    r = lookup(mini_ws, "home@mini.example")
    assert r.status == "ambiguous"
    assert not r.records
    assert sorted(c.ref for c in r.candidates) == ["people.person:3", "people.person:4"]
    picked = lookup(mini_ws, pick="people.person:4")
    assert picked.status == "found"
    assert keys(picked, "people.person") == [4]
    assert keys(picked, "shop.orders") == [x[0] for x in sql(mini_ws, "SELECT oid FROM shop.orders WHERE pid = 4")]
    assert 103 not in keys(picked, "shop.orders")  # the other family member's order


def test_subjectless_dataset_rows_join_by_the_persons_identities(mini_ws):
    r = lookup(mini_ws, "janis@mini.example")  # found by the first e-mail; the list holds the second one
    assert [row["address"] for row in r.records["mail.subscribers"].rows] == ["jb@other.example"]
    prospect = lookup(mini_ws, "someone@else.example")
    assert prospect.status == "found"
    assert prospect.subject is None
    assert list(prospect.records) == ["mail.subscribers"]


def test_name_query_returns_ranked_candidates_with_exact_spelling_first(mini_ws):
    r = lookup(mini_ws, "Jānis Bērziņš")
    assert r.status == "ambiguous"
    assert [c.ref for c in r.candidates][:2] == ["people.person:1", "people.person:2"]
    assert r.candidates[0].score > r.candidates[1].score
    r2 = lookup(mini_ws, "Janis Berzins")
    assert r2.candidates[0].ref == "people.person:2"
    partial = lookup(mini_ws, "Kalns")
    assert partial.status == "ambiguous"
    assert "people.person:4" in [c.ref for c in partial.candidates]


def test_mentions_in_other_peoples_free_text_are_reported_apart(mini_ws):
    r = lookup(mini_ws, "janis@mini.example")
    assert [(m.dataset, m.key, m.field, m.matched) for m in r.mentions] == [("shop.orders", (102,), "note", "email")]
    assert 102 not in keys(r, "shop.orders")
    assert "janis@mini.example" in r.mentions[0].snippet
    # the person's own note mentioning their own phone is a record, not a mention
    assert 100 in keys(r, "shop.orders")
    quiet = lookup(mini_ws, "janis@mini.example", mentions=False)
    assert quiet.mentions == []


def test_not_found_and_bad_input(mini_ws):
    assert lookup(mini_ws, "nobody@nowhere.example").status == "not_found"
    with pytest.raises(LookupInputError, match="give an identifier"):
        lookup(mini_ws, "   ")
    with pytest.raises(LookupInputError, match="unknown identity kind"):
        lookup(mini_ws, "x", kind="passport")
    with pytest.raises(LookupInputError, match="DATASET:KEY"):
        lookup(mini_ws, pick="people.person")
    with pytest.raises(LookupInputError, match="no such row"):
        lookup(mini_ws, pick="people.person:999")
    with pytest.raises(LookupInputError, match="unknown dataset"):
        lookup(mini_ws, pick="nope.table:1")


def test_explicit_kind_restricts_the_search(mini_ws):
    assert lookup(mini_ws, "M-003", kind="member_no").subject.ref == "people.person:3"
    assert lookup(mini_ws, "M-003", kind="email").status == "not_found"
    assert lookup(mini_ws, "M-002", kind="id").subject.ref == "people.person:2"


def test_detect_kinds(mini_ws):
    dm = mini_ws.datamap
    assert detect_kinds("a@b.lv", dm)[0] == "email"
    assert "phone" in detect_kinds("+371 2000 1111", dm)
    assert "name" in detect_kinds("Anna Ozola", dm)
    assert "phone" not in detect_kinds("Anna Ozola", dm)
    assert "member_no" in detect_kinds("M-001", dm)


def test_result_views_and_json(mini_ws):
    r = lookup(mini_ws, "janis@mini.example")
    data = json.loads(json.dumps(r.to_dict()))
    assert data["status"] == "found"
    assert data["summary"]["datasets"] == r.counts()
    frame = r.to_frame()
    row = frame[frame.dataset == "shop.orders"].iloc[0]
    assert row["records"] == len(r.records["shop.orders"].rows)
    assert "3 years from end_of_fiscal_year(ordered_at)" in row["retention"]
    assert row["legal bases"] == "contract"
    cats = r.by_category().set_index("category")
    assert cats.loc["user.contact.email", "records"] == 2  # person row + subscriber row
    assert "people.person.mail" in cats.loc["user.contact.email", "fields"]


def test_every_lookup_is_audited_without_personal_data(mini_ws):
    lookup(mini_ws, "janis@mini.example")
    entry = audit.entries(mini_ws, action="lookup")[-1]
    assert entry.actor == "test-analyst"
    assert entry.details["datasets"]["shop.orders"] == 2
    text = json.dumps(audit.as_dict(entry))
    assert "janis@mini.example" not in text and "Bērziņš" not in text
    assert entry.subject_hash == audit.subject_hash(mini_ws, "janis@mini.example")
    assert audit.verify(mini_ws).ok


def test_rows_under_a_shared_identifier_are_held_apart(mini_ws):
    # home@mini.example belongs to persons 3 and 4; the subscriber row with it cannot be told to be either's
    for pid in (3, 4):
        r = lookup(mini_ws, pick=f"people.person:{pid}")
        assert "mail.subscribers" not in r.records
        assert [row["address"] for row in r.shared["mail.subscribers"].rows] == ["home@mini.example"]
        assert r.summary()["shared"] == {"mail.subscribers": 1}
    # a value held by one person only is theirs
    assert "mail.subscribers" not in lookup(mini_ws, "janis@mini.example").shared


def test_csv_sources_work_like_any_other(mini_ws):
    # move the subscribers list into a CSV folder: the map changes, the lookup answer does not
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    (mini_ws.root / "csv").mkdir()
    con.execute(f"COPY mail.subscribers TO '{mini_ws.root / 'csv' / 'subscribers.csv'}' (HEADER)")
    con.close()
    text = (mini_ws.root / "privacyops.yaml").read_text()
    text = text.replace("  files: {kind: parquet, path: files, location: DE}",
                        "  files: {kind: parquet, path: files, location: DE}\n  lists: {kind: csv, path: csv, location: LV}")
    text = text.replace("  mail.subscribers:\n    source: main\n",
                        "  mail.subscribers:\n    source: lists\n    table: subscribers.csv\n")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    from privacyops.workspace import open_workspace

    ws = open_workspace(mini_ws.root)
    assert ws.datamap.datasets["mail.subscribers"].source == "lists"
    r = lookup(ws, "janis@mini.example")
    assert [row["address"] for row in r.records["mail.subscribers"].rows] == ["jb@other.example"]
    assert lookup(ws, "someone@else.example").records["mail.subscribers"].count == 1


def test_a_phone_written_with_its_country_code_in_brackets_is_a_phone(mini_ws):
    """'(+371) 2000 3333', as the store itself writes it: searched as a phone (not a name), found by its digits."""
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"), read_only=True)
    try:
        (pid,) = con.execute("SELECT pid FROM people.person WHERE tel = '(+371) 2000 3333'").fetchone()
    finally:
        con.close()
    assert "phone" in detect_kinds("(+371) 2000 3333", mini_ws.datamap)
    assert "name" not in detect_kinds("(+371) 2000 3333", mini_ws.datamap)
    r = lookup(mini_ws, "(+371) 2000 3333", audit_log=False)
    assert r.status == "found" and r.kind == "phone" and r.subject.ref == f"people.person:{pid}"


def test_a_miss_names_the_kinds_it_searched(mini_ws):
    r = lookup(mini_ws, "nobody@nowhere.example", audit_log=False)
    assert r.status == "not_found" and r.kind.split("/")[0] == "email"
    r = lookup(mini_ws, "Zzyzx Qwerty", audit_log=False)
    assert r.status == "not_found" and r.kind == "name"
