"""SQL over the company's stores for the consent report: the normalised consent events, and the timeline rules
(the latest event decides; a withdrawal lasts until the next event) that the SQL and the Python checks share."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

from ..erasure.retention_sql import SQLITE, dialect_of
from ..map import ConsentEvents
from ..workspace import Workspace

GRANT, WITHDRAWAL, OTHER = "G", "W", "O"


def ts_param(dialect: str, value: dt.datetime | dt.date) -> Any:
    """A date or time as a query parameter: SQLite stores them as ISO text, the others compare the value."""
    if dialect == SQLITE:
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return value


def as_dt(value: Any) -> dt.datetime | None:
    """A store's date or time (a value, or ISO text) as a naive UTC datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return as_dt(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def month_sql(dialect: str, expr: str) -> str:
    """SQL for the 'YYYY-MM' of `expr` in the store's dialect."""
    if dialect == SQLITE:
        return f"strftime('%Y-%m', {expr})"
    if dialect == "postgres":
        return f"to_char({expr}, 'YYYY-MM')"
    return f"strftime({expr}, '%Y-%m')"


# A grant without proof: no method or no notice version (Art. 7(1): the controller must be able to show consent).
NO_PROOF = "(m IS NULL OR CAST(m AS VARCHAR(200)) = '' OR nv IS NULL OR CAST(nv AS VARCHAR(200)) = '')"


class Events:
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
        self.params = [*ev.withdrawn, *ev.granted, ts_param(self.dialect, end)]

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
    """The withdrawal whose window holds `t` (strictly after it, before the next event), else None."""
    for start, end in windows:
        if t > start and (end is None or t < end):
            return start
    return None


def latest_event(events: Iterable[tuple]) -> tuple | None:
    """The deciding event (t, a, m, nv, ...) of one subject and purpose: the latest; a withdrawal wins a tie."""
    ev = [e for e in events if e[1] in (GRANT, WITHDRAWAL)]
    return max(ev, key=_timeline_key) if ev else None


def no_proof(m: Any, nv: Any) -> bool:
    """A grant without method or notice version (the Python side of NO_PROOF)."""
    return m is None or str(m) == "" or nv is None or str(nv) == ""


__all__ = ["GRANT", "WITHDRAWAL", "OTHER", "NO_PROOF", "Events", "as_dt", "inside", "latest_event", "month_sql",
           "no_proof", "ts_param", "withdrawal_windows"]
