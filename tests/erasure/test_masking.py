"""Masking strategies and what stores allow: NULL where allowed, the redaction text where the column is NOT NULL
text, keyed pseudonyms that link equal values and fit VARCHAR(n); declared foreign keys found in each store."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from privacyops.erasure.masking import (
    HMAC,
    NULL,
    REDACT,
    REDACTED,
    VALUE,
    ColumnInfo,
    NoMaskedValue,
    column_info,
    fk_matches,
    foreign_keys,
    masked_value,
    pseudonym,
)
from privacyops.map import parse_datamap
from privacyops.sources import open_source
from tests.support import pg as pgserver

SECRET = b"k" * 32
TEXT = ColumnInfo("text")
TEXT_NN = ColumnInfo("text", nullable=False)
DATE = ColumnInfo("date")
INT_NN = ColumnInfo("integer", nullable=False)


def test_strategies_on_nullable_text():
    assert masked_value(NULL, "Jānis", TEXT, SECRET) == (None, NULL, None)
    assert masked_value(REDACT, "Jānis", TEXT, SECRET) == (REDACTED, REDACT, None)
    value, strategy, note = masked_value(HMAC, "Jānis", TEXT, SECRET)
    assert strategy == HMAC and note is None and value.startswith("ps-") and len(value) == 19
    assert "Jānis" not in value
    assert masked_value(None, "x", TEXT, SECRET) == (None, NULL, None)  # default: NULL


def test_pseudonyms_link_equal_values_only_under_one_key():
    assert pseudonym(SECRET, "Jānis Bērziņš") == pseudonym(SECRET, "Jānis Bērziņš")
    assert pseudonym(SECRET, "Jānis Bērziņš") != pseudonym(SECRET, "Janis Berzins")
    assert pseudonym(SECRET, "Jānis Bērziņš") != pseudonym(b"o" * 32, "Jānis Bērziņš")


def test_not_null_text_gets_the_redaction_text_and_a_note():
    value, strategy, note = masked_value(NULL, "Jānis", TEXT_NN, SECRET)
    assert (value, strategy) == (REDACTED, REDACT) and "NULL" in note
    assert masked_value(None, "Jānis", TEXT_NN, SECRET)[:2] == (REDACTED, REDACT)


def test_text_strategies_on_other_types_fall_back_to_null():
    value, strategy, note = masked_value(REDACT, "2020-01-01", DATE, SECRET)
    assert (value, strategy) == (None, NULL) and "text" in note
    assert masked_value(HMAC, 5, DATE, SECRET)[:2] == (None, NULL)


def test_not_null_non_text_cannot_be_masked_and_says_why():
    with pytest.raises(NoMaskedValue) as exc:
        masked_value(NULL, 42, INT_NN, SECRET)
    assert "does not allow NULL" in str(exc.value) and "needs a text column" in str(exc.value)


def test_a_placeholder_is_the_value_when_it_fits_the_column():
    assert masked_value(VALUE, 42, INT_NN, SECRET, placeholder="0") == (0, VALUE, None)
    with pytest.raises(NoMaskedValue, match="outside the range of smallint"):
        masked_value(VALUE, 42, ColumnInfo("integer", type="smallint"), SECRET, placeholder=70000)
    with pytest.raises(NoMaskedValue, match="UNIQUE"):
        masked_value(VALUE, "x", ColumnInfo("text", unique=True), SECRET, placeholder="n/a")


def test_values_are_never_cut_to_fit_except_a_long_enough_pseudonym():
    short = ColumnInfo("text", max_length=5)
    assert masked_value(REDACT, "Bērziņš", short, SECRET)[:2] == (None, NULL)  # "[erased]" does not fit: NULL
    with pytest.raises(NoMaskedValue, match="does not fit"):
        masked_value(REDACT, "Bērziņš", ColumnInfo("text", nullable=False, max_length=5), SECRET)
    eleven = ColumnInfo("text", max_length=11)
    value, strategy, _ = masked_value(HMAC, "Bērziņš", eleven, SECRET)
    assert (value, strategy) == (pseudonym(SECRET, "Bērziņš")[:11], HMAC)  # ps- and 8 hex digits still link
    assert masked_value(HMAC, value, eleven, SECRET)[0] == value  # masking the cut pseudonym again changes nothing
    assert masked_value(HMAC, "Bērziņš", ColumnInfo("text", max_length=10), SECRET)[:2] == (None, NULL)
    with pytest.raises(NoMaskedValue):
        masked_value(None, "Bērziņš", ColumnInfo("text", nullable=False, max_length=7), SECRET)


def test_a_unique_not_null_column_gets_a_pseudonym_never_the_shared_redaction_text():
    unique = ColumnInfo("text", nullable=False, unique=True)
    a, strategy, note = masked_value(None, "a@x.example", unique, SECRET)
    b = masked_value(REDACT, "b@x.example", unique, SECRET)[0]
    assert strategy == HMAC and a != b and a.startswith("ps-") and "UNIQUE" in note
    with pytest.raises(NoMaskedValue, match="UNIQUE"):  # a cut pseudonym is not unique enough
        masked_value(None, "a@x.example", ColumnInfo("text", nullable=False, unique=True, max_length=12), SECRET)


def test_the_stores_checks_decide_between_candidates():
    def no_redaction(value):
        return "CHECK (note <> '[erased]')" if value == REDACTED else None

    value, strategy, note = masked_value(REDACT, "secret", TEXT_NN, SECRET, checks=no_redaction)
    assert strategy == HMAC and value.startswith("ps-") and "CHECK (note <> '[erased]')" in note


def test_null_stays_null():
    assert masked_value(HMAC, None, TEXT, SECRET) == (None, HMAC, None)


FK_MAP = """
version: 1
organisation: {name: O, contact: p@o.example, authority: {name: A, country: LV}}
purposes: {s: {description: S, legal_basis: contract}}
sources: {db: {kind: %s, path: %s, location: LV}}
datasets:
  parent:
    source: db
    subject: person
    primary_key: id
    identities: {email: email}
    purposes: [s]
    fields: {email: user.contact.email, name: user.name}
  child:
    source: db
    primary_key: id
    references: {parent_id: parent.id}
    purposes: [s]
    fields: {note: user.content}
