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

This module computes (`consent_report`); the report's data and page are in `consent_model.py` (the page's template
is `templates/consent.html.j2`), the SQL over the stores in `consent_sql.py`.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..consent import is_direct_marketing, list_records
from ..consent.records import GRANTED, hashes_of_values
from ..erasure.retention_sql import dialect_of
from ..ledger import add_months, audit
from ..map import ConsentProcessing, DataMap, Period, parse_period
from ..sources import CHUNK
from ..workspace import Workspace
from .consent_model import SAMPLE, Breach, ConsentReport, PurposeConsent
from .consent_sql import (
    GRANT,
    NO_PROOF,
    WITHDRAWAL,
    Events,
    as_dt,
    inside,
    latest_event,
    month_sql,
    no_proof,
    ts_param,
    withdrawal_windows,
)
from .retention_report import ReportError, parse_as_of

DEFAULT_STALE = Period(2, "years")


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
        if is_direct_marketing(dm, name):
            _purpose(report, dm, name)
    with ws.session():
        evq = Events(ws, cm.events, end)
        _company_counts(report, dm, evq, stale_before)
        for proc in cm.processing:
            _processing(ws, report, evq, proc, end)
        records = list_records(ws, until=end)
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


def _company_counts(report: ConsentReport, dm: DataMap, evq: Events, stale_before: dt.date) -> None:
    month = month_sql(evq.dialect, "t")
    rows = evq.run(f"SELECT p, a, {month} AS mo, count(*) AS n, sum(CASE WHEN a = 'G' AND {NO_PROOF} THEN 1 "
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
    cut = ts_param(evq.dialect, dt.datetime.combine(stale_before, dt.time()))
    # The current state of each (subject, purpose) is computed once (a materialised CTE) for the counts and both
    # samples: one window over the events instead of three.
    P = evq.con.param
    # Typed NULLs: PostgreSQL resolves an untyped NULL of a subquery to text, which no count column matches.
    sample = ("SELECT * FROM (SELECT '{kind}' AS k, p, a, CAST(NULL AS BIGINT) AS n, CAST(NULL AS BIGINT) AS st, "
              "CAST(NULL AS BIGINT) AS np, s, t, m, nv, "
              "row_number() OVER (ORDER BY t, s) AS o FROM l WHERE a = 'G' AND {cond} ORDER BY t, s LIMIT "
              + str(SAMPLE) + ") x{kind}")
    rows = evq.run(f"WITH l AS MATERIALIZED ({Events.LATEST}) "
                   f"SELECT 'c' AS k, p, a, count(*) AS n, sum(CASE WHEN a = 'G' AND t < {P} THEN 1 ELSE 0 END) AS st, "
                   f"sum(CASE WHEN a = 'G' AND {NO_PROOF} THEN 1 ELSE 0 END) AS np, NULL AS s, NULL AS t, NULL AS m, "
                   f"NULL AS nv, NULL AS o FROM l GROUP BY p, a UNION ALL "
                   + sample.format(kind="p", cond=NO_PROOF) + " UNION ALL " + sample.format(kind="s", cond=f"t < {P}"),
                   after=[cut, cut])
    for k, p, a, n, st, np, *_ in rows:
        if k != "c":
            continue
        pc = _purpose(report, dm, p)
        if a == GRANT:
            pc.granted_now += int(n)
            pc.stale += int(st or 0)
            pc.no_proof_now += int(np or 0)
        else:
            pc.withdrawn_now += int(n)
    for target, kind in ((report.no_proof_sample, "p"), (report.stale_sample, "s")):
        for _k, p, _a, _n, _st, _np, s, t, m, nv, _o in sorted((r for r in rows if r[0] == kind),
                                                                 key=lambda r: r[-1]):
            target.append({"subject": s, "purpose": p, "granted_at": as_dt(t), "method": m, "notice": nv})


def _processing(ws: Workspace, report: ConsentReport, evq: Events, proc: ConsentProcessing,
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
                       after=[proc.purpose, ts_param(pdialect, end)])
        for s, t, wt, *k in rows:
            report.breaches.append(Breach(s, proc.purpose, proc.dataset, ",".join(map(str, k)), as_dt(t),
                                          as_dt(wt)))
        # No grant at or before the processing: no grant at all, or the subject's first grant comes later (one
        # grouped join instead of a correlated NOT EXISTS).
        n = evq.run(f"WITH fg AS (SELECT s, min(t) AS ft FROM {{ev}} e0 WHERE p = {P} AND a = 'G' GROUP BY s), "
                    f"pr AS ({pr_sql}) SELECT count(*) FROM pr LEFT JOIN fg ON fg.s = pr.s "
                    f"WHERE fg.ft IS NULL OR pr.t < fg.ft", after=[proc.purpose, ts_param(pdialect, end)])
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
        timelines.setdefault(s, []).append((as_dt(t), a))
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
        for s, t, *k in pcon.execute(sql, [*part, ts_param(pdialect, earliest), ts_param(pdialect, end)]).rows:
            subject = back.get(str(s), s)
            when = as_dt(t)
            wt = inside(windows.get(subject, []), when)
            if wt is not None:
                report.breaches.append(Breach(subject, proc.purpose, proc.dataset, ",".join(map(str, k)), when, wt,
                                              (by or {}).get((subject, wt), "company")))


def _overlay(ws: Workspace, report: ConsentReport, dm: DataMap, evq: Events, records: list, end: dt.datetime,
             stale_before: dt.date) -> None:
    """Combine privacyops' consent records with the company's events: match subjects by keyed hash, recompute the
    state and the processing after withdrawal of the subjects privacyops holds records for."""
    cm = dm.consent
    report.privacyops_records = len(records)
    for r in records:
        pc = _purpose(report, dm, r.purpose)
        if r.action == GRANTED:
            pc.privacyops_grants += 1
        else:
            pc.privacyops_withdrawals += 1
        slot = report.monthly.setdefault(f"{r.occurred_at:%Y-%m}", {"granted": 0, "withdrawn": 0})
        slot["granted" if r.action == GRANTED else "withdrawn"] += 1
    # Which company subject is behind each hash: hash every subject value the events and the processing hold.
    values: set[Any] = {v for (v,) in evq.con.execute(
        f"SELECT DISTINCT {evq.con.quote(cm.events.subject)} FROM {evq.con.relation(evq.ds)}").rows}
    for proc in cm.processing:
        pds = dm.datasets[proc.dataset]
        pcon = ws.connector(pds.source)
        values |= {v for (v,) in pcon.execute(f"SELECT DISTINCT {pcon.quote(proc.subject)} FROM "
                                               f"{pcon.relation(pds)}").rows}
    by_hash = hashes_of_values(ws, (v for v in values if v is not None))
    mine: dict[tuple[Any, str], list[tuple]] = {}  # (subject value or hash, purpose) -> privacyops events
    for r in records:
        subject = by_hash.get(r.subject_hash, ("hash", r.subject_hash))
        a = GRANT if r.action == GRANTED else WITHDRAWAL
        mine.setdefault((subject, r.purpose), []).append((r.occurred_at, a, r.method, r.notice_version, "privacyops"))
    report.privacyops_unmatched = sum(1 for (s, _), evs in mine.items() if isinstance(s, tuple) for _ in evs)
    matched = sorted({s for (s, _) in mine if not isinstance(s, tuple)}, key=str)
    company: dict[tuple[Any, str], list[tuple]] = {}
    for i in range(0, len(matched), CHUNK):
        part = matched[i:i + CHUNK]
        P = evq.con.param
        for s, p, a, t, m, nv in evq.run(f"SELECT s, p, a, t, m, nv FROM {{ev}} ev WHERE a IN ('G', 'W') AND s IN "
                                         f"({', '.join([P] * len(part))})", after=part):
            company.setdefault((s, str(p)), []).append((as_dt(t), a, m, nv, "company"))
    cut = dt.datetime.combine(stale_before, dt.time())

    def contribute(pc: PurposeConsent, latest: tuple | None, sign: int) -> None:
        if latest is None:
            return
        t, a, m, nv, _ = latest
        if a == GRANT:
            pc.granted_now += sign
            pc.stale += sign * (t < cut)
            pc.no_proof_now += sign * no_proof(m, nv)
        else:
            pc.withdrawn_now += sign

    for (s, purpose), evs in mine.items():
        pc = _purpose(report, dm, purpose)
        theirs = company.get((s, purpose), [])
        contribute(pc, latest_event(theirs), -1)
        contribute(pc, latest_event(theirs + evs), +1)
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
