"""The letter to the subject (`report.html` in the archive): a plain answer to an access or portability request.

It confirms that we process their data, points at the copy, and gives every item of Art. 15(1)(a)-(h) and 15(2)
GDPR tailored to this subject from the data map: per dataset found the purposes and legal bases (a), the categories
of data (b), the recipients (c), how long it is kept (d) and where it comes from (g); then their rights (e), the
supervisory authority (f), automated decision-making (h), transfers outside the EU/EEA and their safeguards (15(2)),
and what was left out of the copy and why (15(4)).

Every sentence lives in `TEXTS[language]` (plain text with `$placeholders`, `string.Template`); a new language is one
more entry with the same keys. Sentences are filled in and then escaped as a whole, so no value (a name, a
description from the map, a ground) can inject markup. The HTML is self-contained: inline CSS, no scripts, no
external resources.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from ..ledger import Case
from ..map import EU_EEA, Anchor, DataMap, Dataset
from .plan import ExportPlan
from .wording import DEFAULT_LANGUAGE, _human_field, _Say, category_label


def _e(value: Any) -> str:
    return html.escape(str(value))


def _anchor_text(say: _Say, anchor: Anchor) -> str:
    field = _human_field(anchor.field)
    if anchor.function:
        return say.raw(f"anchor_{anchor.function}", field=field)
    return say.raw("anchor_field", field=field)


def _rule_text(say: _Say, dm: DataMap, rule_name: str) -> str:
    rule = dm.retention[rule_name]
    return say.raw("retention_rule", keep=str(rule.keep), anchor=_anchor_text(say, rule.anchor), ground=rule.ground)


def retention_text(dm: DataMap, dataset: str, language: str = DEFAULT_LANGUAGE) -> str:
    """How long a dataset's rows are kept, in words: its own rule, else the rule of the rows it belongs to (an
    invoice line lives as long as its invoice), else the criteria (as long as the purposes need it)."""
    say = _Say(language)
    ds = dm.datasets[dataset]
    if ds.retention and ds.retention in dm.retention:
        return _rule_text(say, dm, ds.retention)
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
                    what = (parent.description or parent.name).rstrip(".")
                    return say.raw("retention_parent", parent=what[:1].lower() + what[1:],
                                   rule=_rule_text(say, dm, parent.retention))
                nxt.append(parent)
        frontier = nxt
    return say.raw("retention_none")


def _basis(say: _Say, dm: DataMap, purpose: str, legal_basis: str) -> str:
    p = dm.purposes.get(purpose)
    if legal_basis == "legitimate_interests" and p is not None and p.legitimate_interest:
        return say.raw("basis_legitimate_interests_which", interest=p.legitimate_interest)
    key = f"basis_{legal_basis}"
    return say.raw(key) if key in say.t else legal_basis


def _list(items: list[str]) -> str:
    """Escaped items as a list (one item: a plain paragraph)."""
    if len(items) == 1:
        return f"<p>{items[0]}</p>"
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _what(dm: DataMap, dataset: str) -> str:
    """A dataset as the subject reads it: its description from the map, else its name."""
    ds = dm.datasets.get(dataset)
    return (ds.description if ds and ds.description else dataset).rstrip(".")


def _where(dm: DataMap, counts: dict[str, int]) -> str:
    return "; ".join(f"{_what(dm, name)}: {n}" for name, n in counts.items())


CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1f2937;
  max-width: 820px; margin: 24px auto; padding: 0 20px; line-height: 1.5; font-size: 15px; }
header.org { border-bottom: 2px solid #1f2937; padding-bottom: 8px; margin-bottom: 16px; }
header.org .name { font-size: 20px; font-weight: 700; }
header.org div { font-size: 13px; }
table.meta td { padding: 1px 14px 1px 0; font-size: 13px; }
table.meta td:first-child { color: #6b7280; }
h1 { font-size: 20px; margin: 18px 0 8px 0; }
h2 { font-size: 17px; margin: 26px 0 6px 0; border-bottom: 1px solid #e5e7eb; padding-bottom: 2px; }
h3 { font-size: 15px; margin: 16px 0 4px 0; }
.tech { color: #6b7280; font-size: 12px; font-weight: 400; }
table.files, table.summary { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
table.files td, table.files th, table.summary td, table.summary th { text-align: left; padding: 3px 10px 3px 0;
  border-bottom: 1px solid #e5e7eb; vertical-align: top; }
section.dataset { border-left: 3px solid #2563eb; padding: 2px 0 2px 12px; margin: 12px 0; }
section.dataset dl { margin: 4px 0; }
section.dataset dt { font-size: 12px; color: #6b7280; margin-top: 6px; }
section.dataset dd { margin: 0; }
section.dataset dd p, section.dataset dd ul { margin: 0; }
code { font-size: 13px; }
footer { margin-top: 28px; font-size: 14px; }
"""


