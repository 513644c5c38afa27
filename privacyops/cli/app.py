"""`privacyops …`: the command-line face of the same functions the notebooks and panels call."""

# This module holds the root group `main`, the error handling that maps PrivacyOpsError subclasses to exit codes and
# the helpers the command groups share. The commands live in one module per group (`*_cmds.py`): each imports `main`
# from here and registers its commands on it, and `privacyops/cli/__init__.py` imports them all; this module imports
# none of them, so there is no import cycle. The commands import the heavy parts of the package (pandas, lookup,
# erasure, reports, jobs) inside their functions, not at module level, to keep `privacyops --help` fast.

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import DataMapError, PrivacyOpsError
from ..values import iso_date, text_problem

F = TypeVar("F", bound=Callable[..., Any])

# -- hostile input: every command checks every value it was given before it does anything ---------------------------
# Which kind of text each parameter is (by its Python name, the same across commands): identifiers and codes take no
# control or invisible characters and at most 1 K characters; one-line text takes a tab; everything else is free text
# (line breaks allowed, at most 64 K). Paths are checked as paths. NUL and bytes that are not UTF-8 (click hands them
# over as lone surrogates) are refused everywhere, before click converts anything, so no message ever echoes them.
_IDENTIFIERS = frozenset({
    "identifier", "subject", "email", "pick", "case_id", "hold_id", "export_id", "plan_id", "kind", "dataset",
    "status", "purpose", "purposes", "source", "table_prefix", "action", "case_type", "received", "informed", "since",
    "review_on", "as_of", "at", "older_than", "postgres_dsn"})
_ONE_LINE = frozenset({"owner", "channel", "verified_by", "method", "notice"})
_FIX = {"identifier": "type it again without it (copying from documents can bring hidden characters along)",
        "line": "give it on one line, without control characters",
        "text": "remove those characters (or shorten it)",
        "path": "give another path, typed without hidden characters"}


def _kind(param: click.Parameter) -> str:
    if isinstance(param.type, click.Path):
        return "path"
    if param.name in _IDENTIFIERS:
        return "identifier"
    return "line" if param.name in _ONE_LINE else "text"


_UNDECODABLE = re.compile("[\ud800-\udfff]")
# A hold's dates are checked here, before the command opens anything: `hold add` looks the person up (an audit entry)
# before the ledger reads the dates. Other dates are read strictly (values.iso_date) by the function that takes them.
_DATES = frozenset({"since", "review_on"})
_DATE_OPTIONS = _DATES | {"received", "informed", "as_of", "at"}


def _raw_problem(token: str) -> str | None:
    """NUL or undecodable bytes in a raw command-line token (anything else is judged after parsing, per option)."""
    if "\x00" in token:
        return "contains a NUL byte"
    if _UNDECODABLE.search(token):
        return "contains bytes that are not UTF-8 (check the terminal's encoding, or retype it)"
    return None


def _token_label(command: click.Command, args: list[str], i: int) -> str:
    """Which option or argument the raw token args[i] belongs to, as the user typed it."""
    token = args[i]
    if token.startswith("--") and "=" in token:
        return f"option {token.split('=', 1)[0]!r}"
    previous = args[i - 1] if i else ""
    for p in command.params:
        if isinstance(p, click.Option) and previous in p.opts + p.secondary_opts and not p.is_flag:
            return f"option {previous!r}"
    if token.startswith("-"):
        return "an option name"
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    return f"argument {arguments[0].human_readable_name}" if len(arguments) == 1 else "an argument"


def check_inputs(command: click.Command, ctx: click.Context) -> None:
    """Refuse (click.BadParameter, exit 2, naming the option) a parsed value with characters of no place in it."""
    for p in command.params:
        value = ctx.params.get(p.name or "")
        for one in value if isinstance(value, (tuple, list)) else (value,):
            if not isinstance(one, (str, Path)):
                continue
            kind = _kind(p)
            problem = text_problem(str(one), kind=kind) or (_path_problem(Path(one)) if kind == "path" else None)
            if problem:
                fix = "shorten it" if problem.startswith("it is") else _FIX[kind]  # too long, or what is in it
                raise click.BadParameter(f"{problem}; {fix}. Nothing was done.", ctx=ctx, param=p)
            if p.name in _DATE_OPTIONS and isinstance(one, str) and not one.strip():
                # an empty date is a script's unset variable, not 'today': leave the option out for the default
                raise click.BadParameter("the date is empty; write it YYYY-MM-DD, or leave the option out for the "
                                         "default. Nothing was done.", ctx=ctx, param=p)
            if p.name in _DATES and isinstance(one, str):
                try:
                    iso_date(one)
                except ValueError as exc:
                    why = "" if str(exc).startswith("not a date") else f" ({exc})"
                    shown = one if len(one) <= 40 else one[:40] + "…"  # already screened: no control characters
                    raise click.BadParameter(f"'{shown}' is not a date written YYYY-MM-DD{why}, e.g. 2025-03-31. "
                                             f"Nothing was done.", ctx=ctx, param=p) from None


