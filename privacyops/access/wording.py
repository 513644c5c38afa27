"""The subject-facing wording of the access letter, per language: sentences, category labels, countries."""

from __future__ import annotations

import re
from string import Template
from typing import Any

from ..map import DataMap

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
        "copy_summary": ("We found $n record about you, of $d kinds of data.",
                         "We found $n records about you, of $d kinds of data."),
        "copy_summary_one": ("We found $n record about you, of one kind of data.",
                             "We found $n records about you, of one kind of data."),
        # What the records point at, named (the products on an invoice, the tracks bought), in the copy's list.
        "refers_to": "$what: $labels",
        "refers_more": ("$shown and $n more", "$shown and $n more"),
        "files_heading": "Files",
        "file_report": "this letter",
        "file_data": "all of your data in one structured file (JSON) for computer programs: for each kind of data "
                     "its fields, their categories and the values",
        "file_csv": "one spreadsheet file for each kind of data, named in the list above (comma-separated values "
                    "in UTF-8 that any spreadsheet program opens; the first line names the fields)",
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
        # An anchor through a reference: the date is one of the related record (a card's member's "left on" date).
        "anchor_via_field": "the “$field” date of the related $other",
        "anchor_via_end_of_fiscal_year": "the end of the financial year of the “$field” date of the related $other",
        "anchor_via_end_of_month": "the end of the month of the “$field” date of the related $other",
        # keep_while_empty: still needed while the date is not there (an item not returned, a membership open).
        "retention_rule_while_empty": "We keep it while there is no $date yet, because we still need it; then "
                                      "$keep from $anchor. Why: $ground",
        "date_named": "“$field” date",
        "date_named_via": "“$field” date of the related $other",
        "retention_parent": "As long as the record it belongs to ($parent): $rule",
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
        "withheld_credentials": "We also keep the secret you log in with (your password, stored only in a form "
                                "that cannot be turned back into it). It is not shown in this copy: it tells "
                                "nothing about you and would help anyone who got hold of this archive to get into "
                                "your account.",
        "withheld_others": ("$n of your records also holds another person's data — someone who was there with "
                            "you, wrote to you or was named with you ($where). Their part is not included (it "
                            "shows as “[another person's data]”): it is their personal data (Art. 15(4) GDPR).",
                            "$n of your records also hold other people's data — people who were there with "
                            "you, wrote to you or were named with you ($where). Their part is not included (it "
                            "shows as “[another person's data]”): it is their personal data (Art. 15(4) GDPR)."),
        "withheld_context": "Reference data that your records point at, such as our products or the staff members "
                            "who handled your requests, is not included beyond the names shown beside your "
                            "records: it is not data about you.",
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
    """The sentences of `language`; a ValueError names the languages there are."""
    if language not in TEXTS:
        raise ValueError(f"no letter texts for language '{language}'; available: {', '.join(LANGUAGES)}")
    return TEXTS[language]


class Say:
    """Sentences of one language: `say(key, **values)` fills the sentence's `$placeholders` (picking the singular or
    plural form by `n`). The result is plain text: the letter's template escapes it as a whole."""

    def __init__(self, language: str):
        self.t = texts(language)

    def __call__(self, key: str, **values: Any) -> str:
        text = self.t[key]
        if isinstance(text, tuple):  # (one, other)
            text = text[0] if values.get("n") == 1 else text[1]
        return Template(text).substitute({k: str(v) for k, v in values.items()})

    def country(self, code: str | None) -> str:
        """A country code as the subject reads it: 'the United States (US)'; an unknown code as it is."""
        if not code:
            return ""
        name = self.t["countries"].get(code)
        return f"{name} ({code})" if name else code

    def role(self, role: str | None) -> str:
        """A recipient's role (processor, controller, ...) in words."""
        return self.t["roles"].get(role or "", role or self.t["role_unknown"])


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


