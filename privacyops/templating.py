"""The Jinja2 set-up the HTML pages share: the access letter (`access/templates/`) and the reports
(`reports/templates/`).

Each of those packages builds its `Environment` once, with `environment(__package__)`, and renders plain data
through it. Autoescape is on for every template, so whatever comes from the data or the data map is shown as text;
only markup the package builds and escapes itself (the SVG charts) is marked safe, in the template that shows it.
"""

from __future__ import annotations

from typing import Any, Callable

import jinja2


def environment(package: str, *, filters: dict[str, Callable[..., Any]] | None = None) -> jinja2.Environment:
    """The Jinja2 environment of `package` (e.g. `privacyops.reports`), loading its `templates/` folder.

    Autoescape is on for every template whatever its name (`.j2`, `.css`); an undefined name raises instead of
    rendering as nothing (a typo in a template must fail a test, not blank a line of a letter); block tags leave no
    blank lines. `filters` are added to the environment's own.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters or {})
    return env


__all__ = ["environment"]
