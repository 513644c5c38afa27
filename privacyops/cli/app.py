"""`privacyops …`: the command-line face of the same functions the notebooks and panels call."""

# This module holds the root group `main`, the error handling that maps PrivacyOpsError subclasses to exit codes and
# the helpers the command groups share. The commands live in one module per group (`*_cmds.py`): each imports `main`
# from here and registers its commands on it, and `privacyops/cli/__init__.py` imports them all; this module imports
# none of them, so there is no import cycle. The commands import the heavy parts of the package (pandas, lookup,
# erasure, reports, jobs) inside their functions, not at module level, to keep `privacyops --help` fast.

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import DataMapError, PrivacyOpsError

F = TypeVar("F", bound=Callable[..., Any])


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class _Group(click.Group):
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