"""


def test_sqlite_reports_not_null_lengths_and_foreign_keys(tmp_path):
    path = tmp_path / "db.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE parent (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name VARCHAR(20));"
                      "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), "
                      "note TEXT);")
    con.close()
    dm = parse_datamap(FK_MAP % ("sqlite", "db.sqlite"))
    src = open_source(dm.sources["db"], tmp_path)
    info = column_info(src, dm.datasets["parent"])
    assert info["email"] == ColumnInfo("text", nullable=False)
    assert info["name"].nullable and info["name"].family == "text"
    assert info["id"].nullable is False  # a primary key
    fks = foreign_keys(src, dm.datasets["child"])
    assert [(f.column, f.ref_column) for f in fks] == [("parent_id", "id")]
    assert fk_matches(fks[0], src, dm.datasets["parent"])
    assert foreign_keys(src, dm.datasets["parent"]) == []
    src.close()


def test_duckdb_reports_not_null_and_foreign_keys(tmp_path):
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY, email VARCHAR NOT NULL, name VARCHAR)")
    con.execute("CREATE TABLE child (id INTEGER, parent_id INTEGER REFERENCES parent(id), note VARCHAR)")
    con.close()
    dm = parse_datamap(FK_MAP % ("duckdb", "db.duckdb"))
    src = open_source(dm.sources["db"], tmp_path)
    assert column_info(src, dm.datasets["parent"])["email"].nullable is False
    assert column_info(src, dm.datasets["parent"])["name"].nullable is True
    fks = foreign_keys(src, dm.datasets["child"])
    assert [(f.column, f.ref_table, f.ref_column) for f in fks] == [("parent_id", "parent", "id")]
    assert fk_matches(fks[0], src, dm.datasets["parent"])
    src.close()


@pytest.fixture()
def pg_src(postgres_dsn, tmp_path, monkeypatch):
    import psycopg

    with pgserver.database(postgres_dsn, "mask") as dsn:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("CREATE TABLE parent (id INT PRIMARY KEY, email VARCHAR(60) NOT NULL, name VARCHAR(20))")
            con.execute("CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES parent(id), note TEXT)")
        monkeypatch.setenv("MASK_DSN", dsn)
        dm = parse_datamap((FK_MAP % ("postgres", "x")).replace("path: x,", "dsn_env: MASK_DSN,"))
        src = open_source(dm.sources["db"], tmp_path)
        yield dm, src
        src.close()


@pytest.mark.slow
def test_postgres_reports_not_null_lengths_and_foreign_keys(pg_src):
    dm, src = pg_src
    info = column_info(src, dm.datasets["parent"])
    assert info["email"] == ColumnInfo("text", nullable=False, max_length=60)
    assert info["name"] == ColumnInfo("text", nullable=True, max_length=20)
    fks = foreign_keys(src, dm.datasets["child"])
    assert [(f.column, f.ref_table, f.ref_column) for f in fks] == [("parent_id", "public.parent", "id")]
    assert fk_matches(fks[0], src, dm.datasets["parent"])


def test_masking_twice_changes_nothing():
    once = masked_value(HMAC, "Jānis", TEXT, SECRET)[0]
    assert masked_value(HMAC, once, TEXT, SECRET)[0] == once
    assert masked_value(REDACT, REDACTED, TEXT, SECRET)[0] == REDACTED
