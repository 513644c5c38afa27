"""Importing a Fides dataset manifest as a privacyops map fragment.

Expected values are read from the fixture (tests/fixtures/fides/webshop.yml, written after the Fides dataset docs)
where they can be, and every malformed Fides file must be reported with its path in the file, what is wrong and
the line. Fides' `direction` on a reference: `to` = the source collection's rows lead to the referenced rows, `from`
= the referenced rows lead to the source collection's rows (Fides "Datasets" guide). privacyops walks *down* a
reference from the referenced rows to the referencing row, so `from` stays on the source collection and `to` is
turned around onto the referenced collection.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from privacyops.errors import DataMapError, MapProblem
from privacyops.map import data_categories, import_fides, parse_datamap
from privacyops.map.fides import merge_into, parse_fides, render_fragment
from tests.support.mini import MINI_MAP

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fides"
WEBSHOP = FIXTURES / "webshop.yml"
WEBSHOP_TEXT = WEBSHOP.read_text(encoding="utf-8")
RAW = yaml.safe_load(WEBSHOP_TEXT)["dataset"]


# ---------------------------------------------------------------------------------------------------------------
# helpers


def sub(old: str, new: str, text: str = WEBSHOP_TEXT) -> str:
    """Replace one exact fragment that occurs exactly once."""
    assert text.count(old) == 1, f"fragment {old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_no(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def problems_of(tmp_path: Path, text: str) -> list[MapProblem]:
    path = tmp_path / "broken.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataMapError) as info:
        import_fides(path, source="main")
    problems = info.value.problems
    assert problems and all(p.file == str(path) for p in problems)
    return problems


def problem_at(problems: list[MapProblem], path: str) -> MapProblem:
    hits = [p for p in problems if p.path == path]
    assert hits, f"no problem at {path}; got {[(p.path, p.message) for p in problems]}"
    return hits[0]


def raw_collection(key: str, name: str) -> dict:
    ds = next(d for d in RAW if d["fides_key"] == key)
    return next(c for c in ds["collections"] if c["name"] == name)


def meta(field: dict) -> dict:
    return field.get("fides_meta") or field.get("fidesops_meta") or {}


@pytest.fixture(scope="module")
def fragment() -> dict:
    return import_fides(WEBSHOP, source="main", purposes=["service"])


def mini_fides(direction: str | None, *, parent_pk: bool = True, child_pk_is_ref: bool = False) -> str:
    """Two collections: `child.parent_id` references `parent.id` with the given direction."""
    direction_line = f"\n                  direction: {direction}" if direction else ""
    return f"""dataset:
  - fides_key: app
    collections:
      - name: parent
        fields:
          - name: id
            data_categories: [user.unique_id]
            fides_meta: {{primary_key: {str(parent_pk).lower()}}}
          - name: pk
            data_categories: [system.operations]
            fides_meta: {{primary_key: {str(not parent_pk).lower()}}}
      - name: child
        fields:
          - name: cid
            data_categories: [system.operations]
            fides_meta: {{primary_key: {str(not child_pk_is_ref).lower()}}}
          - name: parent_id
            data_categories: [user.unique_id]
            fides_meta:
              primary_key: {str(child_pk_is_ref).lower()}
              references:
                - dataset: app
                  field: parent.id{direction_line}
