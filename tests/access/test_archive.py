"""The archive as the subject gets it: one AES-256 zip that Debian's 7-Zip opens with the password and only with it;
the manifest's checksums match; the generated password is strong, readable and stored nowhere."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from privacyops.access import archive, export_subject
from privacyops.ledger import audit
from privacyops.lookup import lookup
from tests.support.demo import JANIS, PASSWORD_RE, access_case, all_bytes, csv_rows, ledger_rows, sql

SEVEN_ZIP = shutil.which("7z") or "/usr/bin/7z"


def seven_zip(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    if not Path(SEVEN_ZIP).is_file():
        pytest.fail("7z not found: install Debian's p7zip-full (./run test does)")
    return subprocess.run([SEVEN_ZIP, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=60, cwd=cwd)


@pytest.fixture()
def exported(demo_ws):
    result = export_subject(demo_ws, access_case(demo_ws), JANIS["email"])
    return demo_ws, result


@pytest.mark.slow
def test_7z_extracts_the_archive_with_the_password_and_the_contents_match(exported, tmp_path):
    ws, result = exported
    out = tmp_path / "x"
    proc = seven_zip("x", f"-p{result.password}", f"-o{out}", str(result.path))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    expected = lookup(ws, JANIS["email"], audit_log=False)
    data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    csvs = {data["datasets"][name]["csv"] for name in expected.records}
    assert len(csvs) == len(expected.records) and all(c.startswith("csv/") for c in csvs)
    got = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert got == {"report.html", "data.json", "manifest.json"} | csvs

    listing = seven_zip("l", "-slt", f"-p{result.password}", str(result.path)).stdout
    methods = re.findall(r"^Method = (.+)$", listing, re.M)
    assert len(methods) == len(got) and set(methods) == {"AES-256 Deflate"}
    assert re.findall(r"^Encrypted = (.+)$", listing, re.M) == ["+"] * len(got)

    data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    customer = sql(ws.root, "SELECT customer_id, full_name, email, phone FROM crm.customers WHERE customer_id = ?",
                   [JANIS["customer_id"]])[0]
    (record,) = data["datasets"]["crm.customers"]["records"]
    assert (record["customer_id"], record["full_name"], record["email"], record["phone"]) == customer
    for name, recs in expected.records.items():
        rows = list(csv_rows((out / data["datasets"][name]["csv"]).read_bytes()))
        assert len(rows) - 1 == recs.count == data["datasets"][name]["count"], name
    invoices = sql(ws.root, "SELECT invoice_no FROM billing.invoices WHERE customer_id = ? ORDER BY invoice_id",
                   [JANIS["customer_id"]])
    rows = list(csv_rows((out / data["datasets"]["billing.invoices"]["csv"]).read_bytes()))
    col = rows[0].index("invoice_no")
    assert [r[col] for r in rows[1:]] == [i for (i,) in invoices]
    assert "Jānis Bērziņš" in (out / data["datasets"]["crm.customers"]["csv"]).read_text(encoding="utf-8-sig")
    letter = (out / "report.html").read_text(encoding="utf-8")
    assert letter.startswith("<!DOCTYPE html>") and JANIS["full_name"] in letter


def test_manifest_checksums_match_the_extracted_files(exported, tmp_path):
    ws, result = exported
    out = tmp_path / "x"
    assert seven_zip("x", f"-p{result.password}", f"-o{out}", str(result.path)).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["files"]) == set(files)
    for name, p in files.items():
        content = p.read_bytes()
        assert manifest["files"][name] == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
    case_id = result.case_id
    assert manifest["case_id"] == case_id and manifest["export_id"] == result.export_id
    assert manifest["map_fingerprint"] == ws.datamap.fingerprint
    from privacyops import __version__

    assert manifest["privacyops_version"] == __version__
    assert manifest["generated_at"].startswith(result.created_at.date().isoformat())


@pytest.mark.slow
def test_7z_refuses_a_wrong_password_and_no_password(exported, tmp_path):
    ws, result = exported
    wrong = seven_zip("t", "-pnot-the-password-123", str(result.path))
    assert wrong.returncode != 0 and "Wrong password" in wrong.stdout + wrong.stderr
    flipped = result.password[:-1] + ("0" if result.password[-1] != "0" else "1")
    assert seven_zip("t", f"-p{flipped}", str(result.path)).returncode != 0
    out = tmp_path / "none"
    nopw = seven_zip("x", f"-o{out}", str(result.path))  # no -p, stdin closed: 7z cannot get a password
    assert nopw.returncode != 0
    extracted = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert all(p.stat().st_size == 0 for p in extracted)  # at most an empty placeholder, never content
    # Without the password the bytes show nothing personal: names, e-mails, messages are all encrypted.
    raw = result.path.read_bytes()
    for value in (JANIS["full_name"], JANIS["email"], JANIS["phone"], "Brīvības"):
        assert value.encode() not in raw


def test_the_password_is_not_in_the_ledger_the_audit_log_or_any_workspace_file(exported):
    ws, result = exported
    pw = result.password.encode()
    words = result.password.split("-")
    for path, content in all_bytes(ws.root):
        assert pw not in content, path
        assert "-".join(words[:3]).encode() not in content, path  # no part of it either
    rows = ledger_rows(ws, "SELECT * FROM exports") + ledger_rows(ws, "SELECT * FROM audit_log") + \
        ledger_rows(ws, "SELECT * FROM cases")
    assert result.password not in json.dumps(rows, default=str)
    assert all(result.password not in json.dumps(audit.as_dict(e)) for e in audit.entries(ws))


def test_generated_passwords_are_strong_and_easy_to_read_out():
    words = archive.word_list()
    assert len(words) == len(set(words)) >= 2048
    assert all(re.fullmatch(r"[a-z]{3,9}", w) for w in words)
    offensive = {"kill", "gun", "sex", "drug", "hate", "nazi", "porn", "bomb", "dead", "die", "slut", "damn",
                 "hell", "crap", "shit", "fuck", "bitch", "ass", "cock", "dick", "rape", "murder", "weapon"}
    assert not offensive & set(words)
    assert not {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "zero"} & set(words)
    bits = 6 * math.log2(len(set(words))) + math.log2(900)
    assert bits >= 70 and archive.password_bits() == pytest.approx(bits)
    made = [archive.generate_password() for _ in range(200)]
    assert len(set(made)) == 200
    for pw in made:
        assert PASSWORD_RE.match(pw)
        *ws, number = pw.split("-")
        assert all(w in words for w in ws) and 100 <= int(number) <= 999
    first_words = {pw.split("-")[0] for pw in made}
    assert len(first_words) > 150  # chosen from the whole list, not a few words
    with pytest.raises(ValueError):
        archive.generate_password(words=5)


def test_write_archive_is_atomic_and_owner_only(tmp_path):
    target = tmp_path / "a" / "x.zip"
    size, digest = archive.write_archive(target, {"a.txt": b"hello"}, "long enough password 1")
    assert target.stat().st_mode & 0o777 == 0o600
    assert size == target.stat().st_size and digest == hashlib.sha256(target.read_bytes()).hexdigest()
    assert [p.name for p in target.parent.iterdir()] == ["x.zip"]  # no temporary file left
    assert archive.read_archive(target, "long enough password 1") == {"a.txt": b"hello"}
    with pytest.raises(ValueError):
        archive.write_archive(tmp_path / "y.zip", {"a.txt": b"x"}, "")
