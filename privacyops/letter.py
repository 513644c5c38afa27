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
from string import Template
from typing import TYPE_CHECKING, Any

from .datamap import EU_EEA, Anchor, DataMap, Dataset

if TYPE_CHECKING:  # pragma: no cover
    from .cases import Case
    from .export import ExportPlan

DEFAULT_LANGUAGE = "en"

TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "html_lang": "en",
        "title": "Your personal data: our answer to your request $case_id",
        "org_contact": "Privacy contact: $contact",
        "org_dpo": "Data protection officer: $dpo",
        "meta_reference": "Our reference",
        "meta_export": "Copy",
        "meta_received": "Your request received",
        "meta_date": "Date of this letter",
        "meta_due": "Answer due by",
        "greeting_named": "Dear $name,",
        "greeting": "Hello,",
        "intro_access": "You asked us which personal data we hold about you (right of access, Article 15 of the "
                        "General Data Protection Regulation, GDPR). We confirm that $org processes personal data "
                        "about you. This archive holds a copy of it, and this letter explains what we do with it.",
        "intro_portability": "You asked to receive your personal data in a portable form (right to data "
                             "portability, Article 20 GDPR). We confirm that $org processes personal data about "
                             "you. This archive holds it in a structured, commonly used, machine-readable format "
                             "that you can keep or pass to another provider; this letter explains what we do with "
                             "it.",
        "copy_heading": "Your data in this archive",
        "copy_summary": ("We found $n record about you in $d of our datasets.",
                         "We found $n records about you in $d of our datasets."),
        "files_heading": "Files",
        "file_report": "this letter",
        "file_data": "all of your data in one structured file (JSON): for each dataset its fields, their data "
                     "categories and the values",
        "file_csv": "one table per dataset, named in the list above (UTF-8, comma-separated, the first line "
                    "names the fields)",
        "file_manifest": "the SHA-256 checksum of every other file, so you can check that nothing was changed",
        "col_data": "Data",
        "col_records": "Records",
        "col_file": "File",
        "datasets_heading": "About each kind of data we hold about you",
        "records_count": ("$n record", "$n records"),
        "item_a": "Purposes and legal basis (Art. 15(1)(a))",
        "item_b": "Categories of personal data (Art. 15(1)(b))",
        "item_c": "Recipients (Art. 15(1)(c))",
        "item_d": "How long we keep it (Art. 15(1)(d))",
        "item_g": "Where it comes from (Art. 15(1)(g))",
        "purpose_line": "$purpose; legal basis: $basis",
        "basis_consent": "your consent (Art. 6(1)(a) GDPR), which you can withdraw at any time",
        "basis_contract": "our contract with you (Art. 6(1)(b) GDPR)",
        "basis_legal_obligation": "a legal obligation we are subject to (Art. 6(1)(c) GDPR)",
        "basis_vital_interests": "to protect vital interests (Art. 6(1)(d) GDPR)",
        "basis_public_task": "a task carried out in the public interest (Art. 6(1)(e) GDPR)",
        "basis_legitimate_interests": "our legitimate interests (Art. 6(1)(f) GDPR)",
        "basis_legitimate_interests_which": "our legitimate interests (Art. 6(1)(f) GDPR): $interest",
        "purposes_none": "No purpose is recorded for this data; please contact us.",
        "recipients_none": "None: we do not disclose this data to anyone outside $org.",
        "recipient_line": "$who ($role, $country)",
        "recipient_line_nocountry": "$who ($role)",
        "role_unknown": "recipient",
        "retention_rule": "$keep from $anchor. Why: $ground",
        "anchor_field": "the “$field” date",
        "anchor_end_of_fiscal_year": "the end of the financial year of the “$field” date",
        "anchor_end_of_month": "the end of the month of the “$field” date",
        "retention_parent": "As long as the $parent it belongs to: $rule",
        "retention_none": "No fixed period is set: we keep this data as long as it is needed for the purposes "
                          "above and delete it when they end.",
        "source_subject": "From you, or generated by your use of our service.",
        "rights_heading": "Your rights (Art. 15(1)(e))",
        "rights_intro": "You can ask us at any time, free of charge, to:",
        "right_rectification": "correct data about you that is wrong or incomplete (rectification, Art. 16 GDPR);",
        "right_erasure": "erase data about you (Art. 17 GDPR), unless we must keep it, for example invoices that "
                         "accounting law requires us to keep;",
        "right_restriction": "restrict the processing of your data while a question about it is settled "
                             "(Art. 18 GDPR);",
        "right_objection": "object to processing based on our legitimate interests, and at any time to direct "
                           "marketing (Art. 21 GDPR);",
        "right_portability": "receive the data you gave us in a machine-readable format or have it sent to "
                             "another provider (Art. 20 GDPR);",
        "right_withdraw": "withdraw a consent you gave, without affecting what was done before (Art. 7(3) GDPR).",
        "rights_how": "Write to $contact and quote our reference $case_id.",
        "complaint_heading": "Your right to complain (Art. 15(1)(f))",
        "complaint_text": "You can lodge a complaint with a supervisory authority, in particular in the EU country "
                          "where you live or work. Ours is:",
        "adm_heading": "Automated decisions and profiling (Art. 15(1)(h))",
        "adm_none": "We do not make decisions about you based solely on automated processing, including "
                    "profiling, that produce legal effects concerning you or similarly significantly affect you "
                    "(Art. 22 GDPR).",
        "transfers_heading": "Transfers outside the EU/EEA (Art. 15(2))",
        "transfers_none": "None: your data is stored and processed within the European Union and the European "
                          "Economic Area only.",
        "transfers_intro": "Some of your data goes to a country outside the European Union and the European "
                           "Economic Area:",
        "transfer_recipient": "$who in $country receives: $datasets. Safeguards: $safeguards",
        "transfer_source": "$datasets: stored in $country. Safeguards: $safeguards",
        "safeguards_unknown": "ask us at $contact for the safeguards and a copy of them (Art. 46 GDPR).",
        "withheld_heading": "What this copy leaves out, and why (Art. 15(4))",
        "withheld_nothing": "Nothing: the archive holds every record we found about you.",
        "withheld_masked": "In your own messages and texts we replaced $what: your copy must not disclose other "
                           "people's personal data (Art. 15(4) GDPR). Your own e-mail addresses and phone numbers "
                           "are left as they are.",
        "masked_emails": ("$n e-mail address of another person (shown as “$mask”)",
                          "$n e-mail addresses of other people (shown as “$mask”)"),
        "masked_phones": ("$n phone number of another person (shown as “$mask”)",
                          "$n phone numbers of other people (shown as “$mask”)"),
        "and": "and",
        "withheld_mentions": ("$n record of another person mentions you ($where). It is not included: it "
                              "belongs to that person and holds their personal data (Art. 15(4) GDPR). If you "
                              "want to know what it says about you, ask us: we will tell you without disclosing "
                              "the other person.",
                              "$n records of other people mention you ($where). They are not included: they "
                              "belong to those people and hold their personal data (Art. 15(4) GDPR). If you "
                              "want to know what they say about you, ask us: we will tell you without "
                              "disclosing the other people."),
        "withheld_shared": ("$n record is held under an e-mail address or phone number that you share with "
                            "another person, for example a family address ($where). We cannot tell from our data "
                            "whether it is about you or about them, so it is not included; contact us and we will "
                            "review it with you.",
                            "$n records are held under an e-mail address or phone number that you share with "
                            "another person, for example a family address ($where). We cannot tell from our data "
                            "whether they are about you or about them, so they are not included; contact us and "
                            "we will review them with you."),
        "withheld_fields": "Security credentials ($where) are not included: we store a password only as a one-way "
                           "hash, which tells nothing about you and would help anyone who got hold of this "
                           "archive to attack your account.",
        "withheld_context": "Reference data that your records point at, such as products or the staff members "
                            "who handled your requests, is not included: it is not data about you.",
        "closing": "If anything is unclear, or you think something is missing, write to $contact and quote our "
                   "reference $case_id.",
        "signature": "$org, data protection team",
        "mask_email": "[e-mail of another person removed]",
        "mask_phone": "[phone number of another person removed]",
        "countries": {
            "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "HR": "Croatia", "CY": "Cyprus",
            "CZ": "Czechia", "DK": "Denmark", "EE": "Estonia", "FI": "Finland", "FR": "France", "DE": "Germany",
            "GR": "Greece", "HU": "Hungary", "IE": "Ireland", "IT": "Italy", "LV": "Latvia", "LT": "Lithuania",
            "LU": "Luxembourg", "MT": "Malta", "NL": "the Netherlands", "PL": "Poland", "PT": "Portugal",
            "RO": "Romania", "SK": "Slovakia", "SI": "Slovenia", "ES": "Spain", "SE": "Sweden", "IS": "Iceland",
            "LI": "Liechtenstein", "NO": "Norway", "CH": "Switzerland", "GB": "the United Kingdom",
            "US": "the United States", "CA": "Canada", "AU": "Australia", "NZ": "New Zealand", "JP": "Japan",
            "KR": "South Korea", "IN": "India", "CN": "China", "SG": "Singapore", "IL": "Israel",
            "BR": "Brazil", "UA": "Ukraine", "UY": "Uruguay", "AR": "Argentina",
        },
        "roles": {"processor": "processor", "controller": "controller", "public authority": "public authority",
                  "joint controller": "joint controller"},
        # Data categories (fideslang keys) in plain words; others fall back to fideslang's own names.
        "categories": {
            "system.operations": "technical and operational data (record numbers, dates, statuses)",
            "user": "personal data",
            "user.unique_id": "customer or account number",
            "user.name": "name",
            "user.name.first": "first name",
            "user.name.last": "last name",
            "user.contact": "contact details",
            "user.contact.email": "e-mail address",
            "user.contact.phone_number": "phone number",
            "user.contact.fax_number": "fax number",
            "user.contact.address": "postal address",
            "user.contact.address.street": "street address",
            "user.contact.address.city": "city",
            "user.contact.address.state": "state or region",
            "user.contact.address.postal_code": "postal code",
            "user.contact.address.country": "country",
            "user.contact.organization": "organisation",
            "user.account.username": "user name",
            "user.authorization.credentials": "password (stored as a one-way hash)",
            "user.authorization.password": "password (stored as a one-way hash)",
            "user.behavior": "how you use our e-mails and service",
            "user.behavior.browsing_history": "pages and screens you visited",
            "user.behavior.purchase_history": "what you bought",
            "user.content": "content you wrote",
            "user.content.private": "messages and texts you wrote to us or we wrote to you",
            "user.device": "device and browser details",
            "user.device.ip_address": "IP address",
            "user.device.cookie_id": "cookie or session identifier",
            "user.financial": "invoice and payment details",
            "user.government_id": "VAT or other official registration number",
            "user.privacy_preferences": "your consents and privacy choices",
            "user.demographic.date_of_birth": "date of birth",
            "user.job_title": "job title",
            "user.workplace": "workplace",
        },
    },
}
LANGUAGES = tuple(TEXTS)