"""


# ---------------------------------------------------------------------------------------------------------------
# the fixture imports


def test_one_dataset_per_collection_named_by_fides_key_and_collection(fragment):
    expected = [f"{d['fides_key']}.{c['name']}" for d in RAW for c in d["collections"]]
    assert list(fragment["datasets"]) == expected
    assert len(expected) == 10
    assert fragment["imported_from"] == str(WEBSHOP)


def test_tables_follow_the_fides_namespace_schema(fragment):
    ds = fragment["datasets"]
    assert RAW[0]["fides_meta"]["namespace"]["schema"] == "store"
    assert ds["webshop.customer"]["table"] == "store.customer"
    assert ds["webshop.order_item"]["table"] == "store.order_item"
    assert "namespace" not in (RAW[1].get("fides_meta") or {})
    assert ds["webshop_mongo.customer_details"]["table"] == "customer_details"


def test_only_what_fides_says_plus_source_and_purposes(fragment):
    for name, ds in fragment["datasets"].items():
        assert ds["source"] == "main", name
        assert ds["purposes"] == ["service"], name
        assert not {"erasure", "retention", "subject", "recipients", "collected_from"} & set(ds), name
    without = import_fides(WEBSHOP, source="lake")
    assert all("purposes" not in ds and ds["source"] == "lake" for ds in without["datasets"].values())
    assert without["datasets"]["webshop.customer"]["description"] == raw_collection("webshop", "customer")[
        "description"]


def test_table_prefix_replaces_the_fides_key():
    got = import_fides(WEBSHOP, source="main", table_prefix="shop2")
    assert "shop2.customer" in got["datasets"] and "shop2.customer_details" in got["datasets"]
    assert got["datasets"]["shop2.orders"]["references"] == {"customer_id": "shop2.customer.id"}


def test_primary_keys(fragment):
    ds = fragment["datasets"]
    for key, name in [("webshop", "customer"), ("webshop", "login"), ("webshop_mongo", "customer_details")]:
        marked = [f["name"] for f in raw_collection(key, name)["fields"] if meta(f).get("primary_key")]
        assert len(marked) == 1
        assert ds[f"{key}.{name}"]["primary_key"] == marked[0]
    assert ds["webshop.login"]["primary_key"] == "id"  # marked under the legacy fidesops_meta
    assert ds["webshop_mongo.customer_details"]["primary_key"] == "_id"
    # order_item marks no primary key: its `id` field is used, and the analyst is told
    assert not any(meta(f).get("primary_key") for f in raw_collection("webshop", "order_item")["fields"])
    assert ds["webshop.order_item"]["primary_key"] == "id"
    assert any(n.startswith("webshop.order_item:") and "primary_key" in n for n in fragment["notes"])


def test_composite_primary_key(tmp_path):
    text = mini_fides("from", child_pk_is_ref=True).replace(
        "fides_meta: {primary_key: false}\n          - name: parent_id",
        "fides_meta: {primary_key: true}\n          - name: parent_id")
    got = parse_fides(text, source="main")
    assert got["datasets"]["app.child"]["primary_key"] == ["cid", "parent_id"]


def test_identities(fragment):
    ds = fragment["datasets"]
    assert {f["name"]: meta(f)["identity"] for f in raw_collection("webshop", "customer")["fields"]
            if meta(f).get("identity")} == {"email": "email", "phone": "phone_number", "loyalty_no": "loyalty_number"}
    # email -> email, phone_number -> phone, any other Fides identity keeps its name as an exact-identifier kind
    assert ds["webshop.customer"]["identities"] == {"email": "email", "phone": "phone",
                                                    "loyalty_number": "loyalty_no"}
    assert ds["webshop.service_request"]["identities"] == {"email": ["email", "alt_email"]}
    # the nested emergency_contact.phone identity cannot be matched by privacyops: skipped, with a note
    assert ds["webshop_mongo.customer_details"]["identities"] == {"fides_user_device_id": "device_id"}
    assert any("emergency_contact.phone" in n and "identity" in n for n in fragment["notes"])
    assert "identities" not in ds["webshop.product"]


def test_references_and_their_direction(fragment):
    ds = fragment["datasets"]
    refs = {name: d.get("references", {}) for name, d in ds.items()}
    # direction: from -> the row belongs to the referenced row: the reference stays on the source collection
    assert refs["webshop.orders"] == {"customer_id": "webshop.customer.id"}
    assert refs["webshop.order_item"] == {"order_id": "webshop.orders.id"}
    assert refs["webshop.payment_card"] == {"customer_id": "webshop.customer.id"}
    assert refs["webshop_mongo.customer_details"] == {"customer_id": "webshop.customer.id"}  # across datasets
    # direction: to -> Fides finds the referenced rows from this row: they belong to it (reference turned round)
    assert refs["webshop.address"] == {"id": "webshop.customer.address_id"}
    assert refs["webshop.product"] == {"id": "webshop.order_item.product_id"}
    assert "webshop.customer" not in {name for name, r in refs.items() if r} - {"webshop.address"}
    assert refs["webshop.customer"] == {}
    # no direction: read as `from` because customer.id is customer's primary key; noted
    assert refs["webshop.login"] == {"customer_id": "webshop.customer.id"}
    assert any(n.startswith("webshop.login:") and "no direction" in n for n in fragment["notes"])
    # a reference to the same table (a manager) cannot be belongs-to (a cycle): shared, noted
    assert refs["webshop.employee"] == {"manager_id": {"to": "webshop.employee.id", "shared": True}}
    # address is reached `to` from four places; privacyops keeps one reference per column and says so
    note = next(n for n in fragment["notes"] if n.startswith("webshop.address:"))
    for other in ("webshop.employee.address_id", "webshop.orders.shipping_address_id",
                  "webshop.payment_card.billing_address_id"):
        assert other in note
    # likely shared reference data (products) and staff links get a note with the replacement to write
    assert any("webshop.product rows" in n and "product_id: {to: webshop.product.id, shared: true}" in n
               for n in fragment["notes"])
    assert any(n.startswith("webshop.service_request has its own email identity") for n in fragment["notes"])


@pytest.mark.parametrize("direction, parent_pk, child_pk_is_ref, expected", [
    ("from", True, False, ("app.child", "parent_id", "app.parent.id")),
    ("to", True, False, ("app.parent", "id", "app.child.parent_id")),
    (None, True, False, ("app.child", "parent_id", "app.parent.id")),   # a key to a key: belongs to it
    (None, False, True, ("app.parent", "id", "app.child.parent_id")),  # the child's own key: the other way
])
def test_direction_decides_which_side_belongs_to_which(direction, parent_pk, child_pk_is_ref, expected):
    got = parse_fides(mini_fides(direction, parent_pk=parent_pk, child_pk_is_ref=child_pk_is_ref), source="main")
    holder, column, target = expected
    other = "app.parent" if holder == "app.child" else "app.child"
    assert got["datasets"][holder]["references"] == {column: target}
    assert "references" not in got["datasets"][other]
    assert any("no direction" in n for n in got["notes"]) == (direction is None)


def test_data_categories_are_preserved(fragment):
    ds = fragment["datasets"]
    checked = 0
    for d in RAW:
        for c in d["collections"]:
            fields = ds[f"{d['fides_key']}.{c['name']}"]["fields"]
            for f in c["fields"]:
                if f.get("data_categories") and not f.get("fields"):
                    spec = fields[f["name"]]
                    got = spec if isinstance(spec, list) else [spec] if isinstance(spec, str) else (
                        spec.get("categories") or [spec["category"]])
                    assert got == f["data_categories"], (c["name"], f["name"])
                    checked += 1
    assert checked >= 40
    customer = ds["webshop.customer"]["fields"]
    assert customer["email"] == {"category": "user.contact.email", "description": "Login e-mail"}
    assert ds["webshop.payment_card"]["fields"]["holder"] == ["user.financial", "user.name"]
    # a field without categories takes the collection's (Fides applies them to all its fields)
    assert ds["webshop.service_request"]["fields"]["alt_email"] == "user.content"
    # nested sub-fields are not columns privacyops can query: their categories go on the parent column
    assert ds["webshop_mongo.customer_details"]["fields"]["emergency_contact"] == ["user.name",
                                                                                   "user.contact.phone_number"]
    assert not any("." in f for d in ds.values() for f in d.get("fields", {}))
    # an identity without any category in Fides gets the one privacyops requires, with a note
    assert ds["webshop_mongo.customer_details"]["fields"]["device_id"] == "user.unique_id"
    assert any("device_id has no data category" in n for n in fragment["notes"])
    every = {c for d in ds.values() for spec in d["fields"].values()
             for c in ([spec] if isinstance(spec, str) else spec if isinstance(spec, list)
                       else spec.get("categories") or [spec["category"]])}
    assert every <= data_categories()


# ---------------------------------------------------------------------------------------------------------------
# merging and rendering


def test_merge_with_purposes_gives_a_valid_map(fragment):
    base = MINI_MAP.replace("datasets:\n", "# every table we hold\ndatasets:\n") + "# end of map\n"
    merged = merge_into(base, fragment)
    dm = parse_datamap(merged)  # raises on any problem
    assert set(dm.datasets) == set(yaml.safe_load(MINI_MAP)["datasets"]) | set(fragment["datasets"])
    assert "# every table we hold" in merged and merged.rstrip().endswith("# end of map")
    assert merged.startswith(base[: base.index("datasets:")])  # the base text above the datasets is untouched
    orders = dm.dataset("webshop.orders")
    assert [(r.column, r.to_dataset, r.to_column, r.shared) for r in orders.references] == [
        ("customer_id", "webshop.customer", "id", False)]
    assert {r.dataset for r in dm.children("webshop.customer")} == {
        "webshop.address", "webshop.orders", "webshop.login", "webshop.payment_card",
        "webshop_mongo.customer_details"}
    assert dm.dataset("webshop.customer").identities == {"email": ("email",), "phone": ("phone",),
                                                         "loyalty_number": ("loyalty_no",)}
    assert dm.dataset("webshop.order_item").primary_key == ("id",)
    assert dm.dataset("webshop.customer").fields["name"].categories == ("user.name",)
    assert dm.dataset("shop.orders") == parse_datamap(MINI_MAP).dataset("shop.orders")


def test_without_purposes_the_merged_map_asks_for_them():
    merged = merge_into(MINI_MAP, import_fides(WEBSHOP, source="main"))
    with pytest.raises(DataMapError) as info:
        parse_datamap(merged)
    assert {p.path for p in info.value.problems} >= {"datasets.webshop.customer.purposes"}
    assert all(p.path.endswith(".purposes") for p in info.value.problems)


def test_merge_refuses_a_dataset_name_the_map_has(fragment):
    clash = import_fides(WEBSHOP, source="main", purposes=["service"], table_prefix="shop")
    assert "shop.orders" in clash["datasets"]
    with pytest.raises(DataMapError) as info:
        merge_into(MINI_MAP, clash, file="privacyops.yaml")
    (p,) = info.value.problems
    assert p.path == "datasets.shop.orders"
    assert "already has a dataset named 'shop.orders'" in p.message
    assert p.line == line_no(MINI_MAP, "  shop.orders:") and p.file == "privacyops.yaml"
    # merging the same fragment twice is refused too
    once = merge_into(MINI_MAP, fragment)
    with pytest.raises(DataMapError):
        merge_into(once, fragment)


@pytest.mark.parametrize("datasets_part", [
    "datasets: {}\n",
    "datasets:\n",
    "datasets: {old.table: {source: main, primary_key: id}}  # flow style\n",
    "",
])
def test_merge_into_other_layouts_keeps_everything(datasets_part):
    base = "# my map\nversion: 1\n" + datasets_part + "sources:\n  main: {kind: duckdb, path: x.duckdb, location: LV}\n"
    fragment = parse_fides(mini_fides("from"), source="main")
    merged = merge_into(base, fragment)
    before = yaml.safe_load(base)
    after = yaml.safe_load(merged)
    assert after["datasets"] == {**(before.get("datasets") or {}), **fragment["datasets"]}
    assert after["sources"] == before["sources"] and after["version"] == 1
    assert merged.startswith("# my map\n")


def test_render_fragment_is_yaml_with_a_header_for_the_analyst(fragment):
    text = render_fragment(import_fides(WEBSHOP, source="main"))
    header = text[: text.index("\ndatasets:")]
    assert all(line.startswith("#") or not line.strip() for line in header.splitlines())
    for word in ("purposes", "retention", "erasure", "shared: true", "subject:"):
        assert word in header, word
    assert "no direction in Fides" in header  # the importer's notes
    assert yaml.safe_load(text) == {"datasets": import_fides(WEBSHOP, source="main")["datasets"]}
    with_purposes = render_fragment(fragment)
    assert "purposes: [..]" not in with_purposes and "purposes: [..]" in text


# ---------------------------------------------------------------------------------------------------------------
# broken Fides files: path in the file, what is wrong (and what is allowed), line


REF = "fides_meta.references[0]"
BROKEN = [
    pytest.param(
        lambda: sub("          - name: street\n", "         - name: street\n"),
        "", "not valid YAML", "- name: street", id="bad-yaml"),
    pytest.param(
        lambda: sub("data_categories: [user.financial.credit_card]",
                    "data_categories: [user.financial.account_number]"),
        "dataset[0].collections[7].fields[3].data_categories[0]",
        "'user.financial.account_number' is not a fideslang data category", "user.financial.account_number",
        id="unknown-category"),
    pytest.param(
        lambda: sub("data_categories: [user.contact.address.city]",
                    "data_categories: [user.provided.identifiable.contact.city]"),
        "dataset[0].collections[0].fields[2].data_categories[0]", "use 'user.contact.address.city'",
        "user.provided.identifiable", id="legacy-category"),
    pytest.param(
        lambda: sub("field: orders.id", "field: order.id"),
        f"dataset[0].collections[5].fields[1].{REF}.field",
        "unknown collection 'order' (did you mean 'orders'?)", "field: order.id", id="unknown-collection"),
    pytest.param(
        lambda: sub("field: product.id", "field: product.sku"),
        f"dataset[0].collections[5].fields[2].{REF}.field", "unknown field 'sku' of collection 'product'",
        "field: product.sku", id="unknown-field"),
    pytest.param(
        lambda: sub("                - dataset: webshop\n                  field: orders.id",
                    "                - dataset: web_shop\n                  field: orders.id"),
        f"dataset[0].collections[5].fields[1].{REF}.dataset", "references dataset 'web_shop'",
        "dataset: web_shop", id="unknown-dataset"),
    pytest.param(
        lambda: sub("field: orders.id\n                  direction: from",
                    "field: orders.id\n                  direction: sideways"),
        f"dataset[0].collections[5].fields[1].{REF}.direction", "'from' or 'to'", "direction: sideways",
        id="bad-direction"),
    pytest.param(
        lambda: sub("                - dataset: webshop\n                  field: customer.id\n"
                    "                  direction: from\n          - name: shipping_address_id",
                    "                - dataset: webshop  # orders.customer_id\n                  name: customer.id\n"
                    "                  direction: from\n          - name: shipping_address_id"),
        f"dataset[0].collections[4].fields[1].{REF}.field", "'field' is required", "# orders.customer_id",
        id="reference-without-field"),
    pytest.param(
        lambda: sub("""      - name: product
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta:
              primary_key: true
          - name: name
            data_categories: [system.operations]
          - name: price
            data_categories: [system.operations]
