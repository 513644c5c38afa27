"""`privacyops report ...`: run a report notebook headless (papermill), keep the executed notebook as evidence and
convert it to HTML without code (nbconvert), next to the report's own `<name>.html` and `<name>.json`.

    out/04_retention_report/04_retention_report.ipynb   the executed notebook (evidence)
    out/04_retention_report/04_retention_report.html    the same, as a page without code
    out/04_retention_report/retention.html              the report (self-contained, charts inline)
    out/04_retention_report/retention.json              its figures

A failed run raises `NotebookRunError` (exit code 6) and still keeps the executed notebook (and its HTML).
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .runner import NOTEBOOKS_DIR, REPORT_NOTEBOOKS, NotebookRunError, run_notebook, skip_slow_iri_check

REPORTS = dict(zip(("retention", "consent", "requests"), REPORT_NOTEBOOKS))  # report -> its notebook

# The lab template without its <script> tags (require.js, MathJax and Mermaid from a CDN): the page needs no script
# and must not reach out to the network when opened.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""


@dataclass
class ReportRun:
    report: str
    notebook: Path  # the executed notebook
    html: Path  # the executed notebook as HTML without code
    outputs: list[Path]  # what the notebook wrote (the report's .html and .json)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.report, "notebook": str(self.notebook), "html": str(self.html),
                "outputs": [str(p) for p in self.outputs], "seconds": round(self.seconds, 2)}


def notebook_html(executed: Path, target: Path | None = None) -> Path:
    """The executed notebook as one HTML page without code or prompts (nbconvert's `--no-input`), no script."""
    skip_slow_iri_check()
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            extra_loaders=[jinja2.DictLoader({"privacyops_report.html.j2": _TEMPLATE})],
                            template_file="privacyops_report.html.j2")
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    target = target or executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def _preload_nbconvert() -> None:
    """Import nbconvert in the background while the kernel runs the notebook (this process only waits then): its
    import is most of what the notebook's HTML costs. Started after papermill is imported (they share nbformat, so
    the two imports never wait on each other's half-loaded modules)."""
    if "nbconvert.exporters.html" in sys.modules:
        return
    skip_slow_iri_check()
    import papermill  # noqa: F401  # first, in this thread

    threading.Thread(target=importlib.import_module, args=("nbconvert.exporters.html",), daemon=True,
                     name="preload-nbconvert").start()


def run_report(name: str, workspace: str | Path, out_dir: str | Path, as_of: dt.date | str | None = None,
               parameters: dict[str, Any] | None = None) -> ReportRun:
    """Run one report notebook headless into `out_dir/<notebook>/`; see the module docstring."""
    if name not in REPORTS:
        raise NotebookRunError(f"unknown report '{name}'; reports: {', '.join(REPORTS)}")
    path = NOTEBOOKS_DIR / REPORTS[name]
    as_of = as_of or dt.date.today()
    params = {"workspace": str(Path(workspace).resolve()),
              "as_of": as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of), **(parameters or {})}
    out_dir = Path(out_dir).resolve()
    target = out_dir / path.stem
    for stale in (target / f"{name}.html", target / f"{name}.json"):  # never hand on an earlier run's report
        stale.unlink(missing_ok=True)
    t0 = time.perf_counter()
    _preload_nbconvert()
    try:
        run = run_notebook(path, out_dir, params)
    except NotebookRunError:
        executed = target / path.name
        if executed.is_file():
            try:
                notebook_html(executed)
            except Exception:  # the evidence is the notebook itself; its HTML is a convenience
                pass
        raise
    page = notebook_html(run.output)
    outputs = [p for p in (target / f"{name}.html", target / f"{name}.json") if p.is_file()]
    return ReportRun(name, run.output, page, outputs, time.perf_counter() - t0)


__all__ = ["REPORTS", "ReportRun", "run_report", "notebook_html"]
