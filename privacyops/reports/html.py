"""Self-contained HTML pages for the reports: one file, inline CSS, inline SVG charts, no script, nothing to fetch.

A page opens offline in any browser and can be mailed or archived as it is. Every value is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

CSS = """
.po-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #111827;
  max-width: 1100px; margin: 0 auto; padding: 16px 20px 40px 20px; font-size: 14px; line-height: 1.45; }
.po-report h1 { font-size: 22px; margin: 0 0 4px 0; }
.po-report h2 { font-size: 17px; margin: 28px 0 8px 0; padding-bottom: 4px; border-bottom: 1px solid #e5e7eb; }
.po-report h3 { font-size: 14px; margin: 16px 0 6px 0; }
.po-report .po-sub { color: #4b5563; margin: 0 0 14px 0; }
.po-report .po-figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px;
  margin: 12px 0 8px 0; }
.po-report .po-figure { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 10px; background: #f9fafb; }
.po-report .po-figure .po-value { font-size: 22px; font-weight: 650; }
.po-report .po-figure .po-label { color: #374151; font-size: 12px; }
.po-report .po-figure .po-note { color: #6b7280; font-size: 11px; }
.po-report .po-figure.po-bad { border-color: #fca5a5; background: #fef2f2; }
.po-report .po-figure.po-bad .po-value { color: #b91c1c; }
.po-report .po-figure.po-warn { border-color: #fcd34d; background: #fffbeb; }
.po-report .po-figure.po-good .po-value { color: #166534; }
.po-report table.po-table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0 10px 0; width: 100%;
  table-layout: auto; }
.po-report table.po-table th { background: #f3f4f6; text-align: left; padding: 4px 8px;
  border-bottom: 1px solid #d1d5db; vertical-align: bottom; }
.po-report table.po-table td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; }
.po-report table.po-table th, .po-report table.po-table td { white-space: normal; max-width: none;
  line-height: 1.35; border-left: none; border-right: none; }
.po-report table.po-table tbody tr:nth-child(odd) { background: transparent; }
.po-report table.po-table td.po-num, .po-report table.po-table th.po-num { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.po-report .po-scroll { overflow-x: auto; }
.po-report .po-muted { color: #6b7280; font-size: 12px; }
.po-report .po-finding { padding: 6px 10px; margin: 6px 0; border-left: 3px solid #d97706; background: #fffbeb; }
.po-report .po-finding.po-bad { border-left-color: #b91c1c; background: #fef2f2; }
.po-report .po-finding.po-ok { border-left-color: #16a34a; background: #f0fdf4; }
.po-report .po-chart-box { margin: 8px 0 4px 0; }
.po-report details { margin: 4px 0 10px 0; }
.po-report footer { margin-top: 32px; color: #6b7280; font-size: 11.5px; border-top: 1px solid #e5e7eb;
  padding-top: 8px; }
@media print { .po-report { max-width: none; } .po-report h2 { break-after: avoid; } }
"""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


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


def figure(key: str, label: str, value: Any, note: str = "", level: str = "") -> str:
    """One key figure; `data-figure` names it for machines (tests, scrapers), `level` is bad|warn|good."""
    shown = value if isinstance(value, str) else num(value)
    return (f'<div class="po-figure{" po-" + level if level else ""}" data-figure="{e(key)}">'
            f'<div class="po-value">{e(shown)}</div><div class="po-label">{e(label)}</div>'
            + (f'<div class="po-note">{e(note)}</div>' if note else "") + "</div>")


def figures(items: Iterable[str]) -> str:
    return '<div class="po-figures">' + "".join(items) + "</div>"


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[str] = (),
          empty: str = "none", limit: int | None = None, total: int | None = None, table_id: str = "") -> str:
    """A table; columns named in `numeric` are right-aligned with separators. With `limit`, the first rows and a
    line saying how many more there are (`total`: the full count when `rows` is already cut)."""
    rows = list(rows)
    count = total if total is not None else len(rows)
    shown = rows[:limit] if limit is not None else rows
    if not shown:
        return f'<p class="po-muted">{e(empty)}</p>'
    num_idx = {i for i, c in enumerate(columns) if c in numeric}
    head = "".join(f'<th{" class=po-num" if i in num_idx else ""}>{e(c)}</th>' for i, c in enumerate(columns))
    body = []
    for r in shown:
        cells = []
        for i, v in enumerate(r):
            if i in num_idx:
                cells.append(f'<td class="po-num">{e(num(v))}</td>')
            else:
                cells.append(f"<td>{e(_cell(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="po-muted">showing {len(shown):,} of {count:,} (the full list is in the JSON file)</p>'
            if count > len(shown) else "")
    tid = f' id="{e(table_id)}"' if table_id else ""
    return (f'<div class="po-scroll"><table class="po-table"{tid}><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table></div>" + more)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return str(v)


def section(title: str, inner: str, *, intro: str = "", section_id: str = "") -> str:
    sid = f' id="{e(section_id)}"' if section_id else ""
    return (f"<section{sid}><h2>{e(title)}</h2>" + (f"<p>{e(intro)}</p>" if intro else "") + inner + "</section>")


def finding(text: str, level: str = "") -> str:
    return f'<div class="po-finding{" po-" + level if level else ""}">{e(text)}</div>'


def chart(svg: str, caption: str = "") -> str:
    return f'<div class="po-chart-box">{svg}' + (f'<div class="po-muted">{e(caption)}</div>' if caption else "") + \
        "</div>"


def fragment(title: str, subtitle: str, body: str, footer: str = "") -> str:
    """The report as an HTML fragment (for a notebook output): its own CSS scoped under .po-report."""
    return (f"<style>{CSS}</style><div class=\"po-report\"><h1>{e(title)}</h1><p class=\"po-sub\">{e(subtitle)}</p>"
            f"{body}" + (f"<footer>{e(footer)}</footer>" if footer else "") + "</div>")


def page(title: str, subtitle: str, body: str, footer: str = "") -> str:
    """A complete, self-contained HTML document (no script, no external resource)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{e(title)}</title></head><body>{fragment(title, subtitle, body, footer)}</body></html>\n")


__all__ = ["CSS", "e", "num", "figure", "figures", "table", "section", "finding", "chart", "fragment", "page"]


class ReportPage:
    """What every report shares: its page (self-contained HTML), its fragment for notebooks, and writing
    `<name>.html` and `<name>.json`. A report provides title(), subtitle(), body_html(), footer(), to_dict() and
    its file name in `page_name`."""

    page_name = "report"

    def fragment(self) -> str:
        return fragment(self.title(), self.subtitle(), self.body_html(), self.footer())

    def to_html(self) -> str:
        return page(self.title(), self.subtitle(), self.body_html(), self.footer())

    def _repr_html_(self) -> str:
        return self.fragment()

    def write(self, out_dir: "str | Path", name: str | None = None) -> "tuple[Path, Path]":
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = name or self.page_name
        page_path, data_path = out / f"{stem}.html", out / f"{stem}.json"
        page_path.write_text(self.to_html(), encoding="utf-8")
        data_path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return page_path, data_path
