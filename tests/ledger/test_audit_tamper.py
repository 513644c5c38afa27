"""Tampering by someone with file access: every kind of rewrite is detected, none ends in a traceback.

Runs the harness of benchmarks/reliability_tamper.py (~120 random mutations over all 15 kinds, a quarter checked
as an auditor would: public key only) and a few targeted cases whose expected finding is known exactly.
"""

from __future__ import annotations

import json
import random
import shutil

import pytest

from benchmarks import reliability_tamper as tamper
from privacyops.ledger import audit


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return tamper.build_template(tmp_path_factory.mktemp("tamper") / "template", entries=30)


@pytest.fixture()
def scratch(template, tmp_path):
    s = tamper.Scratch(template, tmp_path / "scratch")
    s.restore()
    result = audit.verify(s.ws, against=s.held)
    assert result.ok and result.entries == 30 and result.checkpoints == 30, str(result)  # the control
    return s


@pytest.mark.slow
def test_random_mutations_of_every_kind_are_all_detected(scratch):
    rng = random.Random(7)
    kinds = list(tamper.KINDS)
    missed, per_kind = [], {k: 0 for k in kinds}
    for i in range(120):
        kind = kinds[i % len(kinds)]
        detected, said = tamper.attempt(scratch, kind, rng, auditor=rng.random() < 0.25)  # raises on a traceback
        per_kind[kind] += 1
        if not detected:
            missed.append(f"{kind}: {said}")
    assert missed == []
    assert min(per_kind.values()) >= 8


def test_the_harness_counts_an_untouched_log_as_intact(scratch):
    """Control: with a mutation that changes nothing, verify says intact (the harness can fail)."""
    tamper.KINDS["nothing"] = lambda s, rng: None
    try:
        detected, said = tamper.attempt(scratch, "nothing", random.Random(1), auditor=True)
    finally:
        del tamper.KINDS["nothing"]
    assert not detected, said
    assert said.startswith("audit log intact: 30 entries")


def test_forged_append_with_a_recomputed_chain_fails_its_mac(scratch):
    tamper._forge(scratch, random.Random(1), lambda q, h: "0" * 64)
    result = audit.verify(scratch.ws, against=scratch.held)
    assert (result.ok, result.first_broken) == (False, 31)
    assert "MAC" in result.reason


def test_forged_append_without_the_private_key_is_unconfirmed_for_an_auditor(scratch, tmp_path):
    tamper._forge(scratch, random.Random(1), lambda q, h: None, count=2)
    pub = tmp_path / "signing.pub"
    shutil.copyfile(scratch.ws_dir / "keys" / "signing.pub", pub)
    (scratch.ws_dir / "keys" / "signing.key").unlink()
    result = audit.verify(scratch.ws, against=scratch.held, public_key=pub)
    assert not result.ok
    assert result.unconfirmed == (31, 32)
    assert "entries 31..32 are not confirmed by any checkpoint" in result.reason


def test_rolling_the_head_back_is_detected(scratch):
    (scratch.ws_dir / audit.HEAD_FILE).write_text(scratch.tpl["heads"][0])
    result = audit.verify(scratch.ws, against=scratch.held)
    assert not result.ok
    assert "rolled back" in result.reason


def test_truncation_to_an_old_head_is_detected_by_the_held_checkpoints(scratch):
    old = json.loads(scratch.tpl["heads"][1])
    (scratch.ws_dir / audit.HEAD_FILE).write_text(scratch.tpl["heads"][1])
    scratch.sql("DELETE FROM audit_log WHERE seq > ?", [old["seq"]])
    result = audit.verify(scratch.ws, against=scratch.held)
    assert (result.ok, result.first_broken) == (False, old["seq"])
    assert "rolled back" in result.reason
    (scratch.ws_dir / audit.HEAD_FILE).unlink()  # and without any head: the held checkpoints still say it
    result = audit.verify(scratch.ws, against=scratch.held)
    assert not result.ok and "missing" in result.reason


def test_deleting_a_checkpoint_line_is_detected(scratch):
    lines = scratch.held.read_text().splitlines()
    scratch.held.write_text("".join(x + "\n" for i, x in enumerate(lines) if i != 10))
    result = audit.verify(scratch.ws, against=scratch.held)
    assert not result.ok
    assert "checkpoint 11 is missing" in result.reason


def test_garbage_everywhere_ends_in_a_message_not_a_traceback(scratch):
    scratch.ledger.write_bytes(b"\x00garbage" * 100)
    (scratch.ws_dir / audit.HEAD_FILE).write_bytes(b"\xff\xfe")
    scratch.held.write_bytes(b"\x00\x01\x02")
    result = audit.verify(scratch.ws, against=scratch.held)
    assert not result.ok and str(result).startswith("audit log BROKEN")


def test_cli_verify_says_broken_and_exits_5(scratch):
    from click.testing import CliRunner

    from privacyops.cli import main

    scratch.sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    got = CliRunner().invoke(main, ["audit", "verify", "-w", str(scratch.ws_dir), "--against", str(scratch.held)])
    assert got.exit_code == 5
    assert "audit log BROKEN at entry 4" in got.output
    assert "Traceback" not in got.output
