"""The consent report: who consented to what, who withdrew, what cannot be proven, what is stale — and processing
after withdrawal (a marketing e-mail sent after the person said no: processing without a legal basis).

Where the organisation's consent events and the processing that needs consent live comes from the map's
`consent:` section; privacyops' own records (`privacyops consent record|withdraw`, `privacyops.consent`) are
combined with them: the company's subject values are matched to privacyops' keyed hashes only when privacyops holds
records.

Computed set-based in the stores: grouped counts per purpose, action and month; the current state of each
(subject, purpose) by the latest event (a withdrawal wins a tie); processing inside a withdrawal — from a withdrawal
until the next event of that subject and purpose — joined in SQL when the events and the processing share a store.
When they do not (a consent log exported to CSV, sends in the database), the withdrawn subjects' timelines are read
and the processing is asked for those subjects only.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from ..consent import records as consent
from ..erasure.retention_sql import SQLITE, dialect_of
from ..ledger import add_months, audit
from ..map import ConsentEvents, ConsentProcessing, DataMap, Period, parse_period
from ..sources import CHUNK
from ..values import json_safe
from ..workspace import Workspace
from . import html as H
from .charts import bar_chart, month_range
from .retention_report import ReportError, parse_as_of

GRANT, WITHDRAWAL, OTHER = "G", "W", "O"
SAMPLE = 50
CHART_MONTHS = 60
DEFAULT_STALE = Period(2, "years")


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

    page_name = "consent"
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
        """Processing after withdrawal per subject, purpose and dataset: when withdrawn, how many acts, first/last."""
        groups: dict[tuple, list[Breach]] = {}
        for b in self.breaches:
            groups.setdefault((str(b.subject), b.purpose, b.dataset, b.withdrawn_at), []).append(b)
        out = []
        for (_, purpose, dataset, wt), bs in groups.items():
            acts = sorted(b.processed_at for b in bs)
            out.append({"subject": bs[0].subject, "purpose": purpose, "dataset": dataset, "withdrawn_at": wt,
                        "withdrawal_by": bs[0].withdrawal_by, "after_withdrawal": len(bs), "first": acts[0],
                        "last": acts[-1], "keys": [b.key for b in sorted(bs, key=lambda b: b.processed_at)]})
        return sorted(out, key=lambda g: (g["first"], str(g["subject"])))

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

    def text(self) -> str:
        return "\n".join(self.lines())

    # -- HTML -------------------------------------------------------------------------------------------------------
    def chart_months(self) -> list[str]:
        if not self.monthly:
            return []
        last = f"{self.as_of.year:04d}-{self.as_of.month:02d}"
        months = month_range(min(self.monthly), max(max(self.monthly), last))
        return months[-CHART_MONTHS:]

    def chart_svg(self) -> str:
        months = self.chart_months()
        series = {"granted": [self.monthly.get(m, {}).get("granted", 0) for m in months],
                  "withdrawn": [self.monthly.get(m, {}).get("withdrawn", 0) for m in months]}
        return bar_chart(months, series, title="Consents granted and withdrawn per month", stacked=False,
                         y_label="events", chart_id="consent-events", colors=("#009E73", "#D55E00"))

    def body_html(self) -> str:
        if not self.configured:
            return H.finding("The data map has no consent: section, so there is nothing to report: name where the "
                             "consent events and the processing that needs consent live (docs/datamap.md).", "bad")
        f = self.figures()
        figs = H.figures([
            H.figure("processing_after_withdrawal", "processing acts after withdrawal",
                     f["processing_after_withdrawal"],
                     f"{f['subjects_processed_after_withdrawal']:,} subject(s)",
                     "bad" if f["processing_after_withdrawal"] else "good"),
            H.figure("withdrawals", "withdrawals", f["withdrawal_events"] + f["privacyops_withdrawals"],
                     f"{f['privacyops_withdrawals']:,} recorded in privacyops"),
            H.figure("granted_now", "consents in force", f["granted_now"]),
            H.figure("withdrawn_now", "withdrawn (latest event)", f["withdrawn_now"]),
            H.figure("no_proof_now", "in force without proof", f["no_proof_now"], "no method or notice version",
                     "bad" if f["no_proof_now"] else "good"),
            H.figure("stale", f"stale (older than {self.stale_after})", f["stale"], level="warn" if f["stale"] else ""),
        ])
        purposes = H.table(["purpose", "legal basis", "in force", "withdrawn", "stale", "in force without proof",
                            "grant events", "withdrawal events", "grants without proof", "privacyops grants",
                            "privacyops withdrawals"],
                           [(p.purpose + ("" if p.in_map else " (not in the map)"), p.legal_basis or "",
                             p.granted_now, p.withdrawn_now, p.stale, p.no_proof_now, p.grant_events,
                             p.withdrawal_events, p.no_proof_events, p.privacyops_grants, p.privacyops_withdrawals)
                            for p in self.purposes.values()],
                           numeric=["in force", "withdrawn", "stale", "in force without proof", "grant events",
                                    "withdrawal events", "grants without proof", "privacyops grants",
                                    "privacyops withdrawals"], table_id="purposes")
        groups = self.breach_subjects()
        breach_html = H.table(["subject", "purpose", "withdrawn", "by", "dataset", "acts after", "first", "last",
                               "keys"],
                              [(g["subject"], g["purpose"], g["withdrawn_at"], g["withdrawal_by"], g["dataset"],
                                g["after_withdrawal"], g["first"], g["last"], ", ".join(g["keys"][:10]))
                               for g in groups], numeric=["acts after"], limit=200,
                              empty="No processing after a withdrawal.", table_id="after-withdrawal")
        if groups:
            breach_html = H.finding(f"{f['processing_after_withdrawal']:,} act(s) of processing after the subject "
                                    f"withdrew consent ({f['subjects_processed_after_withdrawal']:,} subject(s)): "
                                    f"processing without a legal basis (Art. 6(1), 7(3)). Stop it at the source, "
                                    f"check the suppression list, and assess whether to notify.", "bad") + breach_html
        wc = "".join(f"<p>{H.e(ds)}: {H.num(n) if n is not None else 'not computed (another store)'} act(s) with no "
                     f"consent given before them</p>" for ds, n in self.without_consent.items())
        proof = H.table(["subject", "purpose", "granted", "method", "notice version"],
                        [(r["subject"], r["purpose"], r["granted_at"], r["method"] or "", r["notice"] or "")
                         for r in self.no_proof_sample], limit=SAMPLE, total=f["no_proof_now"],
                        empty="Every consent in force names its method and notice version.")
        stale = H.table(["subject", "purpose", "granted", "method", "notice version"],
                        [(r["subject"], r["purpose"], r["granted_at"], r["method"] or "", r["notice"] or "")
                         for r in self.stale_sample], limit=SAMPLE, total=f["stale"], empty="No stale consent.")
        parts = [figs,
                 H.section("Processing after withdrawal", breach_html + wc,
                           intro="Processing that needs consent (" + ", ".join(
                               f"{p['dataset']} for {p['purpose']}" for p in self.processing) +
                           ") after the subject's latest consent event was a withdrawal.", section_id="withdrawal"),
                 H.section("Consent per purpose", purposes,
                           intro=f"Current state per subject and purpose: the latest event decides (a withdrawal wins "
                                 f"a tie). Events from {self.events_dataset} and privacyops' consent records.",
                           section_id="per-purpose"),
                 H.section("Grants and withdrawals over time", H.chart(self.chart_svg(), "Events per month (the "
                           f"last {CHART_MONTHS} months at most).") + self._month_table(), section_id="chart"),
                 H.section("Consents without proof", proof,
                           intro="Consents in force whose grant names no method or no notice version: the "
                                 "controller must be able to demonstrate consent (Art. 7(1)).", section_id="no-proof"),
                 H.section(f"Stale consents (older than {self.stale_after})", stale,
                           intro=f"Consents in force given before {self.stale_before}: re-confirm them or stop relying "
                                 f"on them.", section_id="stale")]
        if self.notes:
            parts.append(H.section("Notes", "".join(H.finding(n) for n in self.notes)))
        return "".join(parts)

    def _month_table(self) -> str:
        months = self.chart_months()
        rows = [(m, self.monthly.get(m, {}).get("granted", 0), self.monthly.get(m, {}).get("withdrawn", 0))
                for m in reversed(months)]
        return ("<details><summary>The figures behind the chart</summary>" +
                H.table(["month", "granted", "withdrawn"], rows, numeric=["granted", "withdrawn"]) + "</details>")

    def title(self) -> str:
        return f"Consent report — {self.organisation}"

    def subtitle(self) -> str:
        return (f"As of {self.as_of} · consent (Art. 6(1)(a), 7 GDPR) · map {self.map_fingerprint[:12]} · computed "
                f"in {self.seconds:.1f} s")

    def footer(self) -> str:
        return ("Generated by privacyops. Subjects appear by their key in the company's systems; privacyops' own "
                "records hold them only as keyed hashes.")


# ---------------------------------------------------------------------------------------------------------------
# SQL over the company's stores.


def _ts_param(dialect: str, value: dt.datetime | dt.date) -> Any:
    if dialect == SQLITE:
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return value


def _as_dt(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return _as_dt(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _month_sql(dialect: str, expr: str) -> str:
    if dialect == SQLITE:
        return f"strftime('%Y-%m', {expr})"
    if dialect == "postgres":
        return f"to_char({expr}, 'YYYY-MM')"
    return f"strftime({expr}, '%Y-%m')"


_NO_PROOF = "(m IS NULL OR CAST(m AS VARCHAR(200)) = '' OR nv IS NULL OR CAST(nv AS VARCHAR(200)) = '')"


class _Events:
    """The normalised events subquery: s (subject), p (purpose), a (G/W/O), t (when), m (method), nv (notice)."""

    def __init__(self, ws: Workspace, ev: ConsentEvents, end: dt.datetime):
        dm = ws.datamap
        self.ds = dm.datasets[ev.dataset]
        self.con = ws.connector(self.ds.source)
        self.dialect = dialect_of(dm.sources[self.ds.source].kind)
        self.ev = ev
        q, P = self.con.quote, self.con.param
        act = q(ev.action)
        withdrawn, granted = ", ".join([P] * len(ev.withdrawn)), ", ".join([P] * len(ev.granted))
        method, notice = (q(ev.method) if ev.method else "NULL"), (q(ev.notice) if ev.notice else "NULL")
        self.sql = (f"SELECT {q(ev.subject)} AS s, {q(ev.purpose)} AS p, CASE WHEN {act} IN ({withdrawn}) THEN 'W' "
                    f"WHEN {act} IN ({granted}) THEN 'G' ELSE 'O' END AS a, {q(ev.at)} AS t, {method} AS m, "
                    f"{notice} AS nv FROM {self.con.relation(self.ds)} WHERE {q(ev.at)} < {P}")
        self.params = [*ev.withdrawn, *ev.granted, _ts_param(self.dialect, end)]

    def run(self, sql: str, before: Sequence[Any] = (), after: Sequence[Any] = ()) -> list[tuple]:
        """`sql` with `{ev}` standing for the events subquery; `before` / `after`: parameters around it."""
        return self.con.execute(sql.replace("{ev}", f"({self.sql})"), [*before, *self.params, *after]).rows

    LATEST = ("SELECT s, p, a, t, m, nv FROM (SELECT s, p, a, t, m, nv, row_number() OVER (PARTITION BY s, p ORDER "
              "BY t DESC, a DESC) AS rn FROM {ev} ev WHERE a IN ('G', 'W')) x WHERE rn = 1")


def _timeline_key(e: tuple) -> tuple:
    return (e[0], e[1])  # (t, a): a grant sorts before a withdrawal at the same moment


def withdrawal_windows(events: Iterable[tuple[dt.datetime, str]]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """[(withdrawn at, next event or None)] of one subject and purpose: processing inside a window is processing
    after withdrawal. The same rule the SQL applies."""
    ev = sorted(((t, a) for t, a in events if a in (GRANT, WITHDRAWAL)), key=_timeline_key)
    return [(t, ev[i + 1][0] if i + 1 < len(ev) else None) for i, (t, a) in enumerate(ev) if a == WITHDRAWAL]


def inside(windows: list[tuple[dt.datetime, dt.datetime | None]], t: dt.datetime) -> dt.datetime | None:
    for start, end in windows:
        if t > start and (end is None or t < end):
            return start
    return None


def _latest(events: Iterable[tuple]) -> tuple | None:
    """The deciding event (t, a, m, nv, ...) of one subject and purpose: the latest; a withdrawal wins a tie."""
    ev = [e for e in events if e[1] in (GRANT, WITHDRAWAL)]
    return max(ev, key=_timeline_key) if ev else None


def _no_proof(m: Any, nv: Any) -> bool:
    return m is None or str(m) == "" or nv is None or str(nv) == ""


def consent_report(ws: Workspace, as_of: dt.date | str | None = None, *, stale_after: str | Period | None = None,
                   audit_log: bool = True) -> ConsentReport:
    """Consent on `as_of` (default today; events up to the end of that day). See the module docstring."""
    as_of = parse_as_of(as_of)
    t0 = time.perf_counter()
    dm = ws.datamap
    cm = dm.consent
    stale = _period(stale_after) or (cm.stale_after if cm else None) or DEFAULT_STALE
    stale_before = _minus(as_of, stale)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    report = ConsentReport(as_of, dm.organisation.name, dm.fingerprint, cm is not None,
                           cm.events.dataset if cm else None,
                           [{"dataset": p.dataset, "purpose": p.purpose, "subject": p.subject, "at": p.at}
                            for p in (cm.processing if cm else ())], str(stale), stale_before)
    if cm is None:
        report.seconds = time.perf_counter() - t0
        return report
    for name in dm.purposes:
        if consent.is_direct_marketing(dm, name):
            _purpose(report, dm, name)
    with ws.session():
        evq = _Events(ws, cm.events, end)
        _company_counts(report, dm, evq, stale_before)
        for proc in cm.processing:
            _processing(ws, report, evq, proc, end)
        records = consent.list_records(ws, until=end)
        if records:
            _overlay(ws, report, dm, evq, records, end, stale_before)
    report.seconds = time.perf_counter() - t0
    if audit_log:
        f = report.figures()
        audit.record(ws, "report.consent", {"as_of": as_of.isoformat(), "withdrawals": f["withdrawal_events"],
                                            "processing_after_withdrawal": f["processing_after_withdrawal"],
                                            "subjects": f["subjects_processed_after_withdrawal"]})
    return report


def _period(value: str | Period | None) -> Period | None:
    if value is None or value == "":
        return None
    if isinstance(value, Period):
        return value

    got = parse_period(str(value))
    if got is None:
        raise ReportError(f"stale_after '{value}' is not a period; write e.g. '2 years', '18 months'")
    return got


def _minus(day: dt.date, period: Period) -> dt.date:
    if period.unit in ("days", "weeks"):
        return day - dt.timedelta(days=period.amount * (7 if period.unit == "weeks" else 1))
    return add_months(day, -period.amount * (12 if period.unit == "years" else 1))


def _purpose(report: ConsentReport, dm: DataMap, name: Any) -> PurposeConsent:
    key = str(name)
    if key not in report.purposes:
        p = dm.purposes.get(key)
        report.purposes[key] = PurposeConsent(key, p is not None, p.legal_basis if p else None)
    return report.purposes[key]


def _company_counts(report: ConsentReport, dm: DataMap, evq: _Events, stale_before: dt.date) -> None:
    month = _month_sql(evq.dialect, "t")
    rows = evq.run(f"SELECT p, a, {month} AS mo, count(*) AS n, sum(CASE WHEN a = 'G' AND {_NO_PROOF} THEN 1 "
                   f"ELSE 0 END) AS np FROM {{ev}} ev GROUP BY p, a, {month}")
    for p, a, mo, n, np in rows:
        pc = _purpose(report, dm, p)
        n, np = int(n), int(np or 0)
        if a == GRANT:
            pc.grant_events += n
            pc.no_proof_events += np
        elif a == WITHDRAWAL:
            pc.withdrawal_events += n
        else:
            pc.other_events += n
        if a in (GRANT, WITHDRAWAL) and mo:
            slot = report.monthly.setdefault(str(mo), {"granted": 0, "withdrawn": 0})
            slot["granted" if a == GRANT else "withdrawn"] += n
    cut = _ts_param(evq.dialect, dt.datetime.combine(stale_before, dt.time()))
    rows = evq.run(f"SELECT p, a, count(*) AS n, sum(CASE WHEN a = 'G' AND t < {evq.con.param} THEN 1 ELSE 0 END), "
                   f"sum(CASE WHEN a = 'G' AND {_NO_PROOF} THEN 1 ELSE 0 END) FROM ({_Events.LATEST}) l GROUP BY p, a",
                   before=[cut])
    for p, a, n, st, np in rows:
        pc = _purpose(report, dm, p)
        if a == GRANT:
            pc.granted_now += int(n)
            pc.stale += int(st or 0)
            pc.no_proof_now += int(np or 0)
        else:
            pc.withdrawn_now += int(n)
    sample = ("SELECT s, p, t, m, nv FROM ({latest}) l WHERE a = 'G' AND {cond} ORDER BY t, s LIMIT " + str(SAMPLE))
    for target, cond, before in ((report.no_proof_sample, _NO_PROOF, []),
                                 (report.stale_sample, f"t < {evq.con.param}", [cut])):
        for s, p, t, m, nv in evq.run(sample.format(latest=_Events.LATEST, cond=cond), after=before):
            target.append({"subject": s, "purpose": p, "granted_at": _as_dt(t), "method": m, "notice": nv})


def _processing(ws: Workspace, report: ConsentReport, evq: _Events, proc: ConsentProcessing,
                end: dt.datetime) -> None:
    dm = ws.datamap
    pds = dm.datasets[proc.dataset]
    same_store = pds.source == evq.ds.source
    pcon = ws.connector(pds.source)
    q = pcon.quote
    keys = ", ".join(f"{q(c)} AS k{i}" for i, c in enumerate(pds.primary_key))
    kcols = ", ".join(f"pr.k{i}" for i in range(len(pds.primary_key)))
    pr_sql = (f"SELECT {q(proc.subject)} AS s, {q(proc.at)} AS t, {keys} FROM {pcon.relation(pds)} "
              f"WHERE {q(proc.at)} < {pcon.param}")
    pdialect = dialect_of(dm.sources[pds.source].kind)
    if same_store:
        P = evq.con.param
        rows = evq.run(f"WITH ev AS (SELECT * FROM {{ev}} e0 WHERE p = {P} AND a IN ('G', 'W')), "
                       f"tl AS (SELECT s, t, a, lead(t) OVER (PARTITION BY s ORDER BY t, a) AS nt FROM ev), "
                       f"w AS (SELECT s, t AS wt, nt FROM tl WHERE a = 'W'), pr AS ({pr_sql}) "
                       f"SELECT pr.s, pr.t, w.wt, {kcols} FROM pr JOIN w ON pr.s = w.s AND pr.t > w.wt AND "
                       f"(w.nt IS NULL OR pr.t < w.nt) ORDER BY pr.s, pr.t",
                       after=[proc.purpose, _ts_param(pdialect, end)])
        for s, t, wt, *k in rows:
            report.breaches.append(Breach(s, proc.purpose, proc.dataset, ",".join(map(str, k)), _as_dt(t),
                                          _as_dt(wt)))
        n = evq.run(f"WITH ev AS (SELECT * FROM {{ev}} e0 WHERE p = {P} AND a = 'G'), pr AS ({pr_sql}) "
                    f"SELECT count(*) FROM pr WHERE NOT EXISTS (SELECT 1 FROM ev WHERE ev.s = pr.s AND ev.t <= pr.t)",
                    after=[proc.purpose, _ts_param(pdialect, end)])
        report.without_consent[proc.dataset] = int(n[0][0])
        return
    # Another store: read the timelines of the subjects who withdrew, then ask the processing for them only.
    P = evq.con.param
    report.without_consent[proc.dataset] = None
    report.notes.append(f"{proc.dataset} and {evq.ds.name} are in different stores: processing after withdrawal is "
                        f"checked subject by subject; processing with no consent at all is not computed")
    timelines: dict[Any, list[tuple]] = {}
    sql = evq.sql
    got = evq.con.execute(f"SELECT s, t, a FROM ({sql}) ev WHERE p = {P} AND a IN ('G', 'W') AND s IN "
                          f"(SELECT s FROM ({sql}) e2 WHERE p = {P} AND a = 'W') ORDER BY s, t",
                          [*evq.params, proc.purpose, *evq.params, proc.purpose]).rows
    for s, t, a in got:
        timelines.setdefault(s, []).append((_as_dt(t), a))
    _check_subjects(ws, report, proc, {s: withdrawal_windows(tl) for s, tl in timelines.items()}, end)


def _check_subjects(ws: Workspace, report: ConsentReport, proc: ConsentProcessing,
                    windows: dict[Any, list[tuple[dt.datetime, dt.datetime | None]]], end: dt.datetime,
                    by: dict[tuple[Any, dt.datetime], str] | None = None) -> None:
    """Processing rows of the given subjects that fall inside one of their withdrawal windows."""
    dm = ws.datamap
    pds = dm.datasets[proc.dataset]
    pcon = ws.connector(pds.source)
    q = pcon.quote
    subjects = [s for s, w in windows.items() if w]
    if not subjects:
        return
    values = pcon.coerce(pds, proc.subject, subjects)
    back = {str(v): s for v, s in zip(values, subjects)} if len(values) == len(subjects) else {str(s): s
                                                                                            for s in subjects}
    keys = ", ".join(q(c) for c in pds.primary_key)
    earliest = min(w[0][0] for w in windows.values() if w)
    pdialect = dialect_of(dm.sources[pds.source].kind)
    for i in range(0, len(values), CHUNK):
        part = values[i:i + CHUNK]
        sql = (f"SELECT {q(proc.subject)}, {q(proc.at)}, {keys} FROM {pcon.relation(pds)} WHERE {q(proc.subject)} IN "
               f"({', '.join([pcon.param] * len(part))}) AND {q(proc.at)} > {pcon.param} AND {q(proc.at)} < "
               f"{pcon.param} ORDER BY 1, 2")
        for s, t, *k in pcon.execute(sql, [*part, _ts_param(pdialect, earliest), _ts_param(pdialect, end)]).rows:
            subject = back.get(str(s), s)
            when = _as_dt(t)
            wt = inside(windows.get(subject, []), when)
            if wt is not None:
                report.breaches.append(Breach(subject, proc.purpose, proc.dataset, ",".join(map(str, k)), when, wt,
                                              (by or {}).get((subject, wt), "company")))


def _overlay(ws: Workspace, report: ConsentReport, dm: DataMap, evq: _Events, records: list, end: dt.datetime,
             stale_before: dt.date) -> None:
    """Combine privacyops' consent records with the company's events: match subjects by keyed hash, recompute the
    state and the processing after withdrawal of the subjects privacyops holds records for."""
    cm = dm.consent
    report.privacyops_records = len(records)
    for r in records:
        pc = _purpose(report, dm, r.purpose)
        if r.action == consent.GRANTED:
            pc.privacyops_grants += 1
        else:
            pc.privacyops_withdrawals += 1
        slot = report.monthly.setdefault(f"{r.occurred_at:%Y-%m}", {"granted": 0, "withdrawn": 0})
        slot["granted" if r.action == consent.GRANTED else "withdrawn"] += 1
    # Which company subject is behind each hash: hash every subject value the events and the processing hold.
    values: set[Any] = {v for (v,) in evq.con.execute(
        f"SELECT DISTINCT {evq.con.quote(cm.events.subject)} FROM {evq.con.relation(evq.ds)}").rows}
    for proc in cm.processing:
        pds = dm.datasets[proc.dataset]
        pcon = ws.connector(pds.source)
        values |= {v for (v,) in pcon.execute(f"SELECT DISTINCT {pcon.quote(proc.subject)} FROM "
                                               f"{pcon.relation(pds)}").rows}
    by_hash = consent.hashes_of_values(ws, (v for v in values if v is not None))
    mine: dict[tuple[Any, str], list[tuple]] = {}  # (subject value or hash, purpose) -> privacyops events
    for r in records:
        subject = by_hash.get(r.subject_hash, ("hash", r.subject_hash))
        a = GRANT if r.action == consent.GRANTED else WITHDRAWAL
        mine.setdefault((subject, r.purpose), []).append((r.occurred_at, a, r.method, r.notice_version, "privacyops"))
    report.privacyops_unmatched = sum(1 for (s, _), evs in mine.items() if isinstance(s, tuple) for _ in evs)
    matched = sorted({s for (s, _) in mine if not isinstance(s, tuple)}, key=str)
    company: dict[tuple[Any, str], list[tuple]] = {}
    for i in range(0, len(matched), CHUNK):
        part = matched[i:i + CHUNK]
        P = evq.con.param
        for s, p, a, t, m, nv in evq.run(f"SELECT s, p, a, t, m, nv FROM {{ev}} ev WHERE a IN ('G', 'W') AND s IN "
                                         f"({', '.join([P] * len(part))})", after=part):
            company.setdefault((s, str(p)), []).append((_as_dt(t), a, m, nv, "company"))
    cut = dt.datetime.combine(stale_before, dt.time())

    def contribute(pc: PurposeConsent, latest: tuple | None, sign: int) -> None:
        if latest is None:
            return
        t, a, m, nv, _ = latest
        if a == GRANT:
            pc.granted_now += sign
            pc.stale += sign * (t < cut)
            pc.no_proof_now += sign * _no_proof(m, nv)
        else:
            pc.withdrawn_now += sign

    for (s, purpose), evs in mine.items():
        pc = _purpose(report, dm, purpose)
        theirs = company.get((s, purpose), [])
        contribute(pc, _latest(theirs), -1)
        contribute(pc, _latest(theirs + evs), +1)
    # Processing after withdrawal of the matched subjects, on their combined timelines.
    for proc in cm.processing:
        subjects = [s for (s, p) in mine if p == proc.purpose and not isinstance(s, tuple)]
        if not subjects:
            continue
        report.breaches = [b for b in report.breaches if not (b.purpose == proc.purpose and b.dataset == proc.dataset
                                                              and b.subject in set(subjects))]
        windows, by = {}, {}
        for s in subjects:
            tl = company.get((s, proc.purpose), []) + mine.get((s, proc.purpose), [])
            windows[s] = withdrawal_windows((t, a) for t, a, *_ in tl)
            by.update({(s, t): src for t, a, _, _, src in tl if a == WITHDRAWAL})
        _check_subjects(ws, report, proc, windows, end, by)
    report.breaches.sort(key=lambda b: (str(b.subject), b.processed_at))


__all__ = ["consent_report", "ConsentReport", "PurposeConsent", "Breach", "withdrawal_windows", "inside"]
