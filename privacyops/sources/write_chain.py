"""What this process last wrote into a DuckDB file, told by the file's stat: the stat when its writer opened it (under
DuckDB's lock) and when it closed it.

While a writer holds a DuckDB file no other process can open it, so a session that starts at the stat the lookup
index certified and ends at the stat the file has now says: every change since is one that session made. The lookup
index's refresh (workspace/lookup_index.py) then certifies the file again without the checksums of every dataset in
it, provided it refreshed every row that session changed (an erasure's or a rectification's own writes). Anything
else — a writer elsewhere, an earlier session not refreshed, a writer still open — and the refresh checks every
dataset as before."""

from __future__ import annotations

import os
from typing import Any

_CHAINS: dict[str, dict[str, Any]] = {}  # resolved path -> the last session: {"first", "last": stats, "open": n}


def file_stat(path: str) -> list:
    """A file's stat as the lookup index records it: [path, size, mtime_ns, inode] ([path, None]: no such file)."""
    try:
        st = os.stat(path)
    except OSError:
        return [path, None]
    return [path, st.st_size, st.st_mtime_ns, st.st_ino]


def database_stat(path: str) -> list:
    """The stat of a DuckDB file and of its write-ahead log."""
    return [file_stat(path), file_stat(path + ".wal")]


def writer_opened(path: str) -> None:
    """A writer of `path` opened in this process (before it writes)."""
    key = os.path.realpath(path)
    chain = _CHAINS.get(key)
    if chain is None or not chain["open"]:  # a new writing session starts at the stat found under its lock
        _CHAINS[key] = {"first": database_stat(path), "last": None, "open": 1}
    else:
        chain["open"] += 1


def writer_closed(path: str) -> None:
    """A writer of `path` closed (its changes checkpointed into the file)."""
    chain = _CHAINS.get(os.path.realpath(path))
    if chain is not None and chain["open"]:
        chain["open"] -= 1
        if not chain["open"]:
            chain["last"] = database_stat(path)


def written_since(path: str) -> tuple[list, list] | None:
    """(stat before this process's last writing session, stat after it) when the file is as it left it and no
    writer is open; None when that cannot be told."""
    chain = _CHAINS.get(os.path.realpath(path))
    if chain is None or chain["open"] or chain["last"] != database_stat(path):
        return None
    return chain["first"], chain["last"]
