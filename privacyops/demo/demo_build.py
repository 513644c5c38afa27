"""The demo company: Baltic Software Factory, a Latvian SaaS, generated into a workspace.

``generate_demo(workspace, subjects, seed)`` (re)creates ``<workspace>/company.duckdb`` and ``<workspace>/lake/``
from scratch and copies the demo data map (``data/demo/privacyops.yaml``) into the workspace when it has none.

How it scales: Faker (seeded) only builds small value pools (names, streets, cities, companies, user agents,
campaigns) that are loaded into DuckDB as small temporary tables. Every row is then produced *set-based* inside
DuckDB: ``range()`` over customer ids, ``hash(key, salt, seed)`` for deterministic pseudo-random choices, joins to
the pools by hashed index. Subjects are generated in batches (``BATCH_SUBJECTS``: one statement per table and batch)
with a DuckDB ``memory_limit`` so memory stays bounded; a batch is made of whole units (``CHUNK_SUBJECTS``) and a
customer's rows depend on its unit only, so the batch size changes the speed, never the company. Every child table
is inserted ordered by its foreign key so DuckDB zonemaps make foreign-key lookups cheap without indexes.

The hand-made edge-case people (``STORIES``) always get the lowest ids; bulk customers follow them.

This module holds the run: its settings, the workspace handling (a build folder committed atomically) and the
order of the table steps. The rows themselves come from the table-group modules (customers, addresses, community,
support, billing, marketing, analytics) through a shared ``BuildContext``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from tqdm.auto import tqdm

from ..errors import PrivacyOpsError
from .demo_addresses import insert_delivery_addresses
from .demo_analytics import write_analytics
from .demo_billing import insert_invoice_lines, insert_invoices, insert_products
from .demo_cases import seed_requests
from .demo_community import insert_community_messages, insert_referrals
from .demo_context import BuildContext, Chunk, open_context
from .demo_customers import insert_accounts, insert_customers, insert_logins
from .demo_marketing import insert_consents, insert_newsletter, insert_sends
from .demo_schema import DATASETS
from .demo_support import insert_agents, insert_messages, insert_tickets

__all__ = ["BATCH_SUBJECTS", "CHUNK_SUBJECTS", "MAP_SOURCE", "MAX_SUBJECTS", "MEMORY_LIMIT", "PRIMARY_KEY_CONSTRAINTS", "DemoSummary",
           "generate_demo"]

# this file is <repo>/privacyops/demo/build.py: parents[2] is the repository
MAP_SOURCE = Path(__file__).resolve().parents[2] / "data" / "demo" / "privacyops.yaml"

CHUNK_SUBJECTS = 100_000
"""Customers per unit: a customer's rows depend on its unit (see ``Chunk``), so this is part of what a seed means."""

BATCH_SUBJECTS = 500_000
"""Customers generated per statement (rounded down to whole units; one analytics part file per batch). Bigger
batches mean fewer, larger statements (faster) and more memory; the company is the same for any batch size."""

MAX_SUBJECTS = 5_000_000
"""Upper bound: e-mail numbers and phone numbers are bijections of the customer id below ~7 million."""

MEMORY_LIMIT = "512MB"
"""DuckDB memory_limit of the generating connection (bigger chunks spill to the build folder)."""

PRIMARY_KEY_CONSTRAINTS = False
"""Declare PRIMARY KEY constraints while generating (measured and off by default: see ``schema.PRIMARY_KEYS``)."""

Step = Callable[[BuildContext, Chunk], None]
"""One table step: writes its table's rows for one chunk of customer ids."""


@dataclass
class DemoSummary:
    """What ``generate_demo`` built: where, how many subjects, the seed, the time taken and the rows per dataset."""

    workspace: Path
    subjects: int
    seed: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """Rows over all datasets."""
        return sum(self.rows.values())


def generate_demo(workspace: str | Path, subjects: int = 1000, seed: int = 42, progress: bool = True) -> DemoSummary:
    """(Re)create the demo company in `workspace`: ``company.duckdb``, ``lake/`` and (if missing) the map.

    Deterministic for a seed. Raises ``ValueError`` for subjects < 10, a negative seed or an unwritable folder.
    """
    ws = _check_args(workspace, subjects, seed)
    started = time.perf_counter()

    # Delete the old company first: a run that is interrupted leaves no company rather than a mixed one.
    for old in [ws / "company.duckdb", ws / "company.duckdb.wal", ws / "lake", *ws.glob(".demo-build-*")]:
        _remove(old)
    try:
        build = ws / f".demo-build-{os.getpid()}-{secrets.token_hex(4)}"
        build.mkdir()
    except OSError as exc:
        raise ValueError(f"cannot write into the workspace folder {ws}: {exc.strerror or exc}") from exc

    try:
        rows = _generate(build, subjects, seed, progress)
        # Commit: the lake first, the database last (its presence marks a complete company).
        os.replace(build / "lake", ws / "lake")
        os.replace(build / "company.duckdb", ws / "company.duckdb")
    finally:
        shutil.rmtree(build, ignore_errors=True)

    target = ws / "privacyops.yaml"
    if ws != MAP_SOURCE.parent.resolve() and not target.exists():
        if MAP_SOURCE.is_file():
            shutil.copyfile(MAP_SOURCE, target)
        else:  # pragma: no cover - only when the package is installed without its data folder
            warnings.warn(f"demo data map not found at {MAP_SOURCE}; {target} was not written", stacklevel=2)

    if target.exists():
        try:
            seed_requests(ws)
        except PrivacyOpsError:  # a map of the user's own that does not load: the company is there, no register
            pass

    return DemoSummary(workspace=ws, subjects=subjects, seed=seed, seconds=time.perf_counter() - started,
                       rows=rows)


