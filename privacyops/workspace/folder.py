"""The workspace: a folder holding the data map, the ops ledger, keys, exports and reports."""

from __future__ import annotations

import getpass
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import WorkspaceError
from ..map import DataMap, load_datamap
from ..sources import Connector, open_source
from .person import proven_name

MAP_FILE = "privacyops.yaml"
DEFAULT_WORKSPACE = Path("data") / "demo"


def default_workspace_path() -> Path:
    """`PRIVACYOPS_WORKSPACE`, else `data/demo` found from the current folder or one of its parents.

    Searching upwards lets the same notebook run from JupyterLab (cwd = notebooks/), papermill and nbval.
    """
    env = os.environ.get("PRIVACYOPS_WORKSPACE")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_WORKSPACE / MAP_FILE).is_file():
            return folder / DEFAULT_WORKSPACE
    return DEFAULT_WORKSPACE


def current_actor() -> str:
    """Who is acting. Once the people registry (privacyops.ledger.people) has confirmed the person key in place
    ($PRIVACYOPS_PERSON_KEY) in this process: their registered name (proven). Otherwise, unproven:
    `PRIVACYOPS_ACTOR`, else the operating-system user (a workspace without registered people)."""
    proven = proven_name()
    if proven:
        return proven
    actor = os.environ.get("PRIVACYOPS_ACTOR", "").strip()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return f"uid:{os.getuid()}"


@dataclass
class Workspace:
    """An opened workspace: its folder and its validated data map."""

    root: Path
    datamap: DataMap
    _connectors: dict[str, Connector] = field(default_factory=dict, repr=False)
    # Live column types per source, kept across sessions: connectors are reopened for every operation (to free
    # file locks for other processes) but a table's columns rarely change while a workspace is open.
    _schemas: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict, repr=False)

    @property
    def ledger_path(self) -> Path:
        """The embedded ledger's file (unused when the map puts the ledger in PostgreSQL)."""
        return self.root / self.datamap.ledger.path

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    def connector(self, source_name: str) -> Connector:
        """An open connector for a source, reused until `close()`."""
        writer = self._connectors.get(f"{source_name}\x00write")
        if writer is not None:  # one engine per file and process: reads go through the open writer
            return writer
        if source_name not in self._connectors:
            con = open_source(self.datamap.sources[source_name], self.root)
            con._columns = self._schemas.setdefault(source_name, {})
            self._connectors[source_name] = con
        return self._connectors[source_name]

    def forget_schemas(self) -> None:
        """Drop cached column types (after a schema change; `check` always reads them fresh)."""
        self._schemas.clear()

    def writer(self, source_name: str) -> Connector:
        """A connector opened for writing (rectification, erasure), reused until `close()`."""
        key = f"{source_name}\x00write"
        if key not in self._connectors:
            reader = self._connectors.pop(source_name, None)
            if reader is not None:  # DuckDB will not open one file read-only and writable in one process
                reader.close()
            con = open_source(self.datamap.sources[source_name], self.root, read_only=False)
            con._columns = self._schemas.setdefault(source_name, {})
            self._connectors[key] = con
        return self._connectors[key]

    def connector_for(self, dataset_name: str) -> Connector:
        return self.connector(self.datamap.datasets[dataset_name].source)

    def close(self) -> None:
        for con in self._connectors.values():
            con.close()
        self._connectors.clear()

    @contextmanager
    def session(self) -> Iterator["Workspace"]:
        """Connectors opened inside are closed at the end (so other processes can take the file locks)."""
        try:
            yield self
        finally:
            self.close()


def open_workspace(path: str | Path | None = None) -> Workspace:
    """Open a workspace folder (default: see `default_workspace_path`) and validate its data map."""
    root = Path(path) if path else default_workspace_path()
    if not root.is_dir():
        raise WorkspaceError(f"workspace folder {root} does not exist; create it with a {MAP_FILE} "
                             f"(see docs/datamap.md) or build the demo with `privacyops demo`")
    map_path = root / MAP_FILE
    if not map_path.is_file():
        raise WorkspaceError(f"{root} has no {MAP_FILE}; write a data map there (see docs/datamap.md)")
    return Workspace(root=root.resolve(), datamap=load_datamap(map_path))
