"""The consent report's data and page: consent per purpose, over time, what cannot be proven or is stale, and
processing after withdrawal (`consent_report.py` computes it; the page is `templates/consent.html.j2`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..values import json_safe
from . import html as H
from .charts import bar_chart, month_range

SAMPLE = 50
CHART_MONTHS = 60


@dataclass
class PurposeConsent:
    """Consent for one purpose on the report date."""

    purpose: str
    in_map: bool = True
    legal_basis: str | None = None
    granted_now: int = 0  # subjects whose latest event is a grant
    withdrawn_now: int = 0  # ... a withdrawal
    stale: int = 0  # current consents older than the stale age
    no_proof_now: int = 0  # current consents whose grant names no method or no notice version
    grant_events: int = 0
    withdrawal_events: int = 0
    no_proof_events: int = 0  # grant events without method or notice version
    other_events: int = 0  # events whose action is neither a grant nor a withdrawal word
    privacyops_grants: int = 0
    privacyops_withdrawals: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Breach:
    """One act of processing inside a withdrawal."""

    subject: Any
    purpose: str
    dataset: str
    key: str
    processed_at: dt.datetime
    withdrawn_at: dt.datetime
    withdrawal_by: str = "company"  # company (the map's consent events) or privacyops (a consent record)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(dict(self.__dict__))


@dataclass
class ConsentReport(H.ReportPage):
    """Consent on `as_of`: per purpose, over time, what cannot be proven or is stale, and processing after
    withdrawal; `consent_report()` computes it."""

    page_name = "consent"
    template = "consent.html.j2"
    as_of: dt.date
    organisation: str
    map_fingerprint: str
    configured: bool
    events_dataset: str | None
    processing: list[dict[str, str]]
    stale_after: str
    stale_before: dt.date | None
    purposes: dict[str, PurposeConsent] = field(default_factory=dict)
    monthly: dict[str, dict[str, int]] = field(default_factory=dict)  # YYYY-MM -> {granted, withdrawn}
    no_proof_sample: list[dict[str, Any]] = field(default_factory=list)
    stale_sample: list[dict[str, Any]] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    without_consent: dict[str, int | None] = field(default_factory=dict)
    privacyops_records: int = 0
    privacyops_unmatched: int = 0  # privacyops records whose subject has no event or processing in the company
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    # -- figures ----------------------------------------------------------------------------------------------------
    def _sum(self, attr: str) -> int:
        return sum(getattr(p, attr) for p in self.purposes.values())

    def breach_subjects(self) -> list[dict[str, Any]]:
        """Processing after withdrawal per subject, purpose and dataset (see `group_breaches`)."""
        return group_breaches(self.breaches)

    def figures(self) -> dict[str, Any]:
        subjects = {(str(b.subject), b.purpose) for b in self.breaches}
        return {"grant_events": self._sum("grant_events"), "withdrawal_events": self._sum("withdrawal_events"),
                "privacyops_grants": self._sum("privacyops_grants"),
                "privacyops_withdrawals": self._sum("privacyops_withdrawals"),
                "granted_now": self._sum("granted_now"), "withdrawn_now": self._sum("withdrawn_now"),
                "stale": self._sum("stale"), "no_proof_now": self._sum("no_proof_now"),
                "no_proof_events": self._sum("no_proof_events"), "other_events": self._sum("other_events"),
                "processing_after_withdrawal": len(self.breaches),
                "subjects_processed_after_withdrawal": len(subjects),
                "processing_without_consent": (sum(v for v in self.without_consent.values() if v is not None)
                                               if any(v is not None for v in self.without_consent.values())
                                               else None)}

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"report": "consent", "as_of": self.as_of, "organisation": self.organisation,
                          "map_fingerprint": self.map_fingerprint, "configured": self.configured,
                          "events_dataset": self.events_dataset, "processing": self.processing,
                          "stale_after": self.stale_after, "stale_before": self.stale_before,
                          "figures": self.figures(),
                          "purposes": {k: p.to_dict() for k, p in self.purposes.items()},
                          "monthly": self.monthly, "no_proof_sample": self.no_proof_sample,
                          "stale_sample": self.stale_sample,
                          "processing_after_withdrawal": self.breach_subjects(),
                          "without_consent": self.without_consent, "privacyops_records": self.privacyops_records,
                          "privacyops_unmatched": self.privacyops_unmatched, "notes": self.notes,
                          "seconds": round(self.seconds, 3)})

    def lines(self, subjects_shown: int = 15) -> list[str]:
        """The key figures as text, then per purpose and the first `subjects_shown` subjects processed after
        withdrawal."""
        if not self.configured:
            return ["Consent: the data map has no consent: section (where consent events and the processing that "
                    "needs consent live); see docs/datamap.md"]
        f = self.figures()
        out = [f"Consent as of {self.as_of} ({self.events_dataset}; privacyops records: {self.privacyops_records})",
               f"events: {f['grant_events']:,} grants, {f['withdrawal_events']:,} withdrawals"
               + (f", {f['other_events']:,} with an unknown action" if f["other_events"] else ""),
               f"current: {f['granted_now']:,} consents in force, {f['withdrawn_now']:,} withdrawn",
               f"without proof (no method or notice version): {f['no_proof_now']:,} in force "
               f"({f['no_proof_events']:,} grant events)",
               f"stale (in force, given before {self.stale_before}, older than {self.stale_after}): {f['stale']:,}",
               f"processing after withdrawal: {f['processing_after_withdrawal']:,} act(s), "
               f"{f['subjects_processed_after_withdrawal']:,} subject(s)"]
        if f["processing_without_consent"] is not None:
            out.append(f"processing with no consent given before it: {f['processing_without_consent']:,}")
        width = max([len(p) for p in self.purposes] + [7])
        out.append(f"  {'purpose':<{width}}{'in force':>10}{'withdrawn':>11}{'stale':>8}{'no proof':>10}")
        for p in self.purposes.values():
            out.append(f"  {p.purpose:<{width}}{p.granted_now:>10,}{p.withdrawn_now:>11,}{p.stale:>8,}"
                       f"{p.no_proof_now:>10,}" + ("" if p.in_map else "  (not a purpose of the map)"))
        groups = self.breach_subjects()
        for g in groups[:subjects_shown]:
            out.append(f"  subject {g['subject']}: {g['purpose']} withdrawn {g['withdrawn_at']:%Y-%m-%d %H:%M}, then "
                       f"{g['after_withdrawal']} in {g['dataset']} ({g['first']:%Y-%m-%d}"
                       + (f" … {g['last']:%Y-%m-%d}" if g["last"] != g["first"] else "") + ")")
        if len(groups) > subjects_shown:
            out.append(f"  … and {len(groups) - subjects_shown} more subject(s)")
        out += [f"note: {n}" for n in self.notes]
        return out

    # -- the page (templates/consent.html.j2) ------------------------------------------------------------------
    def chart_svg(self) -> str:
        """Consents granted and withdrawn per month (SVG)."""
        months = chart_months(self.monthly, self.as_of)
        series = {"granted": [self.monthly.get(m, {}).get("granted", 0) for m in months],
                  "withdrawn": [self.monthly.get(m, {}).get("withdrawn", 0) for m in months]}
        return bar_chart(months, series, title="Consents granted and withdrawn per month", stacked=False,
                         y_label="events", chart_id="consent-events", colors=("#009E73", "#D55E00"))

    def page_context(self) -> dict[str, Any]:
        """What the page shows: the figures, the chart and the tables' rows."""
        f = self.figures()
        counts = ["in force", "withdrawn", "stale", "in force without proof", "grant events", "withdrawal events",
                  "grants without proof", "privacyops grants", "privacyops withdrawals"]
        groups = self.breach_subjects()
        consents = ["subject", "purpose", "granted", "method", "notice version"]
        months = chart_months(self.monthly, self.as_of)
        return {
            "configured": self.configured, "f": f, "stale_after": self.stale_after, "stale_before": self.stale_before,
            "events_dataset": self.events_dataset, "notes": self.notes, "max_months": CHART_MONTHS,
            "chart": self.chart_svg(), "without_consent": self.without_consent,
            "processing": ", ".join(f"{p['dataset']} for {p['purpose']}" for p in self.processing),
            "purposes": H.Table(["purpose", "legal basis", *counts],
                                [(p.purpose + ("" if p.in_map else " (not in the map)"), p.legal_basis or "",
                                  p.granted_now, p.withdrawn_now, p.stale, p.no_proof_now, p.grant_events,
                                  p.withdrawal_events, p.no_proof_events, p.privacyops_grants, p.privacyops_withdrawals)
                                 for p in self.purposes.values()], numeric=counts, table_id="purposes"),
            "after_withdrawal": H.Table(
                ["subject", "purpose", "withdrawn", "by", "dataset", "acts after", "first", "last", "keys"],
                [(g["subject"], g["purpose"], g["withdrawn_at"], g["withdrawal_by"], g["dataset"],
                  g["after_withdrawal"], g["first"], g["last"], ", ".join(g["keys"][:10])) for g in groups],
                numeric=["acts after"], limit=200, empty="No processing after a withdrawal.",
                table_id="after-withdrawal"),
            "no_proof": H.Table(consents, _consent_rows(self.no_proof_sample), limit=SAMPLE, total=f["no_proof_now"],
                                empty="Every consent in force names its method and notice version."),
            "stale": H.Table(consents, _consent_rows(self.stale_sample), limit=SAMPLE, total=f["stale"],
                             empty="No stale consent."),
            "months": H.Table(["month", "granted", "withdrawn"],
                              [(m, *(self.monthly.get(m, {}).get(k, 0) for k in ("granted", "withdrawn")))
                               for m in reversed(months)], numeric=["granted", "withdrawn"]),
        }

    def title(self) -> str:
        return f"Consent report — {self.organisation}"

    def subtitle(self) -> str:
        return (f"As of {self.as_of} · consent (Art. 6(1)(a), 7 GDPR) · map {self.map_fingerprint[:12]} · computed "
                f"in {self.seconds:.1f} s")

    def footer(self) -> str:
        return ("Generated by privacyops. Subjects appear by their key in the company's systems; privacyops' own "
                "records hold them only as keyed hashes.")