def texts(language: str) -> dict[str, Any]:
    if language not in TEXTS:
        raise ValueError(f"no letter texts for language '{language}'; available: {', '.join(LANGUAGES)}")
    return TEXTS[language]


class _Say:
    """Sentences of one language: `say(key, **values)` fills the template and escapes the whole result."""

    def __init__(self, language: str):
        self.t = texts(language)

    def raw(self, key: str, **values: Any) -> str:
        text = self.t[key]
        if isinstance(text, tuple):  # (one, other)
            text = text[0] if values.get("n") == 1 else text[1]
        return Template(text).substitute({k: str(v) for k, v in values.items()})

    def __call__(self, key: str, **values: Any) -> str:
        return html.escape(self.raw(key, **values))

    def country(self, code: str | None) -> str:
        if not code:
            return ""
        name = self.t["countries"].get(code)
        return f"{name} ({code})" if name else code

    def role(self, role: str | None) -> str:
        return self.t["roles"].get(role or "", role or self.t["role_unknown"])


def _e(value: Any) -> str:
    return html.escape(str(value))


def category_label(key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A data category (fideslang key) in plain words."""
    labels = texts(language)["categories"]
    if key in labels:
        return labels[key]
    try:
        from fideslang.default_taxonomy import DEFAULT_TAXONOMY

        names = {c.fides_key: c.name for c in DEFAULT_TAXONOMY.data_category}
    except Exception:  # pragma: no cover - fideslang is a dependency; a label is never worth a failure
        names = {}
    name = names.get(key) or key.rsplit(".", 1)[-1].replace("_", " ")
    return re.sub(r"^(User Contact |User )", "", name).strip().lower() or key


def _human_field(name: str) -> str:
    """`issued_at` -> `issued at`, `InvoiceDate` -> `invoice date`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return re.sub(r"\s+", " ", spaced).strip().lower()


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
