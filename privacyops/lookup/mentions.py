"""Mentions: free-text fields in other people's rows that name the subject's e-mail or phone (Art. 15(4), erasure)."""

from __future__ import annotations

import re

from ..sources import digits_of
from .reader import Found, Reader
from .subject import Mention


def needles(reader: Reader, phones: set[str]) -> list[str]:
    """What a phone number is looked for as in free text: its last `phone_match_digits` digits."""
    digits = reader.dm.settings.phone_match_digits
    return sorted({digits_of(p)[-digits:] for p in phones})


def mention_probe(reader: Reader, emails: set[str], phones: set[str]) -> tuple[list[str], list[str]] | None:
    """The lookup index's mention probe for these e-mails and phones (None: the index cannot answer for them)."""
    phone_needles = needles(reader, phones)
    if reader.index is None or not reader.index.can_find_mentions(sorted(emails), phone_needles,
                                                                   reader.dm.settings.phone_match_digits):
        return None
    return sorted(emails), phone_needles


def find_mentions(reader: Reader, found: Found, emails: set[str], phones: set[str]) -> list[Mention]:
    """Rows outside `found` whose free text holds one of the e-mails (any case) or phone numbers (digits)."""
    phone_needles = needles(reader, phones)
    email_res: list = []  # compiled when a row is to be checked (most people are mentioned nowhere)
    out: list[Mention] = []
    hits = None  # dataset -> candidate keys, from the lookup index when it can answer for these values
    ask = mention_probe(reader, emails, phones)
    if ask is not None:
        hits = reader.mention_hits(*ask)
    for ds in reader.dm.datasets.values():
        fields = ds.free_text_fields
        if not fields or not (emails or phone_needles):
            continue
        within = None
        if hits is not None and reader.indexed(ds):  # only the candidate rows, checked as the scan checks them
            keys = hits.get(ds.name)
            if not keys:
                continue
            within = (ds.primary_key[0], sorted({k[0] for k in keys}))
        rows = reader.con(ds).select_mentions(ds, fields, sorted(emails), phone_needles, within=within).dicts()
        if rows and not email_res and emails:
            email_res = [(e, re.compile(r"(?<![\w.+-])" + re.escape(e) + r"(?![\w-])", re.I)) for e in sorted(emails)]
        for r in rows:
            k = reader.key(ds, r)
            if found.has(ds.name, k):
                continue  # the subject's own rows are records, not mentions
            for f in fields:
                text = str(r.get(f) or "")
                hit = next(((m, "email") for e, rx in email_res if (m := rx.search(text))), None)
                if not hit:
                    only_digits = re.sub(r"\D", "", text)
                    hit = next(((None, "phone") for n in phone_needles if n in only_digits), None)
                if hit:
                    m, what = hit
                    start = m.start() if m else 0
                    out.append(Mention(ds.name, k, f, what, text[max(0, start - 40): start + 60]))
                    break
    return out