def _check_args(workspace: str | Path, subjects: object, seed: object) -> Path:
    # Checked before anything is deleted: bad input keeps an existing company.
    if isinstance(subjects, bool) or not isinstance(subjects, int):
        raise ValueError(f"subjects must be an integer, got {subjects!r}")
    if subjects < 10:
        raise ValueError(f"subjects must be at least 10 (the demo's story people need room), got {subjects}")
    if subjects > MAX_SUBJECTS:
        raise ValueError(f"subjects must be at most {MAX_SUBJECTS:,}, got {subjects:,}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be zero or positive, got {seed}")
    if seed >= 2**31:
        raise ValueError(f"seed must be below 2**31, got {seed}")
    try:
        ws = Path(workspace).expanduser()
    except TypeError as exc:
        raise ValueError(f"workspace must be a path, got {workspace!r}") from exc
    if ws.exists() and not ws.is_dir():
        raise ValueError(f"workspace {ws} exists and is not a folder")
    try:
        ws.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the workspace folder {ws}: {exc.strerror or exc}") from exc
    if not os.access(ws, os.W_OK | os.X_OK):
        raise ValueError(f"the workspace folder {ws} is not writable")
    return ws.resolve()


def _remove(path: Path) -> None:
    # a symlink is unlinked, never followed into a tree it points at
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _steps() -> list[tuple[str, Step]]:
    # Built per run, not a module constant: each step is looked up by its name in this module when a run starts,
    # so replacing one here (the interrupted-run test does) takes effect. The order is the generation order.
    return [
        ("crm.customers", insert_customers),
        ("crm.delivery_addresses", insert_delivery_addresses),
        ("crm.referrals", insert_referrals),
        ("app.user_accounts", insert_accounts),
        ("app.login_events", insert_logins),
        ("support.tickets", insert_tickets),
        ("support.ticket_messages", insert_messages),
        ("community.messages", insert_community_messages),
        ("billing.invoices", insert_invoices),
        ("billing.invoice_lines", insert_invoice_lines),
        ("marketing.consent_events", insert_consents),
        ("marketing.email_sends", insert_sends),
        ("marketing.newsletter_signups", insert_newsletter),
        ("web.analytics_events", write_analytics),
    ]


def _generate(build: Path, subjects: int, seed: int, progress: bool) -> dict[str, int]:
    """Generate the company into the `build` folder, chunk by chunk; returns the rows of every dataset."""
    lake_dir = build / "lake" / "web" / "analytics_events"
    lake_dir.mkdir(parents=True)
    spill = build / "spill"
    spill.mkdir()
    con = duckdb.connect(str(build / "company.duckdb"),
                         config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill),
                                 "preserve_insertion_order": True})
    batch = max(1, BATCH_SUBJECTS // CHUNK_SUBJECTS) * CHUNK_SUBJECTS
    chunks = [Chunk(number, lo, min(lo + batch, subjects + 1), CHUNK_SUBJECTS)
              for number, lo in enumerate(range(1, subjects + 1, batch))]
    steps = _steps()
    bar = tqdm(total=2 + len(chunks) * len(steps), desc="demo company", unit="step", disable=not progress)
    try:
        ctx = open_context(con, seed, lake_dir, PRIMARY_KEY_CONSTRAINTS)
        insert_agents(ctx)
        insert_products(ctx)
        bar.update(1)
        for chunk in chunks:
            for name, step in steps:
                bar.set_postfix_str(f"{name} {chunk.lo:,}-{chunk.hi - 1:,}", refresh=False)
                step(ctx, chunk)
                bar.update(1)
        con.execute("CHECKPOINT")
        rows = {ds: ctx.lake_rows if ds == "web.analytics_events"
                else con.execute(f"SELECT count(*) FROM {ds}").fetchone()[0] for ds in DATASETS}
        bar.update(1)
    finally:
        bar.close()
        con.close()
    shutil.rmtree(spill, ignore_errors=True)
    return rows
