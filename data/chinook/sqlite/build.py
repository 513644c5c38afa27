"""Prepare the SQLite Chinook workspace: a copy of the public Chinook_Sqlite.sqlite next to the map.

privacyops opens its SQLite sources read-only for lookups, but erasure and rectification write, and the original
file is not ours to change: the workspace gets its own copy (written atomically: a temporary file, then rename).

    python data/chinook/sqlite/build.py [TARGET_DIR]   # default: this folder; another folder gets the map too

The SQLite file: `CHINOOK_SQLITE`, else data/external/chinook/Chinook_Sqlite.sqlite (a copy kept in the repository)
(the same lookup as data/chinook/build.py).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DB_FILE = "chinook.sqlite"
MAP_FILE = "privacyops.yaml"


def sqlite_path_default() -> Path:
    env = os.environ.get("CHINOOK_SQLITE")
    return Path(env) if env else REPO / "data" / "external" / "chinook" / "Chinook_Sqlite.sqlite"


def build(target_dir: Path = HERE, sqlite_path: Path | None = None) -> Path:
    """Copy the Chinook SQLite file to TARGET_DIR/chinook.sqlite; return its path."""
    target_dir = Path(target_dir)
    source = Path(sqlite_path) if sqlite_path else sqlite_path_default()
    if not source.is_file():
        raise FileNotFoundError(f"Chinook SQLite file not found: {source} (set CHINOOK_SQLITE)")
    target_dir.mkdir(parents=True, exist_ok=True)
    out = target_dir / DB_FILE
    fd, tmp = tempfile.mkstemp(prefix=".chinook-", suffix=".sqlite", dir=target_dir)
    os.close(fd)
    try:
        # SQLite's backup API: a consistent copy even if something writes the source meanwhile; the copy gets
        # ordinary permissions (the original may be read-only).
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    if target_dir.resolve() != HERE:
        shutil.copyfile(HERE / MAP_FILE, target_dir / MAP_FILE)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = build(Path(argv[0]) if argv else HERE)
    print(f"Built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
