"""Connection secrets: DSNs come from an environment variable or a file outside the map, and are never printed."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SourceError


def resolve_dsn(dsn_env: str | None, dsn_file: str | None, root: Path, what: str) -> str:
    """The DSN for `what` (e.g. "source 'app'"), from `dsn_env` or `dsn_file` (relative to `root`).

    Error messages name the variable or file, never the DSN: it may hold a password.
    """
    if dsn_env:
        value = os.environ.get(dsn_env, "").strip()
        if not value:
            raise SourceError(f"{what}: environment variable {dsn_env} is not set; export it with the connection "
                              f"string (e.g. postgresql://user@host:5432/db; keep passwords in ~/.pgpass)")
        return value
    if dsn_file:
        path = Path(dsn_file).expanduser()
        path = path if path.is_absolute() else root / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceError(f"{what}: cannot read the DSN file {path}: {exc.strerror or exc}") from None
        if not value:
            raise SourceError(f"{what}: the DSN file {path} is empty")
        return value
    raise SourceError(f"{what}: no dsn_env or dsn_file given")