def group_breaches(breaches: list[Breach]) -> list[dict[str, Any]]:
    """Processing after withdrawal per subject, purpose, dataset and withdrawal: when withdrawn, how many acts,
    first and last, their keys; the earliest first."""
    groups: dict[tuple, list[Breach]] = {}
    for b in breaches:
        groups.setdefault((str(b.subject), b.purpose, b.dataset, b.withdrawn_at), []).append(b)
    out = []
    for (_, purpose, dataset, wt), bs in groups.items():
        acts = sorted(b.processed_at for b in bs)
        out.append({"subject": bs[0].subject, "purpose": purpose, "dataset": dataset, "withdrawn_at": wt,
                    "withdrawal_by": bs[0].withdrawal_by, "after_withdrawal": len(bs), "first": acts[0],
                    "last": acts[-1], "keys": [b.key for b in sorted(bs, key=lambda b: b.processed_at)]})
    return sorted(out, key=lambda g: (g["first"], str(g["subject"])))


def chart_months(monthly: dict[str, dict[str, int]], as_of: dt.date) -> list[str]:
    """'YYYY-MM' from the first month with events to the report date's, the last CHART_MONTHS at most."""
    if not monthly:
        return []
    last = f"{as_of.year:04d}-{as_of.month:02d}"
    return month_range(min(monthly), max(max(monthly), last))[-CHART_MONTHS:]


def _consent_rows(sample: list[dict[str, Any]]) -> list[tuple]:
    return [(r["subject"], r["purpose"], r["granted_at"], r["method"] or "", r["notice"] or "") for r in sample]


__all__ = ["ConsentReport", "PurposeConsent", "Breach", "CHART_MONTHS", "SAMPLE", "chart_months",
           "group_breaches"]
