"""The lookup panel's results area: the summary tables, one accordion section per dataset, the context, the rows
under a shared identifier and the mentions — or, when several people match, the candidates table; and, for a person
an erasure removed, what it still keeps (under which rule, until when).

Widgets and HTML only; the panel (`lookup_panel.py`) makes the `lookup()` call and writes the status line.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..lookup import DatasetRecords, ErasureOnRecord, SubjectRecords
from .common import anchor_words, render
from .common import esc as _e
from .common import html_bundle as _html_bundle
from .common import table as _table
from .common import widget_bundle as _widget_bundle


class LookupResults:
    """The output area of the lookup panel; `rows` is how many rows a dataset shows."""

    def __init__(self, rows: int):
        self.rows = rows
        self.output = widgets.Output()
        self.accordion: widgets.Accordion | None = None  # one section per dataset of the result shown

    def clear(self) -> None:
        """Show nothing (closing the accordion's widgets, so none outlive the result they showed)."""
        if self.accordion is not None:
            for child in self.accordion.children:
                child.close()
            self.accordion.close()
            self.accordion = None
        self.output.outputs = ()

    def show_candidates(self, r: SubjectRecords) -> None:
        """The people an ambiguous search matched, as a table."""
        frame = r.candidates_frame()
        self.output.outputs = (_html_bundle(f"<h4>Candidates</h4>{_table(frame)}", frame.to_string(index=False)),)

    def show(self, r: SubjectRecords) -> None:
        """One person's records: the summary, the datasets (an accordion), then context, shared rows, mentions;
        then what an earlier erasure of theirs still keeps."""
        self.output.outputs = (self._summary_bundle(r), self._datasets_bundle(r), self._tail_bundle(r),
                               *((erasures_bundle(r.erasures, "Erased before: what is still kept"),)
                                 if r.erasures else ()))

    def show_erased(self, r: SubjectRecords) -> None:
        """A person whose records were erased: each erasure and what it still keeps."""
        self.output.outputs = (erasures_bundle(r.erasures, "Erased: what is still kept, under which rule, until "
                                                           "when"),)

    def _summary_bundle(self, r: SubjectRecords) -> dict[str, Any]:
        who = r.subject.label if r.subject else r.query
        ref = f" [{r.subject.ref}]" if r.subject else ""
        line = (f"{who}{ref}: {r.total_rows} records in {len(r.records)} datasets"
                f" · {sum(c.count for c in r.context.values())} context rows · {len(r.mentions)} mentions"
                f" · {r.elapsed_ms:.0f} ms")
        per_dataset, by_cat = r.to_frame(), r.by_category()
        per_dataset["retention"] = per_dataset["retention"].map(anchor_words)  # "from closed_at": "from closed at"
        return _html_bundle(
            f'<div class="po-summary">{_e(line)}</div>'
            f"<h4>Records per dataset</h4>{_table(per_dataset)}"
            f"<h4>By data category</h4>{_table(by_cat)}"
            f"<h4>Records, dataset by dataset</h4>",
            f"{line}\n\n{per_dataset.to_string(index=False)}\n\n{by_cat.to_string(index=False)}")

    def _datasets_bundle(self, r: SubjectRecords) -> dict[str, Any]:
        names = list(r.records)
        self.accordion = widgets.Accordion(
            children=[widgets.HTML(self._dataset_html(r.records[n])) for n in names],
            titles=tuple(f"{n} ({r.records[n].count})" for n in names))
        return _widget_bundle(self.accordion)

    def _tail_bundle(self, r: SubjectRecords) -> dict[str, Any]:
        tail = ["<h4>Context: shared reference data the records point at (not the subject's data)</h4>"]
        if r.context:
            for recs in r.context.values():
                tail.append(f'<div class="po-muted">{_e(recs.dataset)} ({recs.count}) — {_e("; ".join(recs.via))}'
                            f"</div>{self._rows_html(recs)}")
        else:
            tail.append('<div class="po-muted">none</div>')
        if r.shared:
            tail.append("<h4>Held under an identifier shared with another person (review before acting)</h4>")
            for recs in r.shared.values():
                tail.append(f'<div class="po-muted">{_e(recs.dataset)} ({recs.count}) — {_e("; ".join(recs.via))}'
                            f"</div>{self._rows_html(recs)}")
        tail.append("<h4>Mentions in other people's records</h4>")
        tail.append(_table(r.mentions_frame()) if r.mentions else '<div class="po-muted">none</div>')
        plain = ("context: " + (", ".join(f"{n} ({c.count})" for n, c in r.context.items()) or "none")
                 + ("\nshared identifier: " + ", ".join(f"{n} ({c.count})" for n, c in r.shared.items())
                    if r.shared else "")
                 + f"\nmentions: {len(r.mentions)}")
        return _html_bundle("".join(tail), plain)

    def _rows_html(self, recs: DatasetRecords) -> str:
        frame = recs.frame()
        note = ""
        if recs.count > self.rows:
            note = f'<div class="po-muted">first {self.rows} of {recs.count} rows</div>'
        return f"{_table(frame.head(self.rows))}{note}"

    def _dataset_html(self, recs: DatasetRecords) -> str:
        purposes = "; ".join(f"{p['name']} ({p['legal_basis']}): {p['description']}" for p in recs.purposes)
        ret = recs.retention
        retention = (anchor_words(f"{ret['name']}: keep {ret['keep']} from {ret['from']} — {ret['ground']}") if ret
                     else "no rule")
        facts = [("description", recs.description or "—"), ("source", f"{recs.source} ({recs.location})"),
                 ("purposes", purposes or "—"), ("retention", retention), ("found via", "; ".join(recs.via))]
        cats = pd.DataFrame([{"field": f, "categories": ", ".join(c)} for f, c in recs.categories.items()],
                            columns=["field", "categories"])
        return ('<div class="po-result"><dl class="po-facts">'
                + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"
                + f"{self._rows_html(recs)}<details><summary class=\"po-muted\">data categories per field"
                f"</summary>{_table(cats)}</details></div>")


def erasure_items(erasures: list[ErasureOnRecord]) -> list[dict[str, Any]]:
    """The erasures as the template shows them: dates as YYYY-MM-DD, the rule in words."""
    return [{"date": f"{e.executed_at:%Y-%m-%d}" if e.executed_at else "—", "case_id": e.case_id or "—",
             "certificate": e.certificate_name or "—",
             "certificate_path": e.certificate or "", "plan_id": e.plan_id, "unverified": e.status != "done",
             "kept": [{"dataset": k.dataset, "rows": k.rows, "restricted": k.restricted, "rule": k.rule_text(),
                       "until": k.until.isoformat() if k.until else "not yet known",
                       "erase_on": k.erase_on.isoformat() if k.erase_on else "checked on every due run"}
                      for k in e.kept]} for e in erasures]


def erasures_bundle(erasures: list[ErasureOnRecord], heading: str) -> dict[str, Any]:
    """The erasures of the person and what they keep: HTML (`erasures.html.j2`) and plain text."""
    plain = "\n".join([heading, *(line for e in erasures for line in
                                   [e.line(), *(f"  {k.dataset}: {k.rows} record(s), {k.rule_text()}; "
                                                f"{k.until_text()}" for k in e.kept)])])
    return _html_bundle(render("erasures.html.j2", heading=heading, erasures=erasure_items(erasures)), plain)
