"""A throwaway PostgreSQL server for the test session, and one fresh database per test.

`server()` runs `initdb` in a temporary folder (trust authentication, fsync off: nothing here needs to survive a
crash), starts it on a free 127.0.0.1 port with its socket in that folder, yields a DSN and removes everything at
the end. PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` OS user and the
server runs under `runuser -u postgres`. With `PRIVACYOPS_TEST_POSTGRES_DSN` set, that server is used instead
(it needs a role allowed to CREATE DATABASE).

Missing binaries are an error, never a skip: `./run test` installs Debian's postgresql.

    python -m tests.support.pg        # start one, print its DSN, stop on Enter
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

ENV_DSN = "PRIVACYOPS_TEST_POSTGRES_DSN"
PG_USER = "postgres"  # the OS user running the server when we are root, and the database superuser
INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql: ./run test "
                "does (or apt-get install postgresql), or point PRIVACYOPS_TEST_POSTGRES_DSN at a server")


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: $PG_BINDIR, the newest /usr/lib/postgresql/*/bin, or PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise PostgresUnavailable(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if not shutil.which("runuser"):
        raise PostgresUnavailable("running as root but runuser is missing: cannot start PostgreSQL as the "
                                  f"'{PG_USER}' user")
    return ["runuser", "-u", PG_USER, "--", *cmd]


def _run(cmd: list[str], what: str, cwd: Path, timeout: float = 60) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")


def connect(dsn: str, **kwargs):
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=10, **kwargs)


def wait_ready(dsn: str, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(dsn) as con:
                con.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL did not accept connections within {timeout:.0f} s: {exc}")
            time.sleep(0.1)


@contextlib.contextmanager
def server() -> Iterator[str]:
    """Yield the DSN of a PostgreSQL server for this test session (PRIVACYOPS_TEST_POSTGRES_DSN, or a new one)."""
    external = os.environ.get(ENV_DSN, "").strip()
    if external:
        wait_ready(external, timeout=10)
        yield external
        return
    bindir = find_bindir()
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(PG_USER)
        except KeyError:
            raise PostgresUnavailable(f"running as root and there is no '{PG_USER}' OS user to run PostgreSQL "
                                      f"(Debian's postgresql package creates it)") from None
    base = Path(tempfile.mkdtemp(prefix="privacyops-pg-"))
    data, sock, log = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    started = False
    try:
        _run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", PG_USER,
                              "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"]),
             "initdb", cwd=base)
        for _ in range(5):
            port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
                    f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60 "
                    f"-c shared_buffers=32MB")
            proc = subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                                                   "-t", "60", "-o", opts, "start"]),
                                  capture_output=True, text=True, timeout=90, cwd=base)
            if proc.returncode == 0:
                started = True
                break
            text = log.read_text(errors="replace") if log.exists() else proc.stderr
            if "could not bind" not in text and "in use" not in text:
                raise PostgresUnavailable(f"pg_ctl start failed: {(proc.stderr + text).strip()[-2000:]}")
        if not started:
            raise PostgresUnavailable("pg_ctl start failed: no free port after 5 attempts")
        dsn = f"host=127.0.0.1 port={port} user={PG_USER} dbname=postgres"
        wait_ready(dsn)
        yield dsn
    finally:
        if started:
            subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                            "stop"]), capture_output=True, timeout=60, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def with_dbname(dsn: str, dbname: str) -> str:
    """The same server, another database."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=dbname)


def create_database(dsn: str, prefix: str = "t", template: str | None = None) -> str:
    """A new database (empty, or a copy of `template`) on the server behind `dsn`; returns its DSN. Names are
    unique per call."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}".lower()
    with connect(dsn) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template or "template0"}" ENCODING \'UTF8\'')
    return with_dbname(dsn, name)


def database_name(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(dsn)["dbname"])


def drop_database(dsn: str, admin_dsn: str) -> None:
    with connect(admin_dsn) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{database_name(dsn)}" WITH (FORCE)')


@contextlib.contextmanager
def database(admin_dsn: str, prefix: str = "t", template: str | None = None) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    dsn = create_database(admin_dsn, prefix, template)
    try:
        yield dsn
    finally:
        drop_database(dsn, admin_dsn)


if __name__ == "__main__":
    with server() as dsn:
        print(dsn)
        input("PostgreSQL is running; press Enter to stop it. ")
