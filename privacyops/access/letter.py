"""The letter to the subject (`report.html` in the archive): a plain answer to an access or portability request.

It confirms that we process their data, points at the copy, and gives every item of Art. 15(1)(a)-(h) and 15(2)
GDPR tailored to this subject from the data map: per dataset found the purposes and legal bases (a), the categories
of data (b), the recipients (c), how long it is kept (d) and where it comes from (g); then their rights (e), the
supervisory authority (f), automated decision-making (h), transfers outside the EU/EEA and their safeguards (15(2)),
and what was left out of the copy and why (15(4)).

Every sentence lives in `wording.TEXTS[language]` (plain text with `$placeholders`); a new language is one more entry
with the same keys. `render_letter` fills the sentences into a plain context and renders `templates/letter.html.j2`
with autoescape on, so no value (a name, a description from the map, a ground) can inject markup. The page is
self-contained: inline CSS (`templates/letter.css`), no scripts, no external resources.

The letter speaks to the subject, not to the DPO: data is called by the map's `for_subject` text (else a plain
description, else the dataset's name in words: `wording.dataset_title`), never by a dataset id, a field name of the
map or how it is stored; login secrets get one sentence, never their names; the subject's name is greeted in natural
case; what the records point at is named (the products bought), from the label columns the plan adds.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..ledger import Case
from ..map import EU_EEA, Anchor, DataMap, Dataset
from ..templating import environment
from .plan import DatasetPlan, ExportPlan
from .wording import (
    DEFAULT_LANGUAGE,
    Say,
    category_label,
    dataset_title,
    field_title,
    human_field,
    natural_case,
)

_REFERS_SHOWN = 8  # names listed per reference in the copy's list; the rest are counted

# One environment for the package, built at import: templates are compiled once and cached, not per letter.
_ENV = environment(__package__)

# Sentences the letter shows as they are, filled with the common values only (organisation, contact, case id).
_AS_IS = ("copy_heading", "files_heading", "col_data", "col_records", "col_file", "datasets_heading", "rights_heading",
          "rights_intro", "rights_how", "complaint_heading", "complaint_text", "adm_heading", "adm_none",
          "transfers_heading", "transfers_intro", "transfers_none", "withheld_heading", "withheld_nothing", "closing",
          "signature")
_DESCRIBED_FILES = {"report.html": "file_report", "data.json": "file_data", "manifest.json": "file_manifest"}


def _related(dm: DataMap, ds: Dataset, via: str) -> str:
    """What a reference column points at, in words: the referenced dataset's kind of person (`member`), else the
    column without its key suffix (`member_id` -> `member`)."""
    ref = ds.reference(via)
    target = dm.datasets.get(ref.to_dataset) if ref else None
    if target is not None and target.subject:
        return human_field(target.subject)
    words = human_field(via)
    return re.sub(r"\s+(id|key|no|nr|number|ref)$", "", words) or words


def _anchor_field(dm: DataMap, ds: Dataset, anchor: Anchor) -> str:
    """The anchor's date field as the subject reads it (a field of the referenced row when it is through one)."""
    ref = ds.reference(anchor.via) if anchor.via else None
    return field_title(dm, ref.to_dataset if ref else ds.name, anchor.field)


def _anchor_text(say: Say, anchor: Anchor, other: str | None = None, field: str | None = None) -> str:
    """Where the period starts, in words; `other`: what an anchor through a reference points at (`member`);
    `field`: the date field in words (default: its name in words)."""
    field = field or human_field(anchor.field)
    if anchor.via and other:
        return say(f"anchor_via_{anchor.function or 'field'}", field=field, other=other)
    if anchor.function:
        return say(f"anchor_{anchor.function}", field=field)
    return say("anchor_field", field=field)


def _rule_text(say: Say, dm: DataMap, ds: Dataset) -> str:
    """`ds`'s own rule in words (a reference in its anchor is resolved through `ds`)."""
    rule = dm.retention[ds.retention]
    other = _related(dm, ds, rule.anchor.via) if rule.anchor.via else None
    field = _anchor_field(dm, ds, rule.anchor)
    anchor = _anchor_text(say, rule.anchor, other, field)
    if rule.keep_while_empty:
        date = say("date_named_via", field=field, other=other) if other else say("date_named", field=field)
        return say("retention_rule_while_empty", date=date, keep=str(rule.keep), anchor=anchor, ground=rule.ground)
    return say("retention_rule", keep=str(rule.keep), anchor=anchor, ground=rule.ground)