def human_field(name: str) -> str:
    """`issued_at` -> `issued at`, `InvoiceDate` -> `invoice date`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return re.sub(r"\s+", " ", spaced).strip().lower()




# ---------------------------------------------------------------------------------------------------------------
# Subject-facing names: people in natural case, data in words (never the map's ids or how it is stored).

# Name particles that stay lower-case inside a name (Jan van der Berg, Ludwig von Mises, Maria da Silva).
_PARTICLES = frozenset("van der den de del della di da das dos du la le von zu ten ter af av".split())


def _cap(word: str) -> str:
    """One word of a name in natural case: `o'neil` -> `O'Neil`, `anne-marie` -> `Anne-Marie`, `mcdonald` ->
    `McDonald`; str.capitalize keeps diacritics (`bērziņš` -> `Bērziņš`)."""
    parts = re.split(r"(['’-])", word.lower())
    out = "".join(p.capitalize() if p not in ("'", "’", "-") else p for p in parts)
    if len(out) > 3 and out.startswith("Mc"):
        out = "Mc" + out[2:].capitalize()
    return out


def natural_case(name: str) -> str:
    """A person's name as it is written in a letter: words stored all in capitals or all in lower case get their
    natural case (`ELEANOR HUNT` -> `Eleanor Hunt`, `van der berg` -> `van der Berg`); a word already in mixed case
    (`McDonald`, `DeVito`) is left as it is, and so are initials (`J.`)."""
    words = name.split()
    out = []
    for i, w in enumerate(words):
        letters = [ch for ch in w if ch.isalpha()]
        if not letters or not (w.isupper() or w.islower()) or (w.isupper() and len(letters) == 1):
            out.append(w)  # mixed case as written, or an initial
        elif w.lower() in _PARTICLES and i < len(words) - 1:
            out.append(w.lower())
        else:
            out.append(_cap(w))
    return " ".join(out)


# Words about how data is stored: never in what the subject reads.
STORAGE_WORDS = re.compile(r"\b(parquet|csv|duckdb|sqlite|postgres(?:ql)?|chunks?|tables?|columns?|schemas?|"
                           r"datasets?|primary key)\b|\bsource\s*=", re.IGNORECASE)
# Technical identifiers: snake_case, camelCase, dotted ids (crm.customers).
_IDENT = re.compile(r"\b\w+_\w+\b|\b[a-z]+[A-Z]\w*\b|\b[A-Z][a-z]+[A-Z]\w*\b|\b[A-Za-z_]\w*\.[A-Za-z_]\w*\b")


def is_plain(text: str, ids: set[str] = frozenset()) -> bool:
    """Whether `text` reads as plain words: no storage words, no identifiers, none of `ids` (dataset names...)."""
    return not (STORAGE_WORDS.search(text) or _IDENT.search(text) or any(i and i in text for i in ids))


def plain_description(text: str | None, ids: set[str] = frozenset(), limit: int = 90) -> str | None:
    """The plain head of a description from the map: its first clause (up to `:`, `;` or a dash), without the
    parenthesised remarks that are not plain (`(Parquet, one file per generation chunk)`); None when what is left
    is not plain or too long for a title."""
    if not text:
        return None
    head = re.split(r"[:;]|\s[—–-]\s", " ".join(text.split()), maxsplit=1)[0]
    head = re.sub(r"\s*\(([^()]*)\)", lambda m: m.group(0) if is_plain(m.group(1), ids) else "", head)
    head = head.strip().rstrip(".,").strip()
    return head if head and len(head) <= limit and is_plain(head, ids) else None


def humanise_name(name: str) -> str:
    """A dataset's name in words, without its schema: `crm.delivery_addresses` -> `Delivery addresses`."""
    words = human_field(name.rsplit(".", 1)[-1])
    return words[:1].upper() + words[1:]


def map_ids(dm: DataMap) -> set[str]:
    """The map's own names (datasets, sources, tables): never shown to the subject."""
    return set(dm.datasets) | set(dm.sources) | {d.table for d in dm.datasets.values()}


def dataset_title(dm: DataMap, name: str) -> str:
    """What a dataset's rows are, as the subject reads it: the map's `for_subject`, else the plain head of its
    description, else its name in words."""
    ds = dm.datasets.get(name)
    if ds is None:
        return humanise_name(name)
    return ds.for_subject or plain_description(ds.description, map_ids(dm)) or humanise_name(name)


def field_title(dm: DataMap, dataset: str, field: str) -> str:
    """A field as the subject reads it: its `for_subject`, else its name in words (`issued_at` -> `issued at`)."""
    ds = dm.datasets.get(dataset)
    f = ds.fields.get(field) if ds else None
    return (f.for_subject if f and f.for_subject else None) or human_field(field)
