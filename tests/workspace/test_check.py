"""`check_workspace`: the validated map against the live sources (tables, columns, types) and policy warnings."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from privacyops.workspace import check_workspace, open_workspace
from tests.support.mini import MINI_MAP


def alter(ws, *statements: str) -> None:
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def line_no(needle: str, text: str = MINI_MAP) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def only_problem_at(report, path: str):
    hits = [p for p in report.problems if p.path == path]
    assert hits, f"no problem at {path}; got {[(p.path, p.message) for p in report.problems]}"
    return hits[0]


def test_mini_workspace_is_ok(mini_ws):
    report = check_workspace(mini_ws)
    assert report.ok, [str(p) for p in report.problems]
    assert report.problems == []
    assert report.rows == {"people.person": 4, "shop.orders": 5, "shop.order_events": 4, "shop.items": 3,
                           "mail.subscribers": 3}
    d = report.to_dict()
    assert d["ok"] is True and d["problems"] == [] and d["rows"] == report.rows


def test_count_rows_can_be_skipped(mini_ws):
    report = check_workspace(mini_ws, count_rows=False)
    assert report.ok
    assert report.rows == {}


def test_check_closes_the_sources(mini_ws):
    check_workspace(mini_ws)
    # nothing holds main.duckdb: another process (here: a writer connection) can open it
    alter(mini_ws, "CREATE TABLE scratch (x INTEGER)")


@pytest.mark.parametrize("sql, path, fragments, needle", [
    pytest.param("ALTER TABLE shop.orders DROP COLUMN note", "datasets.shop.orders.fields.note",
                 ["column 'note' does not exist in shop.orders", "it has: oid, pid, item_id, ordered_at"],
                 "fields: {note:", id="dropped-field"),
    pytest.param("ALTER TABLE people.person DROP COLUMN tel", "datasets.people.person.fields.tel",
                 ["column 'tel' does not exist"], "      tel: user.contact.phone_number", id="dropped-identity"),
    pytest.param("ALTER TABLE shop.orders DROP COLUMN ordered_at", "datasets.shop.orders.retention",
                 ["column 'ordered_at' does not exist"], "    retention: orders", id="dropped-anchor"),
    pytest.param("ALTER TABLE shop.orders DROP COLUMN pid", "datasets.shop.orders.references.pid",
                 ["column 'pid' does not exist"], "      pid: people.person.pid", id="dropped-reference"),
    pytest.param("ALTER TABLE shop.items RENAME TO goods", "datasets.shop.items",
                 ["shop.items", "does not exist"], "  shop.items:", id="renamed-table"),
    pytest.param("ALTER TABLE shop.orders ALTER ordered_at TYPE VARCHAR", "datasets.shop.orders.retention",
                 ["retention rule 'orders' counts from 'ordered_at'", "VARCHAR", "not a date"],
                 "    retention: orders", id="anchor-varchar"),
    pytest.param("ALTER TABLE shop.orders ALTER pid TYPE VARCHAR", "datasets.shop.orders.references.pid",
                 ["'pid' is VARCHAR but people.person.pid is INTEGER", "cannot match"],
                 "      pid: people.person.pid", id="reference-type-differs"),
    pytest.param("ALTER TABLE shop.items RENAME COLUMN item_id TO id", "datasets.shop.orders.references.item_id",
                 ["'shop.items' has no column 'item_id'"], "item_id: {to: shop.items.item_id", id="target-gone"),
    pytest.param("ALTER TABLE mail.subscribers ALTER address TYPE INTEGER USING sid",
                 "datasets.mail.subscribers.identities.email",
                 ["email column 'address' is INTEGER", "must be text"], "identities: {email: address}",
                 id="email-identity-not-text"),
    pytest.param("ALTER TABLE shop.orders ALTER note TYPE INTEGER USING oid", "datasets.shop.orders.fields.note",
                 ["free-text field 'note' is INTEGER, not text"], "fields: {note:", id="free-text-not-text"),
])
def test_live_mismatch_is_a_problem_with_path_and_line(mini_ws, sql, path, fragments, needle):
    alter(mini_ws, sql)
    report = check_workspace(mini_ws)
    assert not report.ok
    p = only_problem_at(report, path)
    for fragment in fragments:
        assert fragment in p.message, f"{fragment!r} not in {p.message!r}"
    assert p.line == line_no(needle)
    assert p.file == str(mini_ws.root / "privacyops.yaml")
    assert str(p).startswith(f"{mini_ws.root / 'privacyops.yaml'}:{p.line}: {path}: ")
    assert str(p) in report.to_dict()["problems"]
    assert report.to_dict()["ok"] is False


def test_only_the_broken_dataset_is_reported(mini_ws):
    alter(mini_ws, "ALTER TABLE shop.items RENAME TO goods")
    report = check_workspace(mini_ws)
    assert [p.path for p in report.problems] == ["datasets.shop.items"]
    assert "shop.items" not in report.rows
    assert report.rows["people.person"] == 4


def test_missing_source_folder_is_a_problem_not_a_crash(mini_ws):
    shutil.rmtree(mini_ws.root / "files")
    report = check_workspace(mini_ws)
    assert not report.ok
    p = only_problem_at(report, "datasets.shop.order_events")
    assert "folder" in p.message and "not found" in p.message
    assert "sources.files.path" in p.message
    assert p.line == line_no("  shop.order_events:")
    assert [q.path for q in report.problems] == ["datasets.shop.order_events"]
    assert report.rows["shop.orders"] == 5  # the other source is still checked


def test_missing_parquet_files_are_a_problem(mini_ws):
    (mini_ws.root / "files" / "events" / "part-0.parquet").unlink()
    report = check_workspace(mini_ws)
    p = only_problem_at(report, "datasets.shop.order_events")
    assert "no parquet files match" in p.message


def test_missing_database_file_is_a_problem_per_dataset(mini_ws):
    (mini_ws.root / "main.duckdb").unlink()
    report = check_workspace(mini_ws)
    assert sorted(p.path for p in report.problems) == sorted(
        ["datasets.people.person", "datasets.shop.orders", "datasets.shop.items", "datasets.mail.subscribers"])
    assert all("not found" in p.message for p in report.problems)


def test_warning_for_a_non_eu_source(mini_ws):
    assert not any("outside the EU/EEA" in w for w in check_workspace(mini_ws).warnings)  # DE is in the EU
    (mini_ws.root / "privacyops.yaml").write_text(MINI_MAP.replace("location: DE", "location: US"))
    ws = open_workspace(mini_ws.root)
    report = check_workspace(ws)
    assert report.ok
    outside = [w for w in report.warnings if "outside the EU/EEA" in w]
    assert outside == ["source 'files' is located in US, outside the EU/EEA: a transfer needs safeguards "
                       "(Chapter V GDPR)"]


def test_warning_for_a_non_eu_recipient(mini_ws):
    text = MINI_MAP.replace("sources:\n", "recipients:\n  mailer: {description: Mailer, location: US}\n"
                                          "  eu: {description: EU mailer, location: LV}\nsources:\n")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    report = check_workspace(open_workspace(mini_ws.root))
    assert [w for w in report.warnings if "recipient" in w] == [
        "recipient 'mailer' is located in US, outside the EU/EEA"]


def test_warnings_for_personal_data_without_retention(mini_ws):
    report = check_workspace(mini_ws)
    no_rule = sorted(w.split(":")[0] for w in report.warnings if "no retention rule" in w)
    # shop.orders has a rule; shop.items holds no personal data
    assert no_rule == ["mail.subscribers", "people.person", "shop.order_events"]
    assert report.ok  # warnings are not problems


def test_warning_for_unmapped_columns_of_personal_datasets(mini_ws):
    alter(mini_ws, "ALTER TABLE people.person ADD COLUMN birthday DATE",
          "ALTER TABLE shop.items ADD COLUMN colour VARCHAR")
    report = check_workspace(mini_ws)
    assert report.ok
    unmapped = [w for w in report.warnings if "without a data category" in w]
    assert unmapped == ["people.person: columns without a data category: birthday"]