def retention_text(dm: DataMap, dataset: str, language: str = DEFAULT_LANGUAGE) -> str:
    """How long a dataset's rows are kept, in words: its own rule, else the rule of the rows it belongs to (an
    invoice line lives as long as its invoice), else the criteria (as long as the purposes need it)."""
    say = Say(language)
    ds = dm.datasets[dataset]
    if ds.retention and ds.retention in dm.retention:
        return _rule_text(say, dm, ds)
    seen = {dataset}
    frontier = [ds]
    while frontier:
        nxt: list[Dataset] = []
        for d in frontier:
            for ref in d.owner_references:
                parent = dm.datasets.get(ref.to_dataset)
                if parent is None or parent.name in seen:
                    continue
                seen.add(parent.name)
                if parent.retention and parent.retention in dm.retention:
                    what = dataset_title(dm, parent.name).rstrip(".")
                    rule = _rule_text(say, dm, parent)
                    return say("retention_parent", parent=what[:1].lower() + what[1:],
                               rule=rule[:1].lower() + rule[1:])  # mid-sentence after the colon
                nxt.append(parent)
        frontier = nxt
    return say("retention_none")


def _basis(say: Say, dm: DataMap, purpose: str, legal_basis: str) -> str:
    p = dm.purposes.get(purpose)
    if legal_basis == "legitimate_interests" and p is not None and p.legitimate_interest:
        return say("basis_legitimate_interests_which", interest=p.legitimate_interest)
    key = f"basis_{legal_basis}"
    return say(key) if key in say.t else legal_basis


def _what(dm: DataMap, dataset: str) -> str:
    """A dataset as the subject reads it (`for_subject`, a plain description, its name in words): never its id."""
    return dataset_title(dm, dataset).rstrip(".")


def _where(dm: DataMap, counts: dict[str, int]) -> str:
    return "; ".join(f"{_what(dm, name)}: {n}" for name, n in counts.items())


def _refers(say: Say, dp: DatasetPlan) -> list[str]:
    """What the rows point at, named (the tracks bought, the products on the invoices), in order of first
    appearance: at most _REFERS_SHOWN names per reference, the rest counted."""
    out = []
    for col in dp.labels:
        names = list(dict.fromkeys(str(r[col]) for r in dp.rows if r.get(col) not in (None, "")))
        if not names:
            continue
        shown = ", ".join(names[:_REFERS_SHOWN])
        if len(names) > _REFERS_SHOWN:
            shown = say("refers_more", shown=shown, n=len(names) - _REFERS_SHOWN)
        out.append(say("refers_to", what=col[:1].upper() + col[1:], labels=shown))
    return out


def _files(say: Say, files: list[str]) -> list[tuple[str, str]]:
    """(file, what it is) for the archive's files; the CSV files are named per dataset already, so their folder is
    one line."""
    out: list[tuple[str, str]] = []
    shown_csv = False
    for f in files:
        if f in _DESCRIBED_FILES:
            out.append((f, say(_DESCRIBED_FILES[f])))
        elif not shown_csv:
            shown_csv = True
            out.append(((f.rsplit("/", 1)[0] if "/" in f else f) + "/", say("file_csv")))
    return out


def _dataset(say: Say, dm: DataMap, plan: ExportPlan, name: str, *, language: str,
             values: dict[str, str]) -> dict[str, Any]:
    """One dataset's section: items (a) (b) (c) (d) (g), each a list of sentences."""
    ds, dp = dm.datasets[name], plan.datasets[name]
    purposes = [say("purpose_line", purpose=p["description"], basis=_basis(say, dm, p["name"], p["legal_basis"]))
                for p in plan.records.records[name].purposes] or [say("purposes_none")]
    cats = list(dict.fromkeys(c for col_cats in dp.categories.values() for c in col_cats))
    cats.sort(key=lambda c: not (c == "user" or c.startswith("user.")))  # personal data first
    labels = "; ".join(dict.fromkeys(category_label(c, language) for c in cats))
    recipients = []
    for rn in ds.recipients:
        rec = dm.recipients[rn]
        key = "recipient_line" if rec.location else "recipient_line_nocountry"
        recipients.append(say(key, who=rec.description or rec.name, role=say.role(rec.role),
                              country=say.country(rec.location)))
    items = {"a": purposes, "b": [labels[:1].upper() + labels[1:]],
             "c": recipients or [say("recipients_none", **values)],
             "d": [retention_text(dm, name, language)],
             "g": [ds.collected_from or say("source_subject")]}
    return {"name": name, "title": _what(dm, name), "count": say("records_count", n=dp.count),
            "answers": [(key, say(f"item_{key}"), lines) for key, lines in items.items()]}


def _rights(say: Say, plan: ExportPlan, case: Case) -> list[str]:
    """Item (e): the rights that apply; portability and withdrawal only where the legal bases give them."""
    bases = {p["legal_basis"] for r in plan.records.records.values() for p in r.purposes}
    rights = ["right_rectification", "right_erasure", "right_restriction", "right_objection"]
    if case.type == "portability" or bases & {"consent", "contract"}:
        rights.append("right_portability")
    if "consent" in bases:
        rights.append("right_withdraw")
    return [say(k) for k in rights]


