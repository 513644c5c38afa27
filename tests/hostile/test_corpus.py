"""The hostile corpus against the command line: no traceback, the right exit codes, refused inputs write nothing,
accepted inputs checked against SQL and the files on disk (tests/hostile/harness.py)."""

from __future__ import annotations

import collections

import pytest

from tests.hostile.corpus import CORPUS, REFUSE
from tests.hostile.harness import run_corpus, targets


def test_corpus_is_large_and_covers_every_hazard():
    assert len(CORPUS) >= 250
    assert len({e.label for e in CORPUS}) == len(CORPUS)
    flags = collections.Counter(f for e in CORPUS for f in e.flags)
    assert set(flags) == set(REFUSE), flags
    labels = " ".join(e.label for e in CORPUS)
    for needed in ("fullwidth 1", "arabic-indic 1", "underscore 1_0", "spaced 1", "plus 1", "minus 1", "exponent 1e3",
                   "1 MB of x", "sql drop", "traversal", "formula cmd", "plus hyperlink", "script", "brace 0",
                   "percent s", "emoji", "empty", "yaml python tag", "RTL override", "zero-width space",
                   "combining acute", "byte ff", "lone high surrogate", "nul inside"):
        assert needed in labels


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return run_corpus(tmp_path_factory.mktemp("hostile"))


def _report(bad) -> str:
    return "\n".join(f"{o.target} <- {o.entry.label}: {o.problem}" for o in bad[:40])


@pytest.mark.slow
def test_no_traceback_anywhere(outcomes):
    assert len(outcomes) > 1500
    tracebacks = [o for o in outcomes if o.traceback]
    assert not tracebacks, _report(tracebacks)


@pytest.mark.slow
def test_inputs_that_must_be_refused_are_refused_and_write_nothing(outcomes):
    refused = [o for o in outcomes if o.refused]
    assert len(refused) > 1000
    assert all(o.exit_code == 2 for o in refused if not o.problem)
    bad = [o for o in refused if o.problem]
    assert not bad, _report(bad)


@pytest.mark.slow
def test_accepted_inputs_pass_their_ground_truth_checks(outcomes):
    accepted = [o for o in outcomes if not o.refused]
    assert len(accepted) >= 150
    bad = [o for o in accepted if o.problem]
    assert not bad, _report(bad)


@pytest.mark.slow
def test_every_target_sees_refused_and_accepted_inputs(outcomes):
    names = {t.name for t in targets()}
    assert {o.target for o in outcomes if o.refused} == names
    kinds = {t.name: t.kind for t in targets()}
    accepted_on = {o.target for o in outcomes if not o.refused}
    assert accepted_on == {n for n, k in kinds.items() if k != "date"}  # a date option refuses every entry
