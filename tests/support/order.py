"""The order test files start in under `./run test` (pytest-xdist, a file's tests on one worker): the files that run a
minute or more start first, longest first, so that no worker is left running one of them alone at the end while the
others idle. xdist's own reordering (files with more tests first) is off in ./run (`--no-loadscope-reorder`): it put
the one-test kill file last, and the suite's last ~5 minutes ran it alone.

Only an order: a file missing here still runs (after these), a file listed that no longer exists is ignored — but
tests/test_tiers.py checks each entry names a test file. Measured with `--durations=0` on the 2-core machine."""

from __future__ import annotations

from pathlib import Path

import pytest

LONGEST_FIRST = (
    "tests/ledger/test_audit_kill.py",  # ~90-290 s: a child process killed at each of ~130 ledger statements
    "tests/erasure/test_holds_properties.py",  # ~160 s: hypothesis, plans and executions
    "tests/ui/test_browser_four_eyes.py",  # ~75 s: two JupyterLabs
    "tests/lookup/test_lookup_index.py",
    "tests/erasure/test_parties_properties.py",
    "tests/erasure/test_erasure_properties.py",
    "tests/notebooks/test_notebooks.py",
    "tests/hostile/test_corpus.py",
    "tests/lookup/test_lookup_many.py",
    "tests/erasure/test_batch.py",
    "tests/ui/test_voila_app.py",
)


def longest_first(items: list[pytest.Item], repo: Path) -> None:
    """Reorder `items` in place: the files of LONGEST_FIRST in that order, then the rest as collected."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}

    def key(pair: tuple[int, pytest.Item]) -> tuple[int, int]:
        index, item = pair
        try:
            path = Path(str(item.path)).resolve().relative_to(repo).as_posix()
        except ValueError:
            path = ""
        return rank.get(path, len(rank)), index

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]
