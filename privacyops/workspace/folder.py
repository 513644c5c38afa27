"""The workspace: a folder holding the data map, the ops ledger, keys, exports and reports."""

from __future__ import annotations

import getpass
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import WorkspaceError
from ..map import DataMap, load_datamap
from ..sources import Connector, open_source
from .person import proven_name

MAP_FILE = "privacyops.yaml"
IDLE_POLL = 0.5  # seconds between two looks for a waiting writer while connectors are kept open
CROWDED_EVERY = 8  # operations between two looks at whether a kept reader's index parts crowd its memory limit
KEEP_OPEN_ENV = "PRIVACYOPS_KEEP_OPEN"  # seconds read connectors stay open after a lookup (default 0: closed)


def _keep_open_default() -> float:
    try:
        return max(float(os.environ.get(KEEP_OPEN_ENV, "0") or 0), 0.0)
    except ValueError:
        return 0.0
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


# Connection policy (`Workspace.keep_open`, seconds; default from PRIVACYOPS_KEEP_OPEN, else 0): with 0 every lookup
# closes its connectors at the end (other processes may take the file locks at once). With N > 0 the read-only
# connectors of a lookup stay open for reuse and are closed once the workspace has been unused for N seconds, or at
# once a privacyops writer in another process waits for a DuckDB file (it leaves a marker beside the file, looked
# for every IDLE_POLL seconds and at the end of each lookup: `Connector.writer_waiting`), or on `close()` / at the
# end of `session()`. A writer elsewhere therefore waits about IDLE_POLL seconds plus the current lookup, and never
# more than N seconds plus it (it waits up to the source's `lock_timeout`, 30 s by default). Opt-in, because code in
# this same process that opens one of these DuckDB files directly in another mode (read-write) collides with a
# read-only connection kept open (DuckDB: one mode per file and process).
@dataclass
class Workspace:
    """An opened workspace: its folder and its validated data map (connection policy: see the comment above)."""

    root: Path
    datamap: DataMap
    _connectors: dict[str, Connector] = field(default_factory=dict, repr=False)
    # Live column types per source, kept across sessions: connectors are reopened for every operation (to free
    # file locks for other processes) but a table's columns rarely change while a workspace is open.
    _schemas: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict, repr=False)
    keep_open: float = field(default_factory=_keep_open_default)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _busy: int = field(default=0, repr=False)  # operations (sessions, lookups) in progress: no idle close then
    _session_depth: int = field(default=0, repr=False)  # open session() blocks: the outermost one closes
    _releases: int = field(default=0, repr=False)  # operations ended (`release`)
    _generation: int = field(default=0, repr=False)  # bumped on every use: a stale idle timer does nothing
    _timer: threading.Timer | None = field(default=None, repr=False)
    _armed: tuple[int, float] = field(default=(0, 0.0), repr=False)  # (generation, deadline) the idle timer serves

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

    def _touch(self) -> None:
        self._generation += 1  # an idle timer armed before stands down at its next look (`_idle_tick`)

    def connector(self, source_name: str) -> Connector:
        """An open connector for a source, reused until `close()` (or the idle close, see the class doc)."""
        with self._lock:
            self._touch()
            writer = self._connectors.get(f"{source_name}\x00write")
            if writer is not None:  # one engine per file and process: reads go through the open writer
                return writer
            if source_name not in self._connectors:
                con = open_source(self.datamap.sources[source_name], self.root)
                con._columns = self._schemas.setdefault(source_name, {})
                self._connectors[source_name] = con
            return self._connectors[source_name]

    def kept(self, name: str, opener) -> object:
        """Another read-only handle kept with the connectors (e.g. the lookup index): opened by `opener()` on first
        use, closed with them (it must have `close()`)."""
        key = f"\x00kept\x00{name}"
        with self._lock:
            self._touch()
            if key not in self._connectors:
                self._connectors[key] = opener()
            return self._connectors[key]

    def forget_kept(self, name: str) -> None:
        """Close and drop a handle kept by `kept()` (e.g. the lookup index was rebuilt)."""
        with self._lock:
            handle = self._connectors.pop(f"\x00kept\x00{name}", None)
            if handle is not None:
                handle.close()

    def forget_schemas(self) -> None:
        """Drop cached column types (after a schema change; `check` always reads them fresh)."""
        self._schemas.clear()

    def writer(self, source_name: str) -> Connector:
        """A connector opened for writing (rectification, erasure), reused until `close()`."""
        key = f"{source_name}\x00write"
        with self._lock:
            self._touch()
            if key not in self._connectors:
                reader = self._connectors.pop(source_name, None)
                if reader is not None:  # DuckDB will not open one file read-only and writable in one process
                    reader.close()
                con = open_source(self.datamap.sources[source_name], self.root, read_only=False)
                con._columns = self._schemas.setdefault(source_name, {})
                self._connectors[key] = con
            return self._connectors[key]

    def writing(self, source_name: str) -> bool:
        """Whether this process has the source open for writing (its changes may not be on disk yet)."""
        return f"{source_name}\x00write" in self._connectors

    def connector_for(self, dataset_name: str) -> Connector:
        return self.connector(self.datamap.datasets[dataset_name].source)

    def close(self) -> None:
        with self._lock:
            self._touch()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for con in self._connectors.values():
                con.close()
            self._connectors.clear()

    def release(self) -> None:
        """The end of one read operation (a lookup): close the connectors now (`keep_open` 0, or a writer elsewhere
        waits for one of the files), or leave them for the next operation and close them once idle. Inside a
        `session()` nothing happens: the session's end closes them."""
        with self._lock:
            if self._busy:
                return
            self._releases += 1
            if self.keep_open <= 0 or _wanted_closed(self):
                self.close()
                return
            self._touch()
            self._armed = (self._generation, time.monotonic() + self.keep_open)
            if self._timer is None or not self._timer.is_alive():  # the live one serves the new deadline: no
                _arm(self)  # thread started per lookup (milliseconds on a busy machine)

    @contextmanager
    def reading(self) -> Iterator["Workspace"]:
        """One read operation: connectors are not idle-closed inside; `release()` at the end."""
        with self._lock:
            self._busy += 1
            self._touch()
        try:
            yield self
        finally:
            with self._lock:
                self._busy -= 1
            self.release()

    @contextmanager
    def session(self, keep_readers: bool = False) -> Iterator["Workspace"]:
        """Connectors opened inside are closed at the end (so other processes can take the file locks).
        A session inside another one closes nothing: the outermost one does (its open transactions stay open).
        `keep_readers` (with `keep_open` on): only the writers are closed; the read-only handles (the kept ledger,
        readers) stay under the keep_open policy, as after a lookup, instead of being reopened by the next step."""
        with self._lock:
            outer = self._session_depth == 0
            self._busy += 1
            self._session_depth += 1
        try:
            yield self
        finally:
            with self._lock:
                self._busy -= 1
                self._session_depth -= 1
                keep = keep_readers and self.keep_open > 0
                if outer and keep:
                    for key in [k for k in self._connectors if k.endswith("\x00write")]:
                        self._connectors.pop(key).close()
            if outer:
                self.release() if keep else self.close()


