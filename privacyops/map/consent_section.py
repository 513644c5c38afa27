"""The map's optional `consent:` section: where the consent events live and which processing needs consent."""

from __future__ import annotations

from typing import Any

from .checker import Checker, did_you_mean, kind_of, parse_period
from .datasets import dataset_columns
from .model import (
    CONSENT_EVENT_KEYS,
    CONSENT_KEYS,
    CONSENT_PROCESSING_KEYS,
    ConsentEvents,
    ConsentMap,
    ConsentProcessing,
    Dataset,
    Purpose,
)


def parse_consent(c: Checker, raw: Any, purposes: dict[str, Purpose],
                  datasets: dict[str, Dataset]) -> ConsentMap | None:
    """The optional `consent:` section: where consent events and the processing that needs consent live."""
    if raw is None:
        return None
    p = ("consent",)
    s = c.mapping(raw, p, CONSENT_KEYS, required=("events",))
    if not s:
        return None
    events = _events(c, s.get("events"), p + ("events",), datasets)
    processing = _processing(c, s.get("processing"), p, purposes, datasets)
    stale = None
    if s.get("stale_after") is not None:
        stale = parse_period(s["stale_after"]) if isinstance(s["stale_after"], (str, int)) else None
        if stale is None:
            c.add(p + ("stale_after",), f"'{s['stale_after']}' is not a period; write e.g. '2 years', '18 months'")
    return ConsentMap(events, processing, stale)


def _events(c: Checker, raw: Any, ep: tuple, datasets: dict[str, Dataset]) -> ConsentEvents:
    """`consent.events`: the dataset of consent events, its columns and the action words for granted/withdrawn."""
    e = c.mapping(raw, ep, CONSENT_EVENT_KEYS, required=("dataset",))
    eds = _dataset(c, e.get("dataset"), ep + ("dataset",), datasets)
    cols = {k: _column(c, eds, e.get(k), ep + (k,), required=k not in ("method", "notice"))
            for k in ("subject", "purpose", "action", "at", "method", "notice")}
    words = {}
    for k in ("granted", "withdrawn"):
        words[k] = c.text_list(e.get(k), ep + (k,), "an action word or a list of them") or (k,)
    both = set(words["granted"]) & set(words["withdrawn"])
    if both:
        c.add(ep, f"action word(s) {', '.join(sorted(both))} cannot mean both granted and withdrawn")
    return ConsentEvents(eds.name if eds else "", cols["subject"] or "", cols["purpose"] or "",
                         cols["action"] or "", cols["at"] or "", cols["method"], cols["notice"],
                         words["granted"], words["withdrawn"])


def _processing(c: Checker, raw: Any, p: tuple, purposes: dict[str, Purpose],
                datasets: dict[str, Dataset]) -> tuple[ConsentProcessing, ...]:
    """`consent.processing`: each act that needs consent, in a dataset that serves that purpose."""
    processing = []
    raw_proc = raw or []
    if not isinstance(raw_proc, list):
        c.add(p + ("processing",), f"expected a list of {{dataset, purpose, subject, at}}, got {kind_of(raw_proc)}")
        raw_proc = []
    for i, item in enumerate(raw_proc):
        pp = p + ("processing", i)
        d = c.mapping(item, pp, CONSENT_PROCESSING_KEYS, required=("dataset", "purpose", "subject", "at"))
        pds = _dataset(c, d.get("dataset"), pp + ("dataset",), datasets)
        purpose = c.one_name(d.get("purpose"), pp + ("purpose",), "purpose")
        if purpose is not None and purpose not in purposes:
            c.add(pp + ("purpose",), f"unknown purpose '{purpose}'{did_you_mean(purpose, purposes)}; defined: "
                                     f"{', '.join(purposes) or 'none'}")
        elif purpose is not None and pds is not None and purpose not in pds.purposes:
            c.add(pp + ("purpose",), f"{pds.name} does not serve purpose '{purpose}' (its purposes: "
                                     f"{', '.join(pds.purposes) or 'none'}); add it there or name another purpose")
        subj = _column(c, pds, d.get("subject"), pp + ("subject",)) if d.get("subject") is not None else None
        at = _column(c, pds, d.get("at"), pp + ("at",)) if d.get("at") is not None else None
        if pds and purpose and subj and at:
            processing.append(ConsentProcessing(pds.name, purpose, subj, at))
    return tuple(processing)


def _dataset(c: Checker, value: Any, path: tuple, datasets: dict[str, Dataset]) -> Dataset | None:
    """The dataset a consent entry names, when the map has it."""
    name = c.one_name(value, path, "dataset")
    if name is None:
        return None
    if name not in datasets:
        c.add(path, f"unknown dataset '{name}'{did_you_mean(name, datasets)}; consent names a dataset of "
                    f"the map's datasets")
        return None
    return datasets[name]


def _column(c: Checker, ds: Dataset | None, value: Any, path: tuple, required: bool = True) -> str | None:
    """A column of `ds` the map declares (so `privacyops check` verifies it exists in the live table)."""
    col = c.one_name(value, path, "column")
    if col is None:
        if required:
            c.add(path, "is required (a column name)")
        return None
    if ds is not None and col not in dataset_columns(ds):
        c.add(path, f"'{col}' is not a column of {ds.name} in the map{did_you_mean(col, dataset_columns(ds))}; "
                    f"list it under the dataset's fields (then `privacyops check` verifies it exists)")
    return col