def render_letter(dm: DataMap, plan: "ExportPlan", case: "Case", *, export_id: str, generated_at: dt.datetime,
                  files: list[str], language: str = DEFAULT_LANGUAGE) -> str:
    """`report.html`: the letter to the subject, as one self-contained, escaped HTML page."""
    say = _Say(language)
    org = dm.organisation
    recs = plan.records.records
    values = {"org": org.name, "contact": org.contact, "case_id": case.case_id}
    out: list[str] = []
    add = out.append

    add(f'<!DOCTYPE html>\n<html lang="{_e(say.t["html_lang"])}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{say("title", case_id=case.case_id)}</title><style>{CSS}</style></head><body>')
    # -- who writes, about what ------------------------------------------------------------------------------------
    add(f'<header class="org"><div class="name">{_e(org.name)}</div>')
    if org.address:
        add(f"<div>{_e(org.address)}</div>")
    add(f'<div>{say("org_contact", contact=org.contact)}</div>')
    if org.dpo:
        add(f'<div>{say("org_dpo", dpo=org.dpo)}</div>')
    add("</header>")
    meta = [("meta_reference", case.case_id), ("meta_export", export_id),
            ("meta_received", case.received.isoformat()), ("meta_date", generated_at.date().isoformat()),
            ("meta_due", getattr(case, "deadline", case.due).isoformat())]
    add('<table class="meta">' + "".join(f"<tr><td>{say(k)}</td><td>{_e(v)}</td></tr>" for k, v in meta)
        + "</table>")
    add(f'<h1>{say("title", case_id=case.case_id)}</h1>')
    add(f'<p>{say("greeting_named", name=plan.subject_name) if plan.subject_name else say("greeting")}</p>')
    intro = "intro_portability" if case.type == "portability" else "intro_access"
    add(f'<p data-item="confirmation">{say(intro, **values)}</p>')

    # -- the copy ----------------------------------------------------------------------------------------------------
    add(f'<h2>{say("copy_heading")}</h2>')
    add(f'<p>{say("copy_summary", n=plan.total_rows, d=len(plan.datasets))}</p>')
    add(f'<table class="summary"><tr><th>{say("col_data")}</th><th>{say("col_records")}</th>'
        f'<th>{say("col_file")}</th></tr>')
    for name, dp in plan.datasets.items():
        add(f"<tr><td>{_e(dp.description or name)}</td><td>{dp.count}</td>"
            f"<td><code>{_e(dp.csv_name)}</code></td></tr>")
    add("</table>")
    add(f'<h3>{say("files_heading")}</h3><table class="files">')
    described = {"report.html": say("file_report"), "data.json": say("file_data"),
                 "manifest.json": say("file_manifest")}
    shown_csv = False
    for f in files:
        if f in described:
            add(f"<tr><td><code>{_e(f)}</code></td><td>{described[f]}</td></tr>")
        elif not shown_csv:  # the CSV files are named per dataset above
            shown_csv = True
            add(f'<tr><td><code>{_e(f.rsplit("/", 1)[0] if "/" in f else f)}/</code></td>'
                f'<td>{say("file_csv")}</td></tr>')
    add("</table>")

    # -- per dataset: (a) (b) (c) (d) (g) ----------------------------------------------------------------------------
    add(f'<h2>{say("datasets_heading")}</h2>')
    for name, dp in plan.datasets.items():
        ds, r = dm.datasets[name], recs[name]
        add(f'<section class="dataset" data-dataset="{_e(name)}"><h3>{_e(dp.description or name)} '
            f'<span class="tech">{_e(name)} · {say("records_count", n=dp.count)}</span></h3><dl>')
        purposes = [html.escape(say.raw("purpose_line", purpose=p["description"],
                                        basis=_basis(say, dm, p["name"], p["legal_basis"])))
                    for p in r.purposes] or [say("purposes_none")]
        add(f'<dt>{say("item_a")}</dt><dd data-item="a">{_list(purposes)}</dd>')
        cats = list(dict.fromkeys(c for col_cats in dp.categories.values() for c in col_cats))
        cats.sort(key=lambda c: not (c == "user" or c.startswith("user.")))  # personal data first
        labels = "; ".join(dict.fromkeys(category_label(c, language) for c in cats))
        add(f'<dt>{say("item_b")}</dt><dd data-item="b"><p>{_e(labels[:1].upper() + labels[1:])}</p></dd>')
        if ds.recipients:
            lines = []
            for rn in ds.recipients:
                rec = dm.recipients[rn]
                who = rec.description or rec.name
                key = "recipient_line" if rec.location else "recipient_line_nocountry"
                lines.append(say(key, who=who, role=say.role(rec.role), country=say.country(rec.location)))
            add(f'<dt>{say("item_c")}</dt><dd data-item="c">{_list(lines)}</dd>')
        else:
            add(f'<dt>{say("item_c")}</dt><dd data-item="c"><p>{say("recipients_none", **values)}</p></dd>')
        add(f'<dt>{say("item_d")}</dt><dd data-item="d"><p>{_e(retention_text(dm, name, language))}</p></dd>')
        source = ds.collected_from or say.raw("source_subject")
        add(f'<dt>{say("item_g")}</dt><dd data-item="g"><p>{_e(source)}</p></dd>')
        add("</dl></section>")

    # -- (e) rights --------------------------------------------------------------------------------------------------
    bases = {p["legal_basis"] for r in recs.values() for p in r.purposes}
    rights = ["right_rectification", "right_erasure", "right_restriction", "right_objection"]
    if case.type == "portability" or bases & {"consent", "contract"}:
        rights.append("right_portability")
    if "consent" in bases:
        rights.append("right_withdraw")
    add(f'<section data-item="e"><h2>{say("rights_heading")}</h2><p>{say("rights_intro")}</p><ul>'
        + "".join(f"<li>{say(k)}</li>" for k in rights) + f'</ul><p>{say("rights_how", **values)}</p></section>')

    # -- (f) complaint -----------------------------------------------------------------------------------------------
    auth = org.authority
    lines = [f"<strong>{_e(auth.name)}</strong>"]
    if auth.address:
        lines.append(_e(auth.address))
    if auth.website:
        site = auth.website
        lines.append(f'<a href="{_e(site)}">{_e(site)}</a>' if re.match(r"^https?://", site) else _e(site))
    for extra in (auth.email, auth.phone):
        if extra:
            lines.append(_e(extra))
    add(f'<section data-item="f"><h2>{say("complaint_heading")}</h2><p>{say("complaint_text")}</p>'
        f'<p>{"<br>".join(lines)}</p></section>')

    # -- (h) automated decisions -------------------------------------------------------------------------------------
    add(f'<section data-item="h"><h2>{say("adm_heading")}</h2><p>{say("adm_none")}</p></section>')

    # -- 15(2) transfers ---------------------------------------------------------------------------------------------
    transfers = []
    unknown = say.raw("safeguards_unknown", contact=org.contact)
    by_recipient: dict[str, list[str]] = {}
    by_source: dict[str, list[str]] = {}
    for name in plan.datasets:
        ds = dm.datasets[name]
        for rn in ds.recipients:
            rec = dm.recipients[rn]
            if rec.location and rec.location not in EU_EEA:
                by_recipient.setdefault(rn, []).append(plan.datasets[name].description or name)
        src = dm.sources[ds.source]
        if src.location and src.location not in EU_EEA:
            by_source.setdefault(ds.source, []).append(plan.datasets[name].description or name)
    for rn, names in by_recipient.items():
        rec = dm.recipients[rn]
        transfers.append(say("transfer_recipient", who=rec.description or rec.name,
                             country=say.country(rec.location), datasets="; ".join(names),
                             safeguards=rec.safeguards or unknown))
    for sn, names in by_source.items():
        transfers.append(say("transfer_source", datasets="; ".join(names),
                             country=say.country(dm.sources[sn].location), safeguards=unknown))
    body = (f'<p>{say("transfers_intro")}</p>' + _list(transfers)) if transfers else f'<p>{say("transfers_none")}</p>'
    add(f'<section data-item="transfers"><h2>{say("transfers_heading")}</h2>{body}</section>')

    # -- 15(4) what is left out --------------------------------------------------------------------------------------
    left = []
    if plan.masked_emails or plan.masked_phones:
        parts = []
        if plan.masked_emails:
            parts.append(say.raw("masked_emails", n=plan.masked_emails, mask=say.raw("mask_email")))
        if plan.masked_phones:
            parts.append(say.raw("masked_phones", n=plan.masked_phones, mask=say.raw("mask_phone")))
        left.append(say("withheld_masked", what=f" {say.raw('and')} ".join(parts)))
    if plan.withheld_mentions:
        left.append(say("withheld_mentions", n=sum(plan.withheld_mentions.values()),
                        where=_where(dm, plan.withheld_mentions)))
    if plan.withheld_shared:
        left.append(say("withheld_shared", n=sum(plan.withheld_shared.values()),
                        where=_where(dm, plan.withheld_shared)))
    withheld_fields = {n: dp.withheld_fields for n, dp in plan.datasets.items() if dp.withheld_fields}
    if withheld_fields:
        left.append(say("withheld_fields", where="; ".join(f"{', '.join(f)} in “{_what(dm, n)}”"
                                                          for n, f in withheld_fields.items())))
    if plan.context:
        left.append(say("withheld_context"))
    body = _list(left) if left else f'<p>{say("withheld_nothing")}</p>'
    add(f'<section data-item="withheld"><h2>{say("withheld_heading")}</h2>{body}</section>')

    add(f'<footer><p>{say("closing", **values)}</p><p>{say("signature", **values)}</p></footer>')
    add("</body></html>\n")
    return "".join(out)