""", "      - name: product\n        fields: []\n"),
        "dataset[0].collections[6].fields", "collection 'product' has no fields", "fields: []",
        id="collection-without-fields"),
    pytest.param(
        lambda: sub("""      - name: order_item
        fields:
          - name: id
            data_categories: [system.operations]
""", """      - name: order_item
        fields:
          - name: line_no
            data_categories: [system.operations]
"""),
        "dataset[0].collections[5]", "has no primary key", "- name: order_item", id="no-primary-key"),
    pytest.param(
        lambda: sub("          - name: ccn\n            data_categories:",
                    "          - name: ccn\n            data_categores:"),
        "dataset[0].collections[7].fields[3].data_categores", "did you mean 'data_categories'",
        "data_categores", id="typo-key"),
    pytest.param(
        lambda: sub("""                - dataset: webshop
                  field: customer.id
          - name: time""", """                - dataset: webshop
                  field: customer.id
                  direction: up
          - name: time"""),
        "dataset[0].collections[3].fields[1].fidesops_meta.references[0].direction", "'from' or 'to'",
        "direction: up", id="legacy-fidesops-meta-path"),
    pytest.param(
        lambda: "name: not a dataset\nversion: 2\n",
        "", "not a Fides dataset file", "name: not a dataset", id="not-fides"),
    pytest.param(
        lambda: sub("  - fides_key: webshop_mongo", "  - fides_key: webshop  # was webshop_mongo"),
        "dataset[1].fides_key", "fides_key 'webshop' is also dataset[0]", "# was webshop_mongo", id="dup-key"),
]


@pytest.mark.parametrize("make, path, message, needle", BROKEN)
def test_broken_fides_files_are_reported_precisely(tmp_path, make, path, message, needle):
    text = make()
    problems = problems_of(tmp_path, text)
    p = problem_at(problems, path)
    assert message in p.message, p.message
    assert p.line == line_no(text, needle)


def test_messages_say_what_is_allowed(tmp_path):
    text = sub("data_categories: [user.financial.credit_card]", "data_categories: [user.financial.credit_cards]")
    (p,) = problems_of(tmp_path, text)
    assert "did you mean 'user.financial.credit_card'" in p.message and "default taxonomy" in p.message
    text = sub("field: orders.id", "field: order.id")
    (p,) = problems_of(tmp_path, text)
    assert "its collections: address, customer, employee" in p.message


def test_every_problem_is_reported_at_once(tmp_path):
    text = sub("field: orders.id", "field: order.id",
               sub("data_categories: [user.financial.credit_card]", "data_categories: [user.financial.x]"))
    problems = problems_of(tmp_path, text)
    assert {p.path for p in problems} == {"dataset[0].collections[5].fields[1].fides_meta.references[0].field",
                                          "dataset[0].collections[7].fields[3].data_categories[0]"}


def test_a_fides_system_manifest_is_not_a_dataset():
    with pytest.raises(DataMapError) as info:
        import_fides(FIXTURES / "system.yml", source="main")
    (p,) = info.value.problems
    assert p.path == "" and "not a Fides dataset file" in p.message and "`system:`" in p.message
    assert p.file == str(FIXTURES / "system.yml")


@pytest.mark.parametrize("text, message", [("", "not a Fides dataset file"), ("dataset: []\n", "an empty list"),
                                           ("dataset:\n  - 42\n", "expected a dataset")])
def test_empty_inputs(tmp_path, text, message):
    assert message in problems_of(tmp_path, text)[0].message


def test_a_missing_file(tmp_path):
    with pytest.raises(DataMapError) as info:
        import_fides(tmp_path / "nope.yml", source="main")
    assert "no such file" in info.value.problems[0].message


# ---------------------------------------------------------------------------------------------------------------
# the imported map works: lookup walks the references the way Fides traverses them


def test_lookup_walks_the_imported_references(mini_ws):
    from privacyops.lookup import lookup
    from privacyops.workspace import open_workspace

    root = mini_ws.root
    fragment = import_fides(WEBSHOP, source="main", purposes=["service"])
    (root / "privacyops.yaml").write_text(merge_into((root / "privacyops.yaml").read_text(), fragment))
    con = duckdb.connect(str(root / "main.duckdb"))
    con.execute("""CREATE SCHEMA store;
    CREATE TABLE store.address (id INT, street VARCHAR, city VARCHAR, postal_code VARCHAR, country VARCHAR);
    INSERT INTO store.address VALUES (1, 'Brivibas 1', 'Riga', 'LV-1010', 'LV'),
                                     (2, 'Skolas 2', 'Riga', 'LV-1011', 'LV');
    CREATE TABLE store.customer (id INT, email VARCHAR, phone VARCHAR, loyalty_no VARCHAR, name VARCHAR,
                                 address_id INT, created DATE);
    INSERT INTO store.customer VALUES (10, 'anna@shop.example', '+371 2600 0001', 'L-1', 'Anna Ozola', 1, NULL),
                                      (11, 'peteris@shop.example', '+371 2600 0002', 'L-2', 'Peteris Liepa', 2, NULL);
    CREATE TABLE store.employee (id INT, email VARCHAR, name VARCHAR, address_id INT, manager_id INT);
    CREATE TABLE store.login (id INT, customer_id INT, time TIMESTAMP, ip VARCHAR);
    INSERT INTO store.login VALUES (1, 10, NULL, '10.0.0.1'), (2, 11, NULL, '10.0.0.2'), (3, 10, NULL, '10.0.0.3');
    CREATE TABLE store.orders (id INT, customer_id INT, shipping_address_id INT, created_at DATE);
    INSERT INTO store.orders VALUES (100, 10, 1, NULL), (101, 10, 1, NULL), (102, 11, 2, NULL);
    CREATE TABLE store.order_item (id INT, order_id INT, product_id INT, quantity INT);
    INSERT INTO store.order_item VALUES (1000, 100, 7, 1), (1001, 101, 8, 2), (1002, 102, 7, 1);
    CREATE TABLE store.product (id INT, name VARCHAR, price DOUBLE);
    INSERT INTO store.product VALUES (7, 'Pen', 1.5), (8, 'Book', 12.0), (9, 'Lamp', 30.0);
    CREATE TABLE store.payment_card (id INT, customer_id INT, billing_address_id INT, ccn VARCHAR, holder VARCHAR,
                                     preferred BOOLEAN);
    INSERT INTO store.payment_card VALUES (1, 10, 1, '4111111111111111', 'ANNA OZOLA', true),
                                          (2, 11, 2, '5500000000000004', 'P LIEPA', true);
    CREATE TABLE store.service_request (id INT, email VARCHAR, alt_email VARCHAR, employee_id INT, opened DATE,
                                        closed DATE);
    CREATE TABLE customer_details (_id VARCHAR, customer_id INT, birthday DATE, gender VARCHAR,
                                   emergency_contact STRUCT(name VARCHAR, phone VARCHAR), device_id VARCHAR);
    INSERT INTO customer_details VALUES ('a', 10, NULL, NULL, {'name': 'Janis', 'phone': '+371 2000 9999'}, 'd-1'),
                                        ('b', 11, NULL, NULL, NULL, 'd-2');
    """)
    con.close()
    r = lookup(open_workspace(root), "+371 2600 0001")
    assert r.status == "found"

    def got(name):
        return sorted(k[0] for k in r.records[name].keys()) if name in r.records else []

    assert got("webshop.customer") == [10]
    assert got("webshop.orders") == [100, 101]  # from: orders belong to the customer
    assert got("webshop.order_item") == [1000, 1001]  # from: items belong to the orders
    assert got("webshop.address") == [1]  # to: the customer's address belongs to the customer
    assert got("webshop.login") == [1, 3]  # no direction, read as from
    assert got("webshop.payment_card") == [1]
    assert got("webshop_mongo.customer_details") == ["a"]  # across Fides datasets
    assert 9 not in got("webshop.product")  # nobody's product is walked into
