"""The letter speaks to the subject, not to the DPO: on the demo, Chinook and Northwind (PostgreSQL) it names no
dataset id, no storage detail, no field name of the map and no credential; it greets the person in natural case
however their name is stored; and what their rows point at (the product bought, the track) is named, in the letter
and beside the key in the CSV. Every expectation comes from SQL on the data or from the map file's text, never from
privacyops' own reading."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import duckdb
import pytest
import yaml

from privacyops.access import export_subject
from privacyops.access.plan import credential_field
from privacyops.access.wording import natural_case
from privacyops.map import parse_datamap
from privacyops.workspace import open_workspace
from tests.support import chinook as ck
from tests.support import northwind as nw
from tests.support import pg as pgserver
from tests.support.demo import JANIS, access_case, archive_files

STORAGE = re.compile(r"\b(parquet|csv|duckdb|sqlite|postgres(ql)?|chunks?|tables?|columns?)\b|\bsource\s*=",
                     re.IGNORECASE)
# An identifier as a map writes it, not a word: snake_case, CamelCase, a dotted id (crm.customers).
IDENTIFIER = re.compile(r"_|[a-z][A-Z]|\.")


class Text(HTMLParser):
    """The letter as its reader sees it: the text of every element but the style sheet, no attributes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._style = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._style = self._style or tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._style = False

    def handle_data(self, data):
        if not self._style:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def csv_dicts(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def map_names(map_text: str) -> tuple[set[str], set[str]]:
    """(dataset ids, field names) as the map file writes them, read with plain YAML: the ones that are identifiers
    rather than words (`crm.customers`, `InvoiceLine`, `password_hash`; not `email` or `Customer`)."""
    raw = yaml.safe_load(map_text)
    datasets, fields = set(), set()
    for name, spec in raw["datasets"].items():
        datasets.add(name)
        keys = spec.get("primary_key")
        cols = set(spec.get("fields") or {}) | set(spec.get("references") or {})
        cols |= set(keys if isinstance(keys, list) else [keys])
        fields |= cols
    return {d for d in datasets if IDENTIFIER.search(d)}, {f for f in fields if IDENTIFIER.search(f)}


def export(ws, identifier: str) -> tuple[str, dict[str, bytes], dict]:
    """(the letter's text, every file of the archive, data.json) for one subject's access request."""
    result = export_subject(ws, access_case(ws), identifier)
    files = archive_files(result.path, result.password)
    text = Text(files["report.html"].decode("utf-8")).text
    # The archive's own file names are what they are (csv/...): the words around them are checked.
    for name in sorted(files, key=len, reverse=True):
        text = text.replace(name, " ")
    text = text.replace("csv/", " ")
    return text, files, json.loads(files["data.json"])


def assert_subject_facing(text: str, map_text: str, secrets: list[str], files: dict[str, bytes]) -> None:
    datasets, fields = map_names(map_text)
    assert datasets and fields
    leaked_ids = sorted(d for d in datasets if d in text)
    assert not leaked_ids, leaked_ids
    assert not STORAGE.search(text), STORAGE.search(text).group(0)
    leaked_fields = sorted(f for f in fields if re.search(rf"(?<![\w.]){re.escape(f)}(?![\w])", text))
    assert not leaked_fields, leaked_fields
    for secret in secrets:  # a login secret's value: in no file of the archive
        assert secret and not any(secret.encode() in data for data in files.values())


def csv_of(files: dict[str, bytes], data: dict, dataset: str) -> list[dict[str, str]]:
    return csv_dicts(files[data["datasets"][dataset]["csv"]])


def test_natural_case():
    assert natural_case("ELEANOR HUNT") == "Eleanor Hunt"
    assert natural_case("o'neil") == "O'Neil"
    assert natural_case("jan van der berg") == "Jan van der Berg"
    assert natural_case("ANNA ĀBOLIŅA-BĒRZIŅA") == "Anna Āboliņa-Bērziņa"
    assert natural_case("Jānis Bērziņš") == "Jānis Bērziņš"  # already natural: as it is
    assert natural_case("DeShawn McDonald") == "DeShawn McDonald"  # mixed case is the person's own spelling


# ---------------------------------------------------------------------------------------------------------------
# The demo (DuckDB + Parquet).


def test_demo_letter_speaks_to_the_subject(demo_ws):
    db = demo_ws.root / "company.duckdb"
    con = duckdb.connect(str(db))
    con.execute("UPDATE crm.customers SET full_name = upper(full_name) WHERE customer_id = ?", [JANIS["customer_id"]])
    secrets = [r[0] for r in con.execute("SELECT password_hash FROM app.user_accounts WHERE customer_id = ?",
                                         [JANIS["customer_id"]]).fetchall()]
    con.close()
    ws = open_workspace(demo_ws.root)
    text, files, data = export(ws, JANIS["email"])
    map_text = (ws.root / "privacyops.yaml").read_text(encoding="utf-8")
    assert_subject_facing(text, map_text, secrets, files)
    assert f"Dear {JANIS['full_name']}," in text  # stored as JĀNIS BĒRZIŅŠ
    assert "password" in text and "not shown" in text  # one plain sentence says the login secret is kept
    assert "Parquet" not in text and "partner_import" not in text
    # An invoice line names its product: beside product_id in the CSV, and in the letter's list.
    lines = csv_of(files, data, "billing.invoice_lines")
    con = duckdb.connect(str(db), read_only=True)
    names = dict(con.execute("SELECT CAST(product_id AS VARCHAR), name FROM catalog.products").fetchall())
    con.close()
    assert lines and all(r["product"] == names[r["product_id"]] for r in lines)
    assert list(lines[0]).index("product") == list(lines[0]).index("product_id") + 1
    assert names[lines[0]["product_id"]] in text


# ---------------------------------------------------------------------------------------------------------------
# Chinook (DuckDB, built from the public SQLite file).


@pytest.fixture()
def chinook(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    root = tmp_path / "chinook"
    root.mkdir()
    ck.duckdb_build.build(root, ck.SQLITE)
    return root


def test_chinook_letter_names_the_tracks(chinook):
    db = chinook / "chinook.duckdb"
    con = duckdb.connect(str(db))
    customer_id, first, last, email = con.execute(
        'SELECT "CustomerId", "FirstName", "LastName", "Email" FROM "Customer" ORDER BY "CustomerId" LIMIT 1').fetchone()
    con.execute('UPDATE "Customer" SET "FirstName" = upper("FirstName"), "LastName" = lower("LastName") '
                'WHERE "CustomerId" = ?', [customer_id])
    tracks = dict(con.execute('SELECT CAST("TrackId" AS VARCHAR), "Name" FROM "Track"').fetchall())
    con.close()
    ws = open_workspace(chinook)
    text, files, data = export(ws, email)
    assert_subject_facing(text, (chinook / "privacyops.yaml").read_text(encoding="utf-8"), [], files)
    assert f"Dear {first} {last}," in text
    lines = csv_of(files, data, "InvoiceLine")
    assert lines and all(r["track"] == tracks[r["TrackId"]] for r in lines)
    assert tracks[lines[0]["TrackId"]] in text


# ---------------------------------------------------------------------------------------------------------------
# Northwind (PostgreSQL).


@pytest.fixture()
def northwind(postgres_dsn, tmp_path, monkeypatch):
    with pgserver.database(postgres_dsn, "northwind_letter") as dsn:
        nw.loader.load(dsn, nw.SCRIPT)
        monkeypatch.setenv(nw.DSN_ENV, dsn)
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
        ws = open_workspace(nw.workspace(tmp_path / "ws"))
        with nw.SQL(dsn) as sql:
            yield ws, sql
        ws.close()


@pytest.mark.slow
def test_northwind_letter_names_the_products(northwind):
    ws, sql = northwind
    (customer,) = sql.rows("SELECT customer_id, contact_name FROM customers WHERE customer_id IN "
                           "(SELECT customer_id FROM orders) ORDER BY customer_id LIMIT 1")
    sql.rows("UPDATE customers SET contact_name = upper(contact_name) WHERE customer_id = %s RETURNING 1",
             [customer["customer_id"]])
    products = {str(r["product_id"]): r["product_name"] for r in sql.rows("SELECT product_id, product_name "
                                                                          "FROM products")}
    shippers = {str(r["shipper_id"]): r["company_name"] for r in sql.rows("SELECT shipper_id, company_name "
                                                                          "FROM shippers")}
    text, files, data = export(ws, customer["customer_id"])
    assert_subject_facing(text, nw.MAP.read_text(encoding="utf-8"), [], files)
    assert f"Dear {customer['contact_name']}," in text
    lines = csv_of(files, data, "order_details")
    assert lines and all(r["product"] == products[r["product_id"]] for r in lines)
    assert products[lines[0]["product_id"]] in text
    orders = csv_of(files, data, "orders")
    assert orders and all(r["shipped by"] == shippers[r["ship_via"]] for r in orders if r["ship_via"])


def test_a_label_must_not_show_a_persons_data():
    text = (ck.CHINOOK / "privacyops.yaml").read_text(encoding="utf-8")
    bad = text.replace("    label: [Name]", "    label: [Name, Composer]").replace(
        "  Employee:\n    source: chinook\n", "  Employee:\n    source: chinook\n    label: [LastName]\n")
    with pytest.raises(Exception, match="label field 'LastName' is a person's data"):
        parse_datamap(bad)
    parse_datamap(text.replace("    label: [Name]", "    label: [AlbumId.Title]"))  # through a reference: fine
    with pytest.raises(Exception, match="'Nope' is not a field of Album"):
        parse_datamap(text.replace("    label: [Name]", "    label: [AlbumId.Nope]"))



def test_without_for_subject_the_letter_still_speaks_plainly(demo_ws):
    """The fallback: a plain description's head (its storage remark dropped), else the name in words."""
    path = demo_ws.root / "privacyops.yaml"
    map_text = re.sub(r"(?m)^    for_subject: .*\n", "", path.read_text(encoding="utf-8"))
    assert "for_subject" not in map_text
    path.write_text(map_text, encoding="utf-8")
    ws = open_workspace(demo_ws.root)
    text, files, data = export(ws, JANIS["email"])
    assert_subject_facing(text, map_text, [], files)
    assert "Web and application usage events" in text  # "(Parquet, one file per generation chunk)" dropped
    # Its description's first clause; the rest names a dataset and a field (crm.customers.delivery_address_id).
    assert "Where hardware (card readers, POS terminals) and paper invoices are delivered" in text
    assert data["datasets"]["web.analytics_events"]["csv"] == "csv/web-and-application-usage-events.csv"


def test_login_secrets_by_category_or_by_name():
    assert credential_field("pin", ["user.authorization.credentials"])
    assert credential_field("anything", ["user.authorization"])
    for name in ("password_hash", "PasswordHash", "api_token", "reset_token", "totp_secret", "salt", "api_key"):
        assert credential_field(name, ["system.operations"]), name
    for name in ("customer_id", "hashtag", "tokenised_at", "email", "TrackId"):
        assert not credential_field(name, ["system.operations"]), name


def test_labels_through_a_reference_and_the_fallback_through_reference_data(chinook):
    """`label: [Name, AlbumId.Title]` names a track and its album; with no label and no text field of its own, a
    track is named by what it points at (its album's title)."""
    con = duckdb.connect(str(chinook / "chinook.duckdb"), read_only=True)
    email = con.execute('SELECT "Email" FROM "Customer" ORDER BY "CustomerId" LIMIT 1').fetchone()[0]
    tracks = {str(t): (n, a) for t, n, a in con.execute(
        'SELECT t."TrackId", t."Name", a."Title" FROM "Track" t JOIN "Album" a USING ("AlbumId")').fetchall()}
    con.close()
    path = chinook / "privacyops.yaml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("    label: [Name]", "    label: [Name, AlbumId.Title]"), encoding="utf-8")
    _text, files, data = export(open_workspace(chinook), email)
    lines = csv_of(files, data, "InvoiceLine")
    assert lines and all(r["track"] == ", ".join(tracks[r["TrackId"]]) for r in lines)

    no_text = re.sub(r"(?m)^    label: \[Name\].*\n|^      (Name|Composer): .*\n(?=(      \w+: .*\n)*\n  Album:)", "",
                     original)
    assert "Composer" not in no_text and "label: [Name]" not in no_text
    path.write_text(no_text, encoding="utf-8")
    _text, files, data = export(open_workspace(chinook), email)
    lines = csv_of(files, data, "InvoiceLine")
    assert lines and all(r["track"] == tracks[r["TrackId"]][1] for r in lines)
