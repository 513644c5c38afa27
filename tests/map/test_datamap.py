"""The data map loader: valid maps load into the model; every malformed map is reported precisely.

Each problem must name the dotted path inside the map, say what is wrong and what is allowed (or suggest the
near-miss), and carry the YAML line the problem sits on.
"""

from __future__ import annotations

import hashlib

import pytest

from privacyops.errors import DataMapError, MapProblem
from privacyops.map import Anchor, DataMap, Period, Settings, load_datamap, parse_datamap
from privacyops.map.model import Authority
from tests.support.mini import MINI_MAP

FILE = "privacyops.yaml"


# ---------------------------------------------------------------------------------------------------------------
# helpers


def sub(old: str, new: str, text: str = MINI_MAP) -> str:
    """Replace one exact, unique fragment of the map (fails loudly if the fragment is not there exactly once)."""
    assert text.count(old) == 1, f"fragment {old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_no(text: str, needle: str) -> int:
    """1-based number of the only line of `text` that contains `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def problems_of(text: str, file: str = FILE) -> list[MapProblem]:
    with pytest.raises(DataMapError) as info:
        parse_datamap(text, file=file)
    problems = info.value.problems
    assert problems, "a DataMapError must carry at least one problem"
    return problems


def problem_at(problems: list[MapProblem], path) -> MapProblem:
    paths = {path} if isinstance(path, str) else set(path)
    hits = [p for p in problems if p.path in paths]
    assert hits, f"no problem at {paths}; got {[(p.path, p.message) for p in problems]}"
    return hits[0]


def with_settings(line: str) -> str:
    return sub("purposes:\n  service:", f"settings: {{{line}}}\npurposes:\n  service:")


ITEMS_FIELDS = "    fields: {title: system.operations}"


def items_extra(extra: str) -> str:
    """MINI_MAP with extra lines appended to the shop.items dataset."""
    return sub(ITEMS_FIELDS, ITEMS_FIELDS + "\n" + extra)


# ---------------------------------------------------------------------------------------------------------------
# valid maps


def test_mini_map_loads_into_the_model():
    dm = parse_datamap(MINI_MAP, file=FILE)
    assert isinstance(dm, DataMap)
    assert dm.version == 1
    assert list(dm.datasets) == ["people.person", "shop.orders", "shop.order_events", "shop.items",
                                 "mail.subscribers"]
    assert dm.organisation.name == "Mini Org"
    assert dm.organisation.contact == "privacy@mini.example"
    assert dm.organisation.authority == Authority(name="Test Authority", country="LV")
    assert {n: p.legal_basis for n, p in dm.purposes.items()} == {"service": "contract", "mail": "consent"}
    rule = dm.retention["orders"]
    assert rule.keep == Period(3, "years")
    assert rule.anchor == Anchor(field="ordered_at", function="end_of_fiscal_year")
    assert rule.ground == "Test law s.1"
    assert str(rule) == "3 years from end_of_fiscal_year(ordered_at) (Test law s.1)"
    assert {n: (s.kind, s.path, s.location, s.in_eu) for n, s in dm.sources.items()} == {
        "main": ("duckdb", "main.duckdb", "LV", True),
        "files": ("parquet", "files", "DE", True),
    }
    person = dm.dataset("people.person")
    assert person.subject == "person"
    assert person.primary_key == ("pid",)
    assert person.table == "people.person"  # default: the dataset name
    assert person.purposes == ("service",)
    assert person.retention is None
    assert person.fields["full_name"].categories == ("user.name",)
    assert person.fields["full_name"].personal
    orders = dm.dataset("shop.orders")
    assert orders.retention == "orders"
    assert orders.free_text_fields == ("note",)
    assert orders.fields["note"].category == "user.content"
    assert not orders.fields["ordered_at"].personal
    assert dm.dataset("shop.order_events").table == "events/*.parquet"
    assert dm.identity_kinds() == ["email", "member_no", "name", "phone"]
    assert dm.settings == Settings()


def test_list_form_identities_keep_every_column():
    dm = parse_datamap(MINI_MAP)
    person = dm.dataset("people.person")
    assert person.identities["email"] == ("mail", "mail2")
    assert person.identity_columns("email") == ("mail", "mail2")
    assert person.identity_columns("phone") == ("tel",)
    assert person.identity_columns("member_no") == ("member_no",)
    assert person.identity_columns("username") == ()


def test_minimal_map_loads_with_defaults():
    text = (
        "organisation: {name: O, contact: privacy@o.example, authority: DVI}\n"
        "sources: {db: {kind: duckdb, path: db.duckdb, location: LV}}\n"
        "datasets:\n"
        "  things: {source: db, primary_key: id}\n"
    )
    dm = parse_datamap(text)
    assert dm.version == 1
    assert dm.purposes == {} and dm.retention == {} and dm.recipients == {}
    ds = dm.dataset("things")
    assert (ds.source, ds.table, ds.primary_key) == ("db", "things", ("id",))
    assert ds.fields == {} and ds.identities == {} and ds.references == ()
    assert ds.erasure.action == "delete"
    assert dm.settings == Settings((1, 1), 8, 0.82)


def test_authority_as_a_plain_string():
    dm = parse_datamap(sub("authority: {name: Test Authority, country: LV}", "authority: Datu valsts inspekcija"))
    assert dm.organisation.authority == Authority(name="Datu valsts inspekcija")
    assert dm.organisation.authority.country is None


def test_authority_mapping_with_every_key():
    dm = parse_datamap(sub("authority: {name: Test Authority, country: LV}",
                           "authority: {name: DVI, country: LV, address: 'Elijas iela 17', "
                           "website: 'https://www.dvi.gov.lv', email: info@dvi.gov.lv, phone: '+371 1'}"))
    a = dm.organisation.authority
    assert (a.name, a.country, a.address, a.website, a.email, a.phone) == (
        "DVI", "LV", "Elijas iela 17", "https://www.dvi.gov.lv", "info@dvi.gov.lv", "+371 1")


def test_shared_references_are_context_not_ownership():
    dm = parse_datamap(MINI_MAP)
    orders = dm.dataset("shop.orders")
    by_col = {r.column: r for r in orders.references}
    assert (by_col["pid"].to_dataset, by_col["pid"].to_column, by_col["pid"].shared) == (
        "people.person", "pid", False)
    assert (by_col["item_id"].to_dataset, by_col["item_id"].to_column, by_col["item_id"].shared) == (
        "shop.items", "item_id", True)
    assert [r.column for r in orders.owner_references] == ["pid"]
    assert [r.column for r in orders.shared_references] == ["item_id"]


def test_shared_reference_breaks_what_would_be_a_cycle():
    # items -> orders (shared) plus orders -> items (belongs-to) is fine: only belongs-to edges can cycle.
    text = items_extra("    references: {item_id: {to: shop.orders.item_id, shared: true}}")
    dm = parse_datamap(text)
    assert dm.dataset("shop.items").shared_references[0].to_dataset == "shop.orders"


def test_settings_are_parsed():
    dm = parse_datamap(with_settings("fiscal_year_start: '07-01', phone_match_digits: 9, "
                                     "name_match_threshold: 0.9"))
    assert dm.settings == Settings((7, 1), 9, 0.9)


def test_settings_partial_keep_other_defaults():
    dm = parse_datamap(with_settings("phone_match_digits: 10"))
    assert dm.settings == Settings((1, 1), 10, 0.82)


def test_composite_primary_key_and_csv_default_table():
    text = sub("  files: {kind: parquet, path: files, location: DE}",
               "  files: {kind: parquet, path: files, location: DE}\n"
               "  exports: {kind: csv, path: exports, location: LV}")
    text += ("  crm.visits:\n"
             "    source: exports\n"
             "    primary_key: [pid, day]\n"
             "    references: {pid: people.person.pid}\n"
             "    purposes: [service]\n"
             "    fields: {day: system.operations}\n")
    dm = parse_datamap(text)
    visits = dm.dataset("crm.visits")
    assert visits.primary_key == ("pid", "day")
    assert visits.table == "crm.visits.csv"
    assert dm.dataset("shop.order_events").table == "events/*.parquet"


def test_default_parquet_table_is_dataset_name_dot_parquet():
    dm = parse_datamap(sub('    table: "events/*.parquet"\n', ""))
    assert dm.dataset("shop.order_events").table == "shop.order_events.parquet"


def test_field_forms_list_and_mapping():
    text = sub("fields: {address: user.contact.email}",
               "fields:\n"
               "      address: [user.contact.email, user.contact]\n"
               "      bio: {categories: [user.content], description: About me, free_text: true}")
    ds = parse_datamap(text).dataset("mail.subscribers")
    assert ds.fields["address"].categories == ("user.contact.email", "user.contact")
    assert ds.fields["bio"].categories == ("user.content",)
    assert ds.fields["bio"].description == "About me"
    assert ds.free_text_fields == ("bio",)


def test_erasure_policy_is_parsed():
    text = items_extra("    erasure: {action: mask, keep_fields: [item_id], mask: {title: redact}}")
    pol = parse_datamap(text).dataset("shop.items").erasure
    assert (pol.action, pol.keep_fields, pol.mask) == ("mask", ("item_id",), {"title": "redact"})


def test_country_codes_are_normalised_to_upper_case():
    dm = parse_datamap(sub("location: DE", "location: de"))
    assert dm.sources["files"].location == "DE"


def test_non_eu_location_is_valid_but_not_in_eu():
    dm = parse_datamap(sub("location: DE", "location: US"))
    assert dm.sources["files"].location == "US"
    assert not dm.sources["files"].in_eu


def test_line_of_points_at_the_key():
    dm = parse_datamap(MINI_MAP)
    assert dm.line_of("datasets.shop.orders.retention") == line_no(MINI_MAP, "    retention: orders")
    assert dm.line_of("sources.files") == line_no(MINI_MAP, "  files: {kind: parquet")
    assert dm.line_of("datasets.nope") is None


# ---------------------------------------------------------------------------------------------------------------
# malformed maps: path, message and line


def _cycle_map() -> str:
    text = sub("item_id: {to: shop.items.item_id, shared: true}", "item_id: shop.items.item_id")
    return sub(ITEMS_FIELDS, "    references: {item_id: shop.orders.item_id}\n" + ITEMS_FIELDS, text)


# id -> (map text, path (or set of acceptable paths), message fragments, line: needle | int)
MALFORMED = {
    "yaml-syntax-error": (
        sub("  name: Mini Org", "  name: Mini: Org"), "", ["not valid YAML", "mapping values are not allowed"],
        "Mini: Org"),
    "empty-file": ("", "", ["the file is empty", "organisation", "datasets"], 1),
    "only-comments": ("# nothing here yet\n", "", ["the file is empty"], 1),
    "top-level-list": ("- version: 1\n- datasets: {}\n", "", ["expected a mapping", "got a list"], 1),
    "unknown-top-level-key": (
        sub("version: 1\n", "version: 1\nrecipient: {}\n"), "recipient",
        ["unknown key 'recipient'", "did you mean 'recipients'", "allowed: version, organisation"], "recipient: {}"),
    "misspelt-datasets": (
        sub("datasets:\n", "datasetz:\n"), "datasetz", ["unknown key 'datasetz'", "did you mean 'datasets'"],
        "datasetz:"),
    "missing-datasets": (MINI_MAP.split("datasets:\n")[0], "datasets", ["'datasets' is required"], "version: 1"),
    "missing-organisation": (
        sub("organisation:\n  name: Mini Org\n  contact: privacy@mini.example\n"
            "  authority: {name: Test Authority, country: LV}\n", ""),
        "organisation", ["'organisation' is required"], "version: 1"),
    "version-2": (sub("version: 1", "version: 2"), "version", ["unsupported version 2", "version 1"],
                  "version: 2"),
    "bad-legal-basis": (
        sub("legal_basis: contract", "legal_basis: contrakt"), "purposes.service.legal_basis",
        ["'contrakt' is not a legal basis", "did you mean 'contract'", "legitimate_interests"],
        "legal_basis: contrakt"),
    "purpose-missing-legal-basis": (
        sub("{description: Newsletters, legal_basis: consent}", "{description: Newsletters}"),
        "purposes.mail.legal_basis", ["'legal_basis' is required"], "  mail: {description: Newsletters}"),
    "unknown-purpose-in-dataset": (
        sub("    purposes: [mail]", "    purposes: [mails]"), "datasets.mail.subscribers.purposes",
        ["unknown purpose 'mails'", "did you mean 'mail'", "defined: service, mail"], "purposes: [mails]"),
    "retention-keep-unparsable": (
        sub("keep: 3 years", "keep: five years"), "retention.orders.keep",
        ["'five years' is not a period", "'5 years'"], "keep: five years"),
    "retention-from-unknown-function": (
        sub("end_of_fiscal_year(ordered_at)", "end_of_quarter(ordered_at)"), "retention.orders.from",
        ["'end_of_quarter(ordered_at)' is not an anchor", "end_of_fiscal_year(column)", "end_of_month(column)"],
        "end_of_quarter"),
    "retention-without-ground": (
        sub(', ground: "Test law s.1"', ""), "retention.orders.ground", ["'ground' is required"],
        "  orders: {keep: 3 years"),
    "unknown-retention-rule-in-dataset": (
        sub("    retention: orders", "    retention: order"), "datasets.shop.orders.retention",
        ["unknown retention rule 'order'", "did you mean 'orders'", "defined: orders"], "retention: order"),
    "unknown-source-kind": (
        sub("kind: parquet", "kind: parket"), "sources.files.kind",
        ["unknown source kind 'parket'", "did you mean 'parquet'", "allowed: duckdb, parquet, csv"],
        "kind: parket"),
    "bad-location": (
        sub("location: LV}\n  files", "location: Latvia}\n  files"), "sources.main.location",
        ["'Latvia' is not a country code", "ISO 3166-1 alpha-2", "LV, DE, US"], "location: Latvia"),
    "bad-authority-country": (
        sub("country: LV}", "country: Latvija}"), "organisation.authority.country",
        ["'Latvija' is not a country code"], "country: Latvija"),
    "dataset-unknown-source": (
        sub("source: files", "source: filez"), "datasets.shop.order_events.source",
        ["unknown source 'filez'", "did you mean 'files'", "defined: main, files"], "source: filez"),
    "dataset-missing-primary-key": (
        sub("    primary_key: sid\n", ""), "datasets.mail.subscribers.primary_key", ["'primary_key' is required"],
        "  mail.subscribers:"),
    "dataset-unknown-key": (
        sub("    primary_key: sid", "    primary_keys: sid"), "datasets.mail.subscribers.primary_keys",
        ["unknown key 'primary_keys'", "did you mean 'primary_key'"], "primary_keys: sid"),
    "unknown-fideslang-category": (
        sub("      mail: user.contact.email", "      mail: user.contact.emial"), "datasets.people.person.fields.mail",
        ["'user.contact.emial' is not a fideslang data category", "did you mean 'user.contact.email'"],
        "user.contact.emial"),
    "field-without-category": (
        sub("note: {category: user.content, free_text: true}", "note: {free_text: true}"),
        "datasets.shop.orders.fields.note", ["needs a data category"], "note: {free_text: true}"),
    "free-text-not-boolean": (
        sub("free_text: true", "free_text: sometimes"), "datasets.shop.orders.fields.note.free_text",
        ["expected true or false", "sometimes"], "free_text: sometimes"),
    "identity-column-not-in-fields": (
        sub("identities: {email: address}", "identities: {email: [address, email2]}"),
        "datasets.mail.subscribers.identities.email", ["identity column 'email2' is not listed in fields"],
        "email2"),
    "reference-to-unknown-dataset": (
        sub("pid: people.person.pid", "pid: people.persons.pid"), "datasets.shop.orders.references.pid",
        ["references unknown dataset 'people.persons'", "did you mean 'people.person'"], "people.persons.pid"),
    "reference-not-dataset-column": (
        sub("pid: people.person.pid", "pid: person"), "datasets.shop.orders.references.pid",
        ["expected DATASET.COLUMN", "'person'"], "pid: person"),
    "reference-shared-not-boolean": (
        sub("shared: true", "shared: 'yes'"), "datasets.shop.orders.references.item_id.shared",
        ["expected true or false", "'yes'"], "shared: 'yes'"),
    "belongs-to-cycle": (
        _cycle_map(), {"datasets.shop.items.references.item_id", "datasets.shop.orders.references.item_id"},
        ["cycle", "shop.orders -> shop.items -> shop.orders", "shared: true"],
        "references: {item_id: shop.orders.item_id}"),
    "self-reference-cycle": (
        items_extra("    references: {item_id: shop.items.item_id}"), "datasets.shop.items.references.item_id",
        ["cycle", "shop.items -> shop.items"], "references: {item_id: shop.items.item_id}"),
    "unknown-masking-strategy": (
        items_extra("    erasure: {mask: {title: scramble}}"), "datasets.shop.items.erasure.mask.title",
        ["unknown masking strategy 'scramble'", "allowed: null, redact, hmac"], "scramble"),
    "unknown-erasure-action": (
        items_extra("    erasure: {action: shred}"), "datasets.shop.items.erasure.action",
        ["'shred' is not an erasure action", "allowed: delete, mask"], "action: shred"),
    "masking-a-primary-key": (
        items_extra("    erasure: {mask: {item_id: redact}}"), "datasets.shop.items.erasure.mask.item_id",
        ["primary key column cannot be masked"], "item_id: redact"),
    "duplicate-key": (
        sub("      mail2: user.contact.email\n", "      mail2: user.contact.email\n      mail2: user.name\n"),
        "datasets.people.person.fields.mail2", ["appears twice"], "mail2: user.name"),
    "duplicate-top-level-key": (
        MINI_MAP + "version: 1\n", "version", ["appears twice"], len(MINI_MAP.splitlines()) + 1),
    "personal-data-without-purposes": (
        sub("    purposes: [mail]\n", ""), "datasets.mail.subscribers.purposes",
        ["holds personal data but names no purpose", "legal basis"], "  mail.subscribers:"),
    "parquet-table-escapes-with-dotdot": (
        sub('table: "events/*.parquet"', 'table: "../events/*.parquet"'), "datasets.shop.order_events.table",
        ["'../events/*.parquet' must be a path inside the source folder", "no '..'"], "../events"),
    "parquet-table-absolute": (
        sub('table: "events/*.parquet"', 'table: "/srv/events/*.parquet"'), "datasets.shop.order_events.table",
        ["must be a path inside the source folder", "not absolute"], "/srv/events"),
    "settings-fiscal-year-start": (
        with_settings("fiscal_year_start: '13-01'"), "settings.fiscal_year_start",
        ["'13-01' is not MM-DD", "\"01-01\""], "fiscal_year_start: '13-01'"),
    "settings-fiscal-year-day-29": (
        with_settings("fiscal_year_start: '02-29'"), "settings.fiscal_year_start", ["day 1-28"],
        "fiscal_year_start: '02-29'"),
    "settings-phone-digits-too-few": (
        with_settings("phone_match_digits: 3"), "settings.phone_match_digits", ["from 6 to 15"],
        "phone_match_digits: 3"),
    "settings-phone-digits-boolean": (
        with_settings("phone_match_digits: true"), "settings.phone_match_digits", ["whole number"],
        "phone_match_digits: true"),
    "settings-threshold-above-one": (
        with_settings("name_match_threshold: 1.5"), "settings.name_match_threshold",
        ["1.5 must be a number above 0 and at most 1"], "name_match_threshold: 1.5"),
    "settings-threshold-zero": (
        with_settings("name_match_threshold: 0"), "settings.name_match_threshold", ["above 0"],
        "name_match_threshold: 0"),
    "settings-unknown-key": (
        with_settings("phone_digits: 8"), "settings.phone_digits",
        ["unknown key 'phone_digits'", "did you mean 'phone_match_digits'"], "phone_digits: 8"),
    "settings-not-a-mapping": (
        sub("purposes:\n  service:", "settings: [a, b]\npurposes:\n  service:"), "settings",
        ["expected a mapping", "got a list"], "settings: [a, b]"),
    "unknown-recipient": (
        sub("    purposes: [mail]", "    purposes: [mail]\n    recipients: [mailer]"),
        "datasets.mail.subscribers.recipients", ["unknown recipient 'mailer'"], "recipients: [mailer]"),
    "recipient-bad-location": (
        sub("sources:\n", "recipients:\n  mailer: {description: Mailer, location: Germany}\nsources:\n"),
        "recipients.mailer.location", ["'Germany' is not a country code"], "location: Germany"),
}


@pytest.mark.parametrize("text, path, fragments, line", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_map_names_path_message_and_line(text, path, fragments, line):
    problems = problems_of(text)
    p = problem_at(problems, path)
    for fragment in fragments:
        assert fragment in p.message, f"{fragment!r} not in {p.message!r}"
    expected_line = line if isinstance(line, int) else line_no(text, line)
    assert p.line == expected_line
    assert p.file == FILE
    assert str(p).startswith(f"{FILE}:{expected_line}: ")


def test_malformed_cases_are_many():
    assert len(MALFORMED) >= 20


def test_yaml_syntax_error_is_the_only_problem():
    problems = problems_of(sub("  name: Mini Org", "  name: Mini: Org"))
    assert len(problems) == 1
    assert str(problems[0]) == (f"{FILE}:{line_no(MINI_MAP, '  name: Mini Org')}: (top level): "
                                f"{problems[0].message}")


def test_a_valid_change_elsewhere_does_not_add_problems():
    # One problem in, exactly one problem out: the checks do not pile up noise for a single mistake.
    problems = problems_of(sub("kind: parquet", "kind: parket"))
    assert [p.path for p in problems] == ["sources.files.kind"]


def test_multiple_problems_are_all_reported_in_one_error():
    text = sub("legal_basis: contract", "legal_basis: contrakt")
    text = sub("location: LV}\n  files", "location: Latvia}\n  files", text)
    text = sub("      mail: user.contact.email", "      mail: user.contact.emial", text)
    text = sub("pid: people.person.pid", "pid: people.persons.pid", text)
    with pytest.raises(DataMapError) as info:
        parse_datamap(text, file=FILE)
    err = info.value
    assert {p.path for p in err.problems} == {
        "purposes.service.legal_basis", "sources.main.location", "datasets.people.person.fields.mail",
        "datasets.shop.orders.references.pid",
    }
    assert "4 problem(s)" in str(err)
    for p in err.problems:
        assert str(p) in str(err)
    assert err.exit_code == 2


def test_str_of_error_includes_file_and_line(tmp_path):
    text = sub("location: LV}\n  files", "location: Latvia}\n  files")
    f = tmp_path / "privacyops.yaml"
    f.write_text(text)
    with pytest.raises(DataMapError) as info:
        load_datamap(f)
    line = line_no(text, "location: Latvia")
    assert f"{f}:{line}: sources.main.location: 'Latvia' is not a country code" in str(info.value)


def test_problem_without_file_or_line_still_prints():
    assert str(MapProblem("", "boom")) == "<map>: (top level): boom"
    assert str(MapProblem("a.b", "boom", 3, "m.yaml")) == "m.yaml:3: a.b: boom"


def test_load_missing_file_is_a_clear_datamap_error(tmp_path):
    missing = tmp_path / "nowhere" / "privacyops.yaml"
    with pytest.raises(DataMapError) as info:
        load_datamap(missing)
    (p,) = info.value.problems
    assert p.file == str(missing)
    assert "no data map here" in p.message
    assert "privacyops.yaml" in p.message


def test_load_a_directory_is_a_clear_datamap_error(tmp_path):
    with pytest.raises(DataMapError) as info:
        load_datamap(tmp_path)
    assert "no data map here" in info.value.problems[0].message


def test_load_non_utf8_file_is_a_clear_datamap_error(tmp_path):
    f = tmp_path / "privacyops.yaml"
    f.write_bytes(b"version: 1\nname: \xff\xfe\n")
    with pytest.raises(DataMapError) as info:
        load_datamap(f)
    assert "cannot read the file" in info.value.problems[0].message


def test_load_datamap_records_the_path(tmp_path):
    f = tmp_path / "privacyops.yaml"
    f.write_text(MINI_MAP)
    dm = load_datamap(f)
    assert dm.path == f
    assert dm.fingerprint == hashlib.sha256(MINI_MAP.encode("utf-8")).hexdigest()


def test_fingerprint_changes_when_the_text_changes():
    a = parse_datamap(MINI_MAP)
    b = parse_datamap(MINI_MAP + "# a comment changes the map version too\n")
    c = parse_datamap(MINI_MAP)
    assert len(a.fingerprint) == 64
    assert a.fingerprint == c.fingerprint
    assert a.fingerprint != b.fingerprint
    assert b.fingerprint == hashlib.sha256((MINI_MAP + "# a comment changes the map version too\n")
                                           .encode()).hexdigest()


def test_children_returns_belongs_to_references_only():
    dm = parse_datamap(MINI_MAP)
    assert [(r.dataset, r.column, r.to_column) for r in dm.children("people.person")] == [
        ("shop.orders", "pid", "pid")]
    assert [(r.dataset, r.column) for r in dm.children("shop.orders")] == [("shop.order_events", "oid")]
    # shop.orders points at shop.items, but through a shared reference: items have no children.
    assert dm.children("shop.items") == []
    assert dm.children("mail.subscribers") == []


def test_children_lists_every_belongs_to_reference():
    text = MINI_MAP + ("  shop.returns:\n"
                       "    source: main\n"
                       "    primary_key: rid\n"
                       "    references: {oid: shop.orders.oid, item_id: {to: shop.items.item_id, shared: true}}\n"
                       "    fields: {reason: system.operations}\n")
    dm = parse_datamap(text)
    assert sorted(r.dataset for r in dm.children("shop.orders")) == ["shop.order_events", "shop.returns"]
    assert dm.children("shop.items") == []


# ---------------------------------------------------------------------------------------------------------------
# bugs found while writing these tests, now fixed: regression tests


@pytest.mark.parametrize("text, path", [
    pytest.param(sub("source: files", "source: [files]"), "datasets.shop.order_events.source", id="source-list"),
    pytest.param(sub("    retention: orders", "    retention: [orders]"), "datasets.shop.orders.retention",
                 id="retention-list"),
    pytest.param(sub("    purposes: [mail]", "    purposes: [{mail: 1}]"), "datasets.mail.subscribers.purposes.0",
                 id="purpose-mapping"),
    pytest.param(sub("    purposes: [mail]", "    purposes: [mail]\n    recipients: [[mailer]]"),
                 "datasets.mail.subscribers.recipients", id="recipient-list"),
])
def test_non_text_names_are_reported_not_crashing(text, path):
    problem_at(problems_of(text), path)


def test_mask_strategy_null_written_plainly_is_accepted():
    text = sub("fields: {address: user.contact.email}",
               "fields: {address: user.contact.email, nick: user.name}\n    erasure: {mask: {nick: null}}")
    dm = parse_datamap(text)
    assert dm.dataset("mail.subscribers").erasure.mask == {"nick": "null"}


def test_version_true_is_rejected():
    problem_at(problems_of(sub("version: 1", "version: true")), "version")


def test_invalid_retention_rule_is_reported_once():
    problems = problems_of(sub("keep: 3 years", "keep: five years"))
    assert [p.path for p in problems] == ["retention.orders.keep"]


def test_table_must_be_text():
    problem_at(problems_of(sub('table: "events/*.parquet"', 'table: ["events/*.parquet"]')),
               "datasets.shop.order_events.table")


# ---------------------------------------------------------------------------------------------------------------
# Anchors through a reference (`member_id.left_on`) and rules kept while the anchor is empty.


def test_anchor_through_a_reference_and_keep_while_empty_load():
    text = sub("from: end_of_fiscal_year(ordered_at), ground",
               "from: end_of_month(pid.member_no), keep_while_empty: true, ground")
    rule = parse_datamap(text).retention["orders"]
    assert rule.anchor == Anchor(field="member_no", function="end_of_month", via="pid")
    assert rule.anchor.column == "pid.member_no" and str(rule.anchor) == "end_of_month(pid.member_no)"
    assert rule.keep_while_empty is True
    assert parse_datamap(MINI_MAP).retention["orders"].keep_while_empty is False  # off unless written


@pytest.mark.parametrize("anchor, fragments", [
    ("customer_id.closed_at", ["rule orders counts from customer_id.closed_at, but shop.orders has no reference "
                               "'customer_id'", "list it under references or give the rule a column of this "
                               "dataset"]),
    ("end_of_month(pid.left_on)", ["rule orders counts from pid.left_on: 'left_on' is not a column of "
                                   "people.person in the map", "list it under that dataset's fields"]),
])
def test_anchor_through_a_bad_reference_is_reported_on_the_dataset_line(anchor, fragments):
    text = sub("from: end_of_fiscal_year(ordered_at)", f"from: {anchor}")
    problems = problems_of(text)
    p = problem_at(problems, "datasets.shop.orders.retention")
    for fragment in fragments:
        assert fragment in p.message, f"{fragment!r} not in {p.message!r}"
    assert p.line == line_no(text, "    retention: orders") and p.file == FILE
    assert [q.path for q in problems] == ["datasets.shop.orders.retention"]  # the rule itself is fine


@pytest.mark.parametrize("value, path, fragment", [
    ("from: pid.person.left_on", "retention.orders.from", "or a date column of the row a reference points at "
                                                          "(member_id.left_on)"),
    ("from: .left_on", "retention.orders.from", "is not an anchor"),
    ("from: ordered_at, keep_while_empty: sometimes", "retention.orders.keep_while_empty",
     "expected true or false, got 'sometimes'"),
])
def test_malformed_anchor_or_flag_is_reported(value, path, fragment):
    text = sub("from: end_of_fiscal_year(ordered_at)", value)
    p = problem_at(problems_of(text), path)
    assert fragment in p.message, p.message
    assert p.line == line_no(text, "  orders: {keep: 3 years")
