"""Self-contained HTML pages for the reports: one file, inline CSS, inline SVG charts, no script, nothing to fetch.

A page opens offline in any browser and can be mailed or archived as it is. Pages are rendered from `templates/`:
`base.html.j2` (the page or notebook fragment, the shared CSS in `report.css`, title and footer), `macros.html.j2`
(figures, tables, sections, findings, charts) and one template per report. Autoescape is on, so every value from the
data or the map is shown as text; only the SVG charts, built and escaped by `charts.py`, go in as markup.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..templating import environment


def num(value: Any) -> str:
    """A count with thousands separators; '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def cell(value: Any) -> str:
    """A table cell as text: empty for none, times to the minute, lists joined with commas."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(x) for x in value)
    return str(value)


# One environment for the package, built at import: templates are compiled once and cached, not per page.
ENV = environment(__package__, filters={"num": num, "cell": cell})


@dataclass
class Table:
    """A table for the `table` macro. Columns named in `numeric` are right-aligned with separators; with `limit`, the
    first rows and a line saying how many more there are (`total`: the full count when `rows` is already cut)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    numeric: Sequence[str] = ()
    empty: str = "none"
    limit: int | None = None
    total: int | None = None
    table_id: str = ""

    @property
    def shown(self) -> Sequence[Sequence[Any]]:
        return self.rows[:self.limit] if self.limit is not None else self.rows

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.rows)

    @property
    def numeric_at(self) -> list[bool]:
        return [c in self.numeric for c in self.columns]


class ReportPage(ABC):
    """What every report shares: its page (self-contained HTML), its fragment for notebooks, and writing
    `<name>.html` and `<name>.json`. A report names its template (`template`, extending `base.html.j2`) and file
    (`page_name`), and provides title(), subtitle(), footer(), page_context() (what its template shows), to_dict()
    and, for its text, lines()."""

    page_name = "report"
    template = "base.html.j2"

    @abstractmethod
    def title(self) -> str:
        """The page title."""

    @abstractmethod
    def subtitle(self) -> str:
        """The line under the title."""

    def footer(self) -> str:
        return ""

    @abstractmethod
    def page_context(self) -> dict[str, Any]:
        """What the report template shows."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON."""

    @abstractmethod
    def lines(self) -> list[str]:
        """The key figures as lines of text."""

    def text(self) -> str:
        """The key figures as text, one line each (`lines()`)."""
        return "\n".join(self.lines())

    def render(self, *, standalone: bool, footer: bool = True) -> str:
        """The report as a complete document (`standalone`) or as a fragment for a notebook output (its CSS scoped
        under .po-report)."""
        return ENV.get_template(self.template).render(
            self.page_context(), title=self.title(), subtitle=self.subtitle(),
            footer=self.footer() if footer else "", standalone=standalone)

    def fragment(self) -> str:
        """The report as an HTML fragment (for a notebook output)."""
        return self.render(standalone=False)

    def to_html(self) -> str:
        """A complete, self-contained HTML document (no script, no external resource)."""
        return self.render(standalone=True)

    def _repr_html_(self) -> str:
        return self.fragment()

    def write(self, out_dir: str | Path, name: str | None = None) -> tuple[Path, Path]:
        """Write `<name>.html` (the page) and `<name>.json` (to_dict()) into `out_dir`; returns both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = name or self.page_name
        page_path, data_path = out / f"{stem}.html", out / f"{stem}.json"
        page_path.write_text(self.to_html(), encoding="utf-8")
        data_path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return page_path, data_path


__all__ = ["ENV", "ReportPage", "Table", "cell", "num"]