def _authority(dm: DataMap) -> dict[str, Any]:
    """Item (f): the supervisory authority, one line per detail; the web site is a link only when it is one."""
    auth = dm.organisation.authority
    lines: list[tuple[str, str | None]] = []
    if auth.address:
        lines.append((auth.address, None))
    if auth.website:
        lines.append((auth.website, auth.website if re.match(r"^https?://", auth.website) else None))
    lines += [(extra, None) for extra in (auth.email, auth.phone) if extra]
    return {"name": auth.name, "lines": lines}


def _transfers(say: Say, dm: DataMap, plan: ExportPlan) -> list[str]:
    """Art. 15(2): the recipients and systems outside the EU/EEA that get this subject's data, and the safeguards."""
    unknown = say("safeguards_unknown", contact=dm.organisation.contact)
    by_recipient: dict[str, list[str]] = {}
    by_source: dict[str, list[str]] = {}
    for name in plan.datasets:
        ds = dm.datasets[name]
        for rn in ds.recipients:
            rec = dm.recipients[rn]
            if rec.location and rec.location not in EU_EEA:
                by_recipient.setdefault(rn, []).append(_what(dm, name))
        src = dm.sources[ds.source]
        if src.location and src.location not in EU_EEA:
            by_source.setdefault(ds.source, []).append(_what(dm, name))
    out = []
    for rn, names in by_recipient.items():
        rec = dm.recipients[rn]
        out.append(say("transfer_recipient", who=rec.description or rec.name, country=say.country(rec.location),
                       datasets="; ".join(names), safeguards=rec.safeguards or unknown))
    for sn, names in by_source.items():
        out.append(say("transfer_source", datasets="; ".join(names), country=say.country(dm.sources[sn].location),
                       safeguards=unknown))
    return out


def _withheld(say: Say, dm: DataMap, plan: ExportPlan) -> list[str]:
    """Art. 15(4): what the copy leaves out, and why; each sentence only when it applies."""
    out = []
    if plan.masked_emails or plan.masked_phones:
        parts = []
        if plan.masked_emails:
            parts.append(say("masked_emails", n=plan.masked_emails, mask=say("mask_email")))
        if plan.masked_phones:
            parts.append(say("masked_phones", n=plan.masked_phones, mask=say("mask_phone")))
        out.append(say("withheld_masked", what=f" {say('and')} ".join(parts)))
    if plan.withheld_mentions:
        out.append(say("withheld_mentions", n=sum(plan.withheld_mentions.values()),
                       where=_where(dm, plan.withheld_mentions)))
    if plan.withheld_shared:
        out.append(say("withheld_shared", n=sum(plan.withheld_shared.values()), where=_where(dm, plan.withheld_shared)))
    if plan.withheld_fields:  # login secrets: one plain sentence, never their names or values
        out.append(say("withheld_credentials"))
    others = {n: d.others_rows for n, d in plan.datasets.items() if d.others_rows}
    if others:
        out.append(say("withheld_others", n=sum(others.values()), where=_where(dm, others)))
    if plan.context:
        out.append(say("withheld_context"))
    return out


def render_letter(dm: DataMap, plan: ExportPlan, case: Case, *, export_id: str, generated_at: dt.datetime,
                  files: list[str], language: str = DEFAULT_LANGUAGE) -> str:
    """`report.html`: the letter to the subject, as one self-contained HTML page (`templates/letter.html.j2`).

    The context is plain text (sentences filled from `wording`, values from the map and the plan); the template's
    autoescape makes all of it text on the page.
    """
    say = Say(language)
    org = dm.organisation
    values = {"org": org.name, "contact": org.contact, "case_id": case.case_id}
    meta = [("meta_reference", case.case_id), ("meta_export", export_id),
            ("meta_received", case.received.isoformat()), ("meta_date", generated_at.date().isoformat()),
            ("meta_due", getattr(case, "deadline", case.due).isoformat())]
    context = {
        "lang": say.t["html_lang"],
        "text": {key: say(key, **values) for key in _AS_IS},
        "title": say("title", case_id=case.case_id),
        "org": {"name": org.name, "address": org.address or "", "contact": say("org_contact", contact=org.contact),
                "dpo": say("org_dpo", dpo=org.dpo) if org.dpo else ""},
        "meta": [(say(key), value) for key, value in meta],
        "greeting": (say("greeting_named", name=natural_case(plan.subject_name)) if plan.subject_name
                     else say("greeting")),
        "confirmation": say("intro_portability" if case.type == "portability" else "intro_access", **values),
        "summary": say("copy_summary_one" if len(plan.datasets) == 1 else "copy_summary", n=plan.total_rows,
                       d=len(plan.datasets)),
        "copy": [(_what(dm, name), dp.count, dp.csv_name, _refers(say, dp)) for name, dp in plan.datasets.items()],
        "files": _files(say, files),
        "datasets": [_dataset(say, dm, plan, name, language=language, values=values) for name in plan.datasets],
        "rights": _rights(say, plan, case),
        "authority": _authority(dm),
        "transfers": _transfers(say, dm, plan),
        "withheld": _withheld(say, dm, plan),
    }
    return _ENV.get_template("letter.html.j2").render(context)