def _path_problem(path: Path) -> str | None:
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > 255:
        return f"one of its names is {longest} bytes long; file systems allow 255"
    return None


class _Guarded:
    """Mixed into every command and group: raw tokens are screened for NUL and undecodable bytes before click parses
    them, and every parsed value is checked (check_inputs) before the command runs."""

    params: list[click.Parameter]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        scan = args if not isinstance(self, click.Group) else args[:1]  # a group: only its command's name
        for i, token in enumerate(scan):
            problem = _raw_problem(token)
            if problem:
                label = "the command name" if scan is not args else _token_label(self, args, i)  # type: ignore[arg-type]
                raise click.UsageError(f"{label} {problem}. Nothing was done.", ctx=ctx)
        return super().parse_args(ctx, args)  # type: ignore[misc]

    def invoke(self, ctx: click.Context) -> Any:
        check_inputs(self, ctx)  # type: ignore[arg-type]
        return super().invoke(ctx)  # type: ignore[misc]


class GuardedCommand(_Guarded, click.Command):
    """A command whose inputs are screened (see _Guarded)."""


class GuardedGroup(_Guarded, click.Group):
    """A group whose commands and subgroups are all guarded (command_class, group_class)."""

    command_class = GuardedCommand
    group_class = type  # a subgroup is of its parent's class


class OutPath(click.Path):
    """An --out folder (or file, folder=False): no NUL or control characters, names a file system takes, not a
    file where a folder is wanted (or a folder where a file is), in a folder that exists and can be written; a file
    that exists is refused (the commands that may overwrite say so with --force)."""

    def __init__(self, folder: bool = True, overwrite: bool = False):
        super().__init__(file_okay=not folder, dir_okay=folder, path_type=Path)
        self.folder, self.overwrite = folder, overwrite

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, bytes) else str(value)
        if not text.strip():
            self.fail("the path is empty; give a folder or file name.", param, ctx)
        problem = text_problem(text, kind="path") or _path_problem(Path(text))
        if problem:
            self.fail(f"{problem}; {_FIX['path']}.", param, ctx)
        path = Path(text).expanduser()
        if self.folder and path.exists() and not path.is_dir():
            self.fail(f"{text} is a file; give a folder (the command names the files it writes in it).", param, ctx)
        if not self.folder and path.is_dir():
            self.fail(f"{text} is a folder; give the name of the file to write.", param, ctx)
        if not self.folder and path.exists() and not self.overwrite:
            self.fail(f"{text} exists; give a new file name (nothing is overwritten).", param, ctx)
        where = path if self.folder and path.is_dir() else path.absolute().parent
        if not where.is_dir():
            self.fail(f"the folder {where} does not exist; create it first or give another path.", param, ctx)
        if not os.access(where, os.W_OK | os.X_OK):
            self.fail(f"the folder {where} cannot be written by this user; give another path.", param, ctx)
        return path


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class _Group(GuardedGroup):
    """Turns privacyops errors into a clear message and the error's exit code (never a traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DataMapError as exc:
            click.secho(str(exc), fg="red", err=True)
            click.echo("Fix the map and run `privacyops check` again (format: docs/datamap.md).", err=True)
            sys.exit(exc.exit_code)
        except PrivacyOpsError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:  # `privacyops … | head -1`: the reader left; exit 0 quietly, no traceback
            from .output import quiet_broken_pipe
            quiet_broken_pipe()


def _ws_option(f: F) -> F:
    return click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Workspace folder (default: $PRIVACYOPS_WORKSPACE or data/demo).")(f)


@click.group(cls=_Group)
@click.version_option(package_name="privacyops")
def main() -> None:
    """privacyops: data-subject rights under the GDPR — look up, export, rectify, erase, report, audit."""
