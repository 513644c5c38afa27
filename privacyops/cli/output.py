"""Terminal output that fits the window: tables (rich) and wrapped text no wider than the terminal.

The width is $COLUMNS when set, else the terminal's, else 120 (a pipe or a file). Values are shown as people read
them: missing values (None, NaN, NaT) blank, dates without a time, long values cut with an ellipsis or wrapped.
Everything is rendered to text first and written with `click.echo`, so tests capture it like any other output.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

DEFAULT_WIDTH = 120
MIN_WIDTH = 40
BLANK = ""


def width() -> int:
    """The output width: $COLUMNS, else the terminal's (when stdout is one), else 120."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    try:
        if sys.stdout.isatty():
            return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    except (AttributeError, ValueError, OSError):
        pass
    return DEFAULT_WIDTH


def cell(value: Any, *, date_only: bool = False) -> str:
    """A value as a table shows it: missing values blank, dates ISO (a time only when it matters), lists joined."""
    if value is None:
        return BLANK
    try:
        pd = sys.modules.get("pandas")  # a pandas value exists only once pandas is loaded: never load it here
        if pd is None:
            raise ImportError
        if value is pd.NaT or (not isinstance(value, (str, bytes, list, tuple, dict)) and pd.isna(value)):
            return BLANK
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
    except (ImportError, TypeError, ValueError):
        pass
    if isinstance(value, float) and math.isnan(value):
        return BLANK
    if isinstance(value, dt.datetime):
        if date_only or (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    text = str(value)
    return BLANK if text in ("None", "NaT", "nan", "NaN", "<NA>") else text


COLUMN_GAP = 3  # what rich puts around a column here: one space of padding each side and the divider
FLOOR = 8  # one-line columns are not cut narrower than this while the line has room
MIN_COLUMN = 12  # a table shows only as many columns as fit at this width (narrower ones at theirs)


def fit_widths(natural: Sequence[int], budget: int, keep: Sequence[int] = ()) -> list[int]:
    """Column widths summing to at most `budget`: narrow columns (and those at the indexes `keep`) keep their
    natural width, the widest others are cut down to one common cap (a long free-text column gives way first)."""
    if sum(natural) <= budget:
        return list(natural)
    kept = sum(natural[i] for i in keep)
    if kept >= budget:  # even the kept columns do not fit: share the width among all
        keep, kept = (), 0
    others = [w for i, w in enumerate(natural) if i not in keep]
    floor = FLOOR if kept + sum(min(w, FLOOR) for w in others) <= budget else 1  # a column cut to 2 says nothing
    cap = max(others, default=1)
    while cap > floor and kept + sum(min(w, cap) for w in others) > budget:
        cap -= 1
    return [w if i in keep else min(w, cap) for i, w in enumerate(natural)]


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, wrap: Sequence[str] = (),
          right: Sequence[str] = (), keep: Sequence[str] = (), title: str | None = None) -> Any:
    """A rich table of `rows` under `columns` fitting the output width: one line per row, long values cut with
    "…", except the columns in `wrap` (wrapped at words); `right`: right-aligned columns (numbers); `keep`: columns
    never cut while others can give way."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from rich.cells import cell_len  # display width: a wide character takes two columns

    cells = [[cell(v) for v in r] for r in rows]
    natural = [max([cell_len(c), *(cell_len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    widths = _widths(list(columns), natural, wrap, keep)
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), expand=False,
              title=Text(title, style="bold") if title else None, title_justify="left", show_header=True)
    for c, w in zip(columns, widths):
        wrapped = c in wrap
        t.add_column(Text(c, style="bold", overflow="ellipsis", no_wrap=True), width=max(w, 1),
                     overflow="fold" if wrapped else "ellipsis", no_wrap=not wrapped,
                     justify="right" if c in right else "left")
    for r in cells:
        t.add_row(*(Text(v) for v in r))
    return t


def _widths(columns: list[str], natural: list[int], wrap: Sequence[str], keep: Sequence[str]) -> list[int]:
    """Widths for the columns: the wrapped ones (running text) share what the one-line columns leave, and keep at
    least a third of the line (their text wraps instead of being cut)."""
    budget = width() - COLUMN_GAP * len(columns)
    one_line = [i for i, c in enumerate(columns) if c not in wrap]
    wrapped = [i for i, c in enumerate(columns) if c in wrap]
    want = sum(natural[i] for i in wrapped)
    reserve = min(want, max(20 * len(wrapped), budget // 3)) if wrapped else 0
    fixed_min = sum(natural[i] if columns[i] in keep else min(natural[i], FLOOR) for i in one_line)
    if wrapped and budget - fixed_min < reserve:  # the one-line columns need it more; wrapped text still wraps
        reserve = max(budget - fixed_min, min(want, 16 * len(wrapped)))
    fixed = fit_widths([natural[i] for i in one_line], budget - reserve,
                       [k for k, i in enumerate(one_line) if columns[i] in keep])
    rest = fit_widths([natural[i] for i in wrapped], budget - sum(fixed))
    out = [0] * len(columns)
    for i, w in [*zip(one_line, fixed), *zip(wrapped, rest)]:
        out[i] = w
    return out


def frame_table(df: Any, *, max_columns: int | None = None, wrap: Sequence[str] = (), keep: Sequence[str] = (),
                title: str | None = None) -> tuple[Any, int]:
    """A DataFrame as a table: the first columns that fit the width at a readable size (or `max_columns`); returns
    the table and how many columns were left out."""
    cols = list(df.columns)
    numeric = [str(c) for c in cols if str(df[c].dtype).startswith(("int", "float", "Int", "Float"))]
    return rows_table(cols, list(df.itertuples(index=False, name=None)), numeric=numeric, max_columns=max_columns,
                      wrap=wrap, keep=keep, title=title)


def numeric_columns(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[list[str], list[list[Any]]]:
    """The columns a DataFrame of these rows would hold as numbers (int or float, not bool), and the rows as such a
    frame shows them (a column of whole numbers with a gap holds floats): tables print the same without pandas."""
    out, rows = [], [list(r) for r in rows]
    for i, c in enumerate(columns):
        values = [r[i] for r in rows]
        nums = [v for v in values if v is not None]
        if not nums or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nums):
            continue
        out.append(str(c))
        if len(nums) < len(values) or any(isinstance(v, float) for v in nums):
            for r in rows:
                r[i] = float("nan") if r[i] is None else float(r[i])
    return out, rows


def rows_table(cols: Sequence[Any], rows: Sequence[Sequence[Any]], *, numeric: Sequence[str] = (),
               max_columns: int | None = None, wrap: Sequence[str] = (), keep: Sequence[str] = (),
               title: str | None = None) -> tuple[Any, int]:
    """Rows as a table, as `frame_table` shows a DataFrame (`numeric`: right-aligned columns)."""
    from rich.cells import cell_len

    cols = list(cols)
    natural = [max([cell_len(str(c)), *(cell_len(cell(r[i])) for r in rows)]) for i, c in enumerate(cols)]
    n, used = 0, 0
    for w in natural[:max_columns or len(cols)]:
        need = min(w, MIN_COLUMN) + COLUMN_GAP
        if n and used + need > width():
            break
        n, used = n + 1, used + need
    right = [str(c) for c in cols[:n] if str(c) in numeric]
    return (table([str(c) for c in cols[:n]], [tuple(r[:n]) for r in rows], wrap=wrap, right=right, keep=keep,
                  title=title), len(cols) - n)


def erasures_out(erasures: Sequence[Any]) -> list[Any]:
    """What executed erasures of the person still keep (`lookup.ErasureOnRecord`): a line per erasure (case,
    date, certificate) and a table of the kept records per dataset, rule and until-date."""
    out: list[Any] = []
    for e in erasures:
        out.append(e.line())
        if e.kept:
            out.append(table(["dataset", "records", "restricted", "kept under", "kept until", "erased on"],
                             [(k.dataset, k.rows, k.restricted, k.rule_text(), k.until, k.erase_on or "not yet set")
                              for k in e.kept], wrap=["kept under"], right=["records", "restricted"],
                             keep=["dataset", "restricted", "kept until", "erased on"]))
    return out


def render(*items: Any) -> str:
    """`items` (text or rich renderables) as plain text at the output width; text is wrapped at words, and a
    word longer than the line is folded, so no line is wider than the width."""
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, width=width(), force_terminal=False, no_color=True, color_system=None,
                      highlight=False, markup=False, emoji=False, soft_wrap=False)
    for item in items:
        console.print(Text(item, overflow="fold") if isinstance(item, str) else item)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines())


def echo(*items: Any) -> None:
    """Print `items` (see `render`)."""
    click.echo(render(*items))


def quiet_broken_pipe() -> None:
    """The reader of our output went away (`privacyops … | head -1`): stop quietly with exit 0. Standard output is
    pointed at /dev/null first, so the interpreter's final flush does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # no real file descriptor (a test runner's capture): nothing left to flush
    sys.exit(0)
