"""The record of processing activities (Art. 30(1) GDPR), written from the data map.

One activity per purpose of the map, with every item Art. 30(1) lists:
(a) the controller's name and contact details and the DPO; (b) the purpose; (c) the categories of data subjects
(the `subject:` types of the datasets serving the purpose, or of the people their rows belong to) and of personal
data (the fideslang categories of their personal fields); (d) the categories of recipients, with their country;
(e) transfers to third countries and their safeguards (recipients and systems outside the EU/EEA); (f) the time
limits for erasure (the retention rules); (g) a general description of the technical and organisational security
measures (`organisation.security_measures` in the map, else "not described in the data map").

`ropa(ws)` returns it; `.write(out_dir)` writes `ropa.html` (self-contained, `templates/ropa.html.j2`) and `ropa.csv`
(one row per activity).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ledger import audit
from ..map import EU_EEA, DataMap, Dataset, data_categories
from ..values import csv_safe
from ..workspace import Workspace
from . import html as H

NOT_DESCRIBED = "not described in the data map"
NOT_STATED = "not stated in the data map"


@dataclass
class Activity:
    """One processing activity (a purpose of the map) with the items of Art. 30(1)(b)-(f)."""

    purpose: str
    description: str
    legal_basis: str
    legitimate_interest: str | None
    data_subjects: list[str]
    personal_data: list[str]  # "Name (fideslang.key)"
    datasets: list[str]
    systems: list[str]  # "source (kind, country)"
    recipients: list[str]  # "name — role, country"
    transfers: list[str]  # third-country transfers with safeguards
    time_limits: list[str]  # retention rules ("dataset: keep ... from ... (ground)")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Ropa(H.ReportPage):
    """The record of processing activities: the controller, one activity per purpose, the security measures."""

    page_name = "ropa"
    template = "ropa.html.j2"
    controller: dict[str, Any]
    activities: list[Activity]
    security_measures: list[str]
    map_fingerprint: str
    generated: dt.date = field(default_factory=dt.date.today)

    CSV_COLUMNS = ("controller", "controller_contact", "dpo", "activity (purpose)", "description", "legal basis",
                   "legitimate interest", "categories of data subjects", "categories of personal data", "datasets",
                   "systems", "categories of recipients", "third-country transfers and safeguards",
                   "time limits for erasure", "security measures")

    def csv_rows(self) -> list[list[str]]:
        c = self.controller
        measures = "; ".join(self.security_measures) or NOT_DESCRIBED
        return [[c["name"], "; ".join(x for x in (c.get("address"), c.get("contact")) if x), c.get("dpo") or "",
                 a.purpose, a.description, a.legal_basis, a.legitimate_interest or "", "; ".join(a.data_subjects),
                 "; ".join(a.personal_data), "; ".join(a.datasets), "; ".join(a.systems),
                 "; ".join(a.recipients) or "none", "; ".join(a.transfers) or "none",
                 "; ".join(a.time_limits), measures] for a in self.activities]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.CSV_COLUMNS)
        w.writerows([csv_safe(cell) for cell in row] for row in self.csv_rows())  # no cell runs as a formula
        return buf.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {"controller": self.controller, "activities": [a.to_dict() for a in self.activities],
                "security_measures": self.security_measures or NOT_DESCRIBED, "map_fingerprint": self.map_fingerprint,
                "generated": self.generated.isoformat()}

    # -- the page (templates/ropa.html.j2) -----------------------------------------------------------------------
    def page_context(self) -> dict[str, Any]:
        """What the page shows: the controller, one table per activity, the security measures."""
        c = self.controller
        controller = H.Table(["", ""], [("Controller", c["name"]), ("Address", c.get("address") or NOT_STATED),
                                        ("Contact", c.get("contact")),
                                        ("Data protection officer", c.get("dpo") or "none designated in the map"),
                                        ("Supervisory authority", c.get("authority"))], table_id="controller")
        activities = []
        for a in self.activities:
            interest = f"; legitimate interest: {a.legitimate_interest}" if a.legitimate_interest else ""
            rows = [("(b) Purpose", f"{a.description} (legal basis: {a.legal_basis}{interest})"),
                    ("(c) Categories of data subjects", "; ".join(a.data_subjects)),
                    ("(c) Categories of personal data", "; ".join(a.personal_data) or "none"),
                    ("Datasets and systems", "; ".join(a.datasets) + " — " + "; ".join(a.systems)),
                    ("(d) Categories of recipients", "; ".join(a.recipients) or "none"),
                    ("(e) Transfers to third countries and safeguards", "; ".join(a.transfers) or "none"),
                    ("(f) Time limits for erasure", "; ".join(a.time_limits))]
            activities.append((a.purpose, H.Table(["item", "entry"], rows)))
        return {"controller": controller, "activities": activities, "security_measures": self.security_measures,
                "not_described": NOT_DESCRIBED}

    def lines(self) -> list[str]:
        """One line per processing activity: purpose, legal basis, datasets."""
        return [self.subtitle()] + [f"  {a.purpose}: {a.legal_basis}; {len(a.datasets)} dataset(s)"
                                    for a in self.activities]

    def title(self) -> str:
        return f"Record of processing activities — {self.controller['name']}"

    def subtitle(self) -> str:
        return (f"Art. 30(1) GDPR · {len(self.activities)} processing activities · from the data map "
                f"{self.map_fingerprint[:12]} · {self.generated}")

    def footer(self) -> str:
        return ("Generated by privacyops from the data map (privacyops.yaml); keep the map current and this record "
                "follows.")

    def fragment(self) -> str:
        """The record as an HTML fragment for a notebook output (without the page's footer)."""
        return self.render(standalone=False, footer=False)

    def write(self, out_dir: str | Path, name: str | None = None) -> tuple[Path, Path]:
        """Write `ropa.html` (the page) and `ropa.csv` (one row per activity) into `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = name or self.page_name
        page, table = out / f"{stem}.html", out / f"{stem}.csv"
        page.write_text(self.to_html(), encoding="utf-8")
        table.write_text(self.to_csv(), encoding="utf-8")
        return page, table


def _category_names() -> dict[str, str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    known = data_categories()
    return {c.fides_key: c.name for c in DEFAULT_TAXONOMY.data_category if c.fides_key in known}


def subject_types(dm: DataMap, ds: Dataset, seen: frozenset[str] = frozenset()) -> set[str]:
    """Whose data a dataset holds: its own `subject:` type, else that of the datasets its rows belong to."""
    if ds.subject:
        return {ds.subject}
    out: set[str] = set()
    for r in ds.owner_references:
        parent = dm.datasets.get(r.to_dataset)
        if parent is not None and parent.name not in seen:
            out |= subject_types(dm, parent, seen | {ds.name})
    return out


def ropa(ws: Workspace, *, audit_log: bool = True) -> Ropa:
    """The Art. 30(1) record from the workspace's data map."""
    dm = ws.datamap
    org = dm.organisation
    names = _category_names()
    auth = org.authority
    controller = {"name": org.name, "address": org.address, "contact": org.contact, "dpo": org.dpo,
                  "authority": ", ".join(x for x in (auth.name, auth.country, auth.website) if x)}
    activities = []
    for purpose in dm.purposes.values():
        serving = [d for d in dm.datasets.values() if purpose.name in d.purposes]
        subjects = sorted({t for d in serving for t in subject_types(dm, d)})
        if any(not subject_types(dm, d) and any(f.personal for f in d.fields.values()) for d in serving):
            subjects.append("people identified only by their contact details (no subject type in the map: "
                            + ", ".join(d.name for d in serving if not subject_types(dm, d)
                                        and any(f.personal for f in d.fields.values())) + ")")
        cats = sorted({c for d in serving for f in d.fields.values() if f.personal for c in f.categories})
        sources = sorted({d.source for d in serving})
        systems = [f"{s} ({dm.sources[s].kind}, {dm.sources[s].location})" for s in sources if s in dm.sources]
        rec_names = sorted({r for d in serving for r in d.recipients})
        recipients, transfers = [], []
        for name in rec_names:
            r = dm.recipients[name]
            third = r.location and r.location not in EU_EEA
            recipients.append(f"{name}: {r.description or name} — {r.role or 'role not stated'}, "
                              f"{r.location or 'country not stated'}" + (" (third country)" if third else ""))
            if third:
                transfers.append(f"{name} ({r.location}): {r.safeguards or 'NO SAFEGUARDS DOCUMENTED'}")
        for s in sources:
            src = dm.sources.get(s)
            if src is not None and src.location not in EU_EEA:
                transfers.append(f"system {s} located in {src.location}: stored outside the EU/EEA")
        limits = []
        for d in serving:
            if d.retention and d.retention in dm.retention:
                rule = dm.retention[d.retention]
                limits.append(f"{d.name}: {rule.keep} from {rule.anchor} ({rule.ground})")
            elif any(f.personal for f in d.fields.values()):
                limits.append(f"{d.name}: NO TIME LIMIT SET in the data map")
        activities.append(Activity(
            purpose.name, purpose.description, purpose.legal_basis, purpose.legitimate_interest,
            subjects or [NOT_STATED], [f"{names.get(c, c)} ({c})" for c in cats], [d.name for d in serving],
            systems, recipients, transfers, limits or ["no personal data"]))
    record = Ropa(controller, activities, list(org.security_measures), dm.fingerprint)
    if audit_log:
        audit.record(ws, "report.ropa", {"activities": len(activities), "map_fingerprint": dm.fingerprint[:16]})
    return record


__all__ = ["ropa", "Ropa", "Activity", "subject_types", "NOT_DESCRIBED"]