def close_readers(ws: Workspace) -> None:
    """Close the sources' read-only connectors (not the writers, not the kept handles): their caches let go before
    a step that needs the memory (a commit loading ART index parts); the next use reopens them."""
    with ws._lock:
        for key in [k for k in ws._connectors if "\x00" not in k]:
            ws._connectors.pop(key).close()


def _wanted_closed(ws: Workspace) -> bool:
    """Whether a writer elsewhere waits for one of the kept files, or (looked at every CROWDED_EVERY operations) a
    kept reader's index parts crowd its memory limit (DuckDB cannot evict them; each lookup's probes add a little)."""
    look = ws._releases % CROWDED_EVERY == 0
    return any(getattr(c, "writer_waiting", lambda: False)() or (look and getattr(c, "crowded", lambda: False)())
               for c in ws._connectors.values())


def _arm(ws: Workspace) -> None:
    ws._timer = threading.Timer(min(IDLE_POLL, ws.keep_open), _idle_tick, args=(ws,))
    ws._timer.daemon = True
    ws._timer.start()


def _idle_tick(ws: Workspace) -> None:
    """Close the kept readers once idle until the deadline of the last release, or as soon as a writer elsewhere
    waits for a file."""
    with ws._lock:
        if ws._timer is not threading.current_thread():
            return  # cancelled (close) after it fired, or replaced
        generation, deadline = ws._armed
        if generation != ws._generation or ws._busy:
            ws._timer = None
            return  # used again since the last release (inside an operation, or outside one): the next release arms
        kept = [k for k in ws._connectors if not k.endswith("\x00write")]
        waiting = any(getattr(ws._connectors[k], "writer_waiting", lambda: False)() for k in kept)
        if time.monotonic() < deadline and not waiting:
            _arm(ws)
            return
        for key in kept:
            ws._connectors.pop(key).close()
        ws._timer = None


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
