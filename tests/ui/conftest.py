"""The JupyterLab server the browser tests share: one per module, rooted at the repository.

The server reads `lab_workspace` (the default demo); a test module that changes data overrides that fixture with a
copy of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from privacyops.demo import STORIES
from privacyops.lookup import lookup
from privacyops.workspace import open_workspace
from tests.support.browser import jupyter_lab
from tests.support.demo import demo_workspace

SUBJECT = STORIES["withdrawn"]  # Līga Liepiņa: an account, a ticket, an invoice, consent withdrawn


@pytest.fixture(scope="module")
def lab_workspace(tmp_path_factory) -> Path:
    """The workspace the module's JupyterLab server reads (the default demo, shared read-only)."""
    return demo_workspace(tmp_path_factory)


@pytest.fixture(scope="module")
def expected_datasets(lab_workspace) -> list[str]:
    """What lookup() finds for the subject, asked in-process before the server opens the same files."""
    result = lookup(open_workspace(lab_workspace), SUBJECT["email"], audit_log=False)
    assert result.status == "found"
    return list(result.records)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_workspace, expected_datasets):
    """A JupyterLab server on a free port (no token), rooted at the repo, reading `lab_workspace`."""
    with jupyter_lab(lab_workspace, tmp_path_factory.mktemp("lab")) as url:
        yield url
