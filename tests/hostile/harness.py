"""Running the hostile corpus against the command line (click's CliRunner, in-process) on a small workspace.

Shared by tests/hostile/test_corpus.py and benchmarks/reliability_hostile.py. A *target* is one option of one
command; `run_corpus` feeds corpus entries to targets and returns one Outcome per run: the exit code, whether a
traceback escaped, whether the input was refused, and what the ground-truth checks (SQL on the ledger and the store,
files on disk) found wrong. Inputs an option must refuse (corpus.Entry.refused_as) run against every target (the
screen refuses them before any work, so they are cheap); the others run against one target each in turn (`spread`
more for wider coverage), because each accepted run does real work (~0.3 s).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from click.testing import CliRunner

from privacyops.cli import main
from tests.hostile.corpus import CORPUS, Entry
from tests.support.mini import MINI_MAP, build_mini

# The mini workspace plus an identity kind on an INTEGER column (pid), the kind '１' and '1_0' used to reach.
HOSTILE_MAP = MINI_MAP.replace("member_no: member_no}", "member_no: member_no, person_id: pid}").replace(
    "      member_no: user.unique_id\n", "      member_no: user.unique_id\n      pid: user.unique_id\n")
ACCESS_CASE, RECTIFY_CASE = "DSR-2025-0001", "DSR-2025-0002"
PERSON = "janis2@mini.example"  # person 2: one order (102), no shared e-mail


def build_workspace(root: Path) -> Path:
    """The hostile workspace: mini, the person_id identity, an access case and a rectification case."""
    build_mini(root)
    assert "person_id: pid" in HOSTILE_MAP and "pid: user.unique_id" in HOSTILE_MAP
    (root / "privacyops.yaml").write_text(HOSTILE_MAP)
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "hostile-tester", "PRIVACYOPS_WORKSPACE": None})
    for kind in ("access", "rectification"):
        res = runner.invoke(main, ["case", "open", "--type", kind, "--received", "2025-01-02", "--subject", PERSON,
                                   "-w", str(root)])
        assert res.exit_code == 0, res.output
    return root


def ledger_counts(root: Path) -> dict[str, int]:
    """Rows per ledger table, by SQL (the ground truth for 'nothing was written')."""
    con = duckdb.connect(str(root / "ledger.duckdb"))
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def store_rows(root: Path) -> list[tuple]:
    con = duckdb.connect(str(root / "main.duckdb"))
    try:
        return con.execute("SELECT * FROM people.person ORDER BY pid").fetchall() + \
            con.execute("SELECT * FROM shop.orders ORDER BY oid").fetchall()
    finally:
        con.close()


def person_ids_as_text(root: Path, text: str) -> int:
    """How many people have a pid whose decimal rendering is `text` (SQL: the truth for --by person_id)."""
    con = duckdb.connect(str(root / "main.duckdb"))
    try:
        return con.execute("SELECT count(*) FROM people.person WHERE CAST(pid AS VARCHAR) = ?", [text]).fetchone()[0]
    finally:
        con.close()


def files_under(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file under the roots with its size and modification time: a cheap 'nothing was written' check."""
    out = {}
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                st = os.stat(p)
                out[p] = (st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Target:
    name: str
    kind: str  # identifier, line, text, path, date: decides which entries must be refused
    argv: Callable[[str], list[str]]
    exits: frozenset[int]
    check: Callable[[Entry, Ctx, dict], str | None] | None = None  # ground truth for an accepted run


@dataclass
class Ctx:
    root: Path  # the workspace
    cwd: Path  # where relative --out paths land
    result: object = None
    before: dict = field(default_factory=dict)


@dataclass
class Outcome:
    entry: Entry
    target: str
    exit_code: int
    traceback: bool
    refused: bool  # the input was to be refused
    problem: str | None  # what went wrong (None: as expected)


def _json(ctx: Ctx) -> dict | None:
    try:
        return json.loads(ctx.result.stdout)
    except (ValueError, AttributeError):
        return None


def _check_lookup(entry: Entry, ctx: Ctx, _b: dict) -> str | None:
    data = _json(ctx)
    if ctx.result.exit_code in (0, 1) and (not data or data.get("status") not in ("found", "not_found", "ambiguous")):
        return "lookup --json printed no result"
    if ctx.result.exit_code in (0, 1) and (ctx.result.exit_code == 1) != (data["status"] == "not_found"):
        return f"lookup exited {ctx.result.exit_code} with status {data['status']} (a miss exits 1, nothing else)"
    return None


def _check_person_id(entry: Entry, ctx: Ctx, b: dict) -> str | None:
    problem = _check_lookup(entry, ctx, b)
    data = _json(ctx) or {}
    if problem or data.get("status") != "found":
        return problem
    text = entry.value.strip()
    # found, but no pid is written that way (zero-padded numbers, as on invoices, are the same number)
    if not person_ids_as_text(ctx.root, text.lstrip("0") or "0"):
        return f"--by person_id {entry.label!r} found {data['subject']['ref']}"
    return None


def _grew(table: str, by: set[int]) -> Callable[[Entry, Ctx, dict], str | None]:
    def check(entry: Entry, ctx: Ctx, before: dict) -> str | None:
        if ctx.result.exit_code != 0:
            return None
        grown = ledger_counts(ctx.root)[table] - before.get(table, 0)
        return None if grown in by else f"{table} grew by {grown} (expected {sorted(by)})"
    return check


def _check_store_unchanged(entry: Entry, ctx: Ctx, before: dict) -> str | None:
    return None if store_rows(ctx.root) == before["__store"] else "a dry run changed the store"


def _check_int_value(entry: Entry, ctx: Ctx, before: dict) -> str | None:
    if ctx.result.exit_code == 0 and not re.fullmatch(r"[0-9]+", entry.value.strip(), re.ASCII):
        return f"an INTEGER column took {entry.label!r}"
    return _check_store_unchanged(entry, ctx, before)


def _check_out(name: str) -> Callable[[Entry, Ctx, dict], str | None]:
    def check(entry: Entry, ctx: Ctx, before: dict) -> str | None:
        if ctx.result.exit_code != 0:
            return None
        folder = (ctx.cwd / os.path.expanduser(entry.value)).resolve()
        if not any(p.name.endswith(name) for p in folder.iterdir()):
            return f"--out {entry.label!r}: no {name} written in {folder}"
        return None
    return check


def targets() -> list[Target]:
    """One target per option that takes text, across lookup, case open, hold add, suppress, rectify, export,
    report, ropa and consent."""
    ok2, only2 = frozenset({0, 2}), frozenset({2})
    looked = frozenset({0, 1, 2})  # a lookup that finds nobody exits 1
    by = [Target(f"lookup --by {k}", "identifier",
                 (lambda k: lambda v: ["lookup", v, "--by", k, "--json", "--no-mentions"])(k), looked,
                 _check_person_id if k == "person_id" else _check_lookup)
          for k in ("auto", "email", "phone", "name", "id", "member_no", "person_id")]
    case = ["case", "open", "--type", "access"]
    hold = ["hold", "add", "--owner", "legal"]
    rect = ["rectify", PERSON, "--case", RECTIFY_CASE, "--dry-run", "--json"]
    return by + [
        Target("lookup --pick", "identifier", lambda v: ["lookup", "--pick", v, "--json", "--no-mentions"], looked,
               _check_lookup),
        Target("case open --subject", "identifier", lambda v: [*case, "--received", "2025-01-03", "--subject", v],
               ok2, _grew("cases", {1})),
        Target("case open --received", "date", lambda v: [*case, "--received", v], only2),
        Target("case open --channel", "line", lambda v: [*case, "--received", "2025-01-03", "--channel", v], ok2,
               _grew("cases", {1})),
        Target("hold add --subject", "identifier", lambda v: [*hold, "--reason", "audit", "--subject", v], ok2,
               _grew("legal_holds", {1})),
        Target("hold add --reason", "text", lambda v: [*hold, "--subject", PERSON, "--reason", v], ok2,
               _grew("legal_holds", {1})),
        Target("hold add --review", "date", lambda v: [*hold, "--subject", PERSON, "--reason", "x", "--review", v],
               only2),
        Target("suppress add", "identifier", lambda v: ["suppress", "add", v, "--reason", "objection"], ok2,
               _grew("suppression", {0, 1})),
        Target("suppress check", "identifier", lambda v: ["suppress", "check", v], frozenset({0, 1, 2})),
        Target("rectify text value", "text", lambda v: [*rect, "--set", f"people.person.full_name={v}"], ok2,
               _check_store_unchanged),
        Target("rectify integer value", "text", lambda v: [*rect, "--set", f"shop.orders.item_id={v}"], ok2,
               _check_int_value),
        Target("export subject", "identifier", lambda v: ["export", "create", v, "--case", ACCESS_CASE], ok2,
               _grew("exports", {1})),
        Target("export --out", "path", lambda v: ["export", "create", PERSON, "--case", ACCESS_CASE, "--out", v],
               ok2, _check_out(".zip")),
        Target("report --as-of", "date", lambda v: ["report", "retention", "--as-of", v], only2),
        # an invalid --as-of stops the report before any notebook runs: --out is screened when the options are read
        Target("report --out", "path", lambda v: ["report", "retention", "--as-of", "never", "--out", v], only2),
        Target("ropa --out", "path", lambda v: ["ropa", "--out", v], ok2, _check_out("ropa.csv")),
        Target("consent record --at", "date", lambda v: ["consent", "record", PERSON, "--purpose", "mail",
                                                         "--method", "web_form", "--notice", "v1", "--at", v], only2),
    ]


def _guard_kind(target: Target) -> str:
    return "identifier" if target.kind == "date" else target.kind


def plan(entries: list[Entry], spread: int = 1) -> Iterator[tuple[Entry, list[Target], list[Target]]]:
    """Per entry: the targets whose screen must refuse it (all of them run) and the targets it runs against as an
    accepted input (`spread` of them, in turn: entry i starts at target i). Absolute paths that are not refused
    are not given to --out targets (the tests run as root: they would write into / or ~)."""
    ts = targets()
    for i, entry in enumerate(entries):
        screened = [t for t in ts if entry.refused_as(_guard_kind(t))]
        rest = [t for t in ts if t not in screened
                and not (t.kind == "path" and entry.value.strip().startswith(("/", "~")))]
        picked = [rest[(i + j * 7) % len(rest)] for j in range(min(spread, len(rest)))] if rest else []
        yield entry, screened, [t for k, t in enumerate(picked) if t not in picked[:k]]


def traceback_in(result) -> bool:
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    return escaped or "Traceback" in (result.output or "")


@contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_one(runner: CliRunner, root: Path, cwd: Path, entry: Entry, target: Target) -> Outcome:
    must_refuse = entry.refused_as(target.kind)
    before_files = files_under(root, cwd) if must_refuse else {}
    before = ledger_counts(root) if target.check and not must_refuse else {}
    if target.check in (_check_store_unchanged, _check_int_value) and not must_refuse:
        before["__store"] = store_rows(root)
    with _chdir(cwd):
        result = runner.invoke(main, [*target.argv(entry.value), "-w", str(root)])
    ctx = Ctx(root, cwd, result)
    problem = None
    tb = traceback_in(result)
    if tb:
        problem = f"traceback: {result.exception!r}"[:300]
    elif result.exit_code not in target.exits:
        problem = f"exit {result.exit_code} not in {sorted(target.exits)}: {result.output[-300:]}"
    elif must_refuse and (result.exit_code == 0 or (target.name.startswith("lookup") and result.exit_code == 1)):
        problem = "accepted an input it must refuse"
    elif must_refuse and files_under(root, cwd) != before_files:  # the ledger's SQL counts: run_corpus
        problem = "refused, but a file was written"
    elif not must_refuse and target.check:
        problem = target.check(entry, ctx, before)
    return Outcome(entry, target.name, result.exit_code, tb, must_refuse, problem)


def run_corpus(base: Path, entries: list[Entry] | None = None, spread: int = 1,
               phases: tuple[str, ...] = ("refused", "accepted")) -> list[Outcome]:
    """Build a workspace under `base` and run the plan: first every run that must be refused, then the accepted
    ones. Relative --out paths land in base/cwd/a/b/c (so '../..' stays inside base) and HOME is base/home. Besides
    the per-run file check, the ledger's rows are counted by SQL before and after each batch of refused runs: any
    difference marks the whole batch."""
    root = build_workspace(base / "ws")
    cwd = base / "cwd" / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    (base / "home").mkdir()
    runner = CliRunner(env={"PRIVACYOPS_ACTOR": "hostile-tester", "PRIVACYOPS_WORKSPACE": None,
                            "HOME": str(base / "home")})
    planned = list(plan(entries if entries is not None else CORPUS, spread))
    out: list[Outcome] = []
    if "refused" in phases:
        for start in range(0, len(planned), 25):
            counts = ledger_counts(root)
            batch = [run_one(runner, root, cwd, e, t) for e, screened, _ in planned[start:start + 25]
                     for t in screened]
            if ledger_counts(root) != counts:
                for o in batch:
                    o.problem = o.problem or "refused, but the ledger changed (SQL row counts)"
            out += batch
    if "accepted" in phases:
        out += [run_one(runner, root, cwd, e, t) for e, _, picked in planned for t in picked]
    shutil.rmtree(base / "cwd", ignore_errors=True)
    return out
