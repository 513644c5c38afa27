"""Charts as inline SVG: readable offline, no JavaScript, no fonts or files to fetch.

`bar_chart(categories, series)` draws vertical bars (stacked or side by side) with a y axis, month labels, a
legend, a `<title>` per bar (the browser shows it on hover) and a text description for screen readers. The SVG is a
string to put straight into an HTML page or a notebook output.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

# Okabe-Ito: told apart by people with colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#4D4D4D", "#F0E442",
           "#000000", "#999999", "#7B68EE")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def nice_max(value: float) -> tuple[float, float]:
    """A round upper bound for the axis and its tick step (1, 2 or 5 times a power of ten; 5 steps or fewer)."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 5
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * power
        if step >= raw:
            break
    step = max(step, 1.0) if value >= 1 else step
    return math.ceil(value / step) * step, step


def _fmt(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.1f}"


def bar_chart(categories: Sequence[str], series: dict[str, Sequence[float]], *, title: str, stacked: bool = True,
              width: int = 960, height: int = 320, y_label: str = "", chart_id: str = "chart",
              colors: Sequence[str] | None = None) -> str:
    """Bars per category (e.g. month), one colour per series; `stacked=False` puts the series side by side."""
    colors = list(colors or PALETTE)
    names = list(series)
    n = len(categories)
    left, right, top, bottom = 64, 16, 40 + 18 * ((len(names) + 3) // 4), 56
    plot_w, plot_h = max(width - left - right, 10), max(height - top - bottom, 10)
    totals = [sum(series[s][i] for s in names) if stacked else max([series[s][i] for s in names] or [0])
              for i in range(n)]
    top_value, step = nice_max(max(totals or [0]))
    scale = plot_h / top_value if top_value else 0
    slot = plot_w / max(n, 1)
    bar_w = slot * 0.72 if stacked else slot * 0.8 / max(len(names), 1)
    total_sum = sum(sum(v) for v in series.values())
    desc = (f"{title}. {n} {'category' if n == 1 else 'categories'} from {categories[0]} to {categories[-1]}; "
            f"total {_fmt(total_sum)}." if n else f"{title}: no data.")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="po-chart" data-chart="{_e(chart_id)}" role="img" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{_e(title)}" '
           f'style="font-family: system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif; '
           f'font-size: 11px; max-width: 100%; height: auto;">',
           f"<title>{_e(title)}</title><desc>{_e(desc)}</desc>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#111827">{_e(title)}</text>']
    # legend
    for i, name in enumerate(names):
        lx, ly = left + (i % 4) * 200, 30 + 18 * (i // 4)
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colors[i % len(colors)]}"/>'
                   f'<text x="{lx + 14}" y="{ly}" fill="#374151">{_e(name)}</text>')
    # grid and y axis
    ticks = int(round(top_value / step)) if step else 0
    for t in range(ticks + 1):
        v = t * step
        y = top + plot_h - v * scale
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">{_fmt(v)}</text>')
    if y_label:
        out.append(f'<text x="14" y="{top + plot_h / 2:.1f}" transform="rotate(-90 14 {top + plot_h / 2:.1f})" '
                   f'text-anchor="middle" fill="#6b7280">{_e(y_label)}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9ca3af"/>')
    # bars
    every = max(1, math.ceil(n / max(plot_w // 44, 1)))  # label spacing: about 44 px per label
    for i, cat in enumerate(categories):
        x0 = left + i * slot + (slot - (bar_w if stacked else bar_w * len(names))) / 2
        base = 0.0
        for j, name in enumerate(names):
            v = float(series[name][i] or 0)
            if v <= 0:
                continue
            h = v * scale
            if stacked:
                x, y = x0, top + plot_h - (base + v) * scale
                base += v
            else:
                x, y = x0 + j * bar_w, top + plot_h - h
            out.append(f'<rect class="po-bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 0.5, 0.8):.1f}" '
                       f'height="{max(h, 0.6):.1f}" fill="{colors[j % len(colors)]}"><title>{_e(cat)} · '
                       f'{_e(name)}: {_fmt(v)}</title></rect>')
        if i % every == 0:
            cx = left + i * slot + slot / 2
            out.append(f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" fill="#374151" '
                       f'transform="rotate(-40 {cx:.1f} {top + plot_h + 14})">{_e(cat)}</text>')
    if not total_sum:
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                   f'fill="#6b7280">nothing in this period</text>')
    out.append("</svg>")
    return "".join(out)


def month_range(first: str, last: str) -> list[str]:
    """'YYYY-MM' labels from `first` to `last`, both included."""
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


__all__ = ["bar_chart", "month_range", "nice_max", "PALETTE"]
