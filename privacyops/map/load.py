"""Load and validate the data map (`privacyops.yaml`): what we hold, where, why and for how long.

Every problem is reported with the file, the line (from the YAML parser), the dotted path, what is wrong and what is
allowed; all problems are collected before raising, so one run of `privacyops check` shows them all. The top-level
sections are read here; `datasets:` and `consent:` have modules of their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

from ..errors import DataMapError, MapProblem
from .checker import WORD, Checker, did_you_mean, kind_of, parse_anchor, parse_period
from .consent_section import parse_consent
from .datasets import check_references, parse_datasets
from .model import (
    ANCHOR_FUNCTIONS,
    AUTHORITY_KEYS,
    LEDGER_KEYS,
    LEDGER_KINDS,
    AUDIT_KEYS,
    AuditConfig,
    CHECKPOINT_KEYS,
    CHECKPOINT_KINDS,
    LEGAL_BASES,
    ORG_KEYS,
    PURPOSE_KEYS,
    RECIPIENT_KEYS,
    RETENTION_KEYS,
    ROLES_KEYS,
    SECRET_KEYS,
    SERVER_SOURCE_KINDS,
    SETTINGS_KEYS,
    SOURCE_KEYS,
    SOURCE_KINDS,
    TOP_KEYS,
    Authority,
    DataMap,
    LedgerConfig,
    Organisation,
    Purpose,
    Recipient,
    RetentionRule,
    Roles,
    Settings,
    Source,
)
from .yaml_lines import compose


def load_datamap(path: str | Path) -> DataMap:
    """Load and validate a data map file. Raises DataMapError listing every problem found."""
    path = Path(path)
    if not path.is_file():
        raise DataMapError([MapProblem("", f"no data map here; create {path.name} (see docs/datamap.md)",
                                       None, str(path))])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataMapError([MapProblem("", f"cannot read the file: {exc}", None, str(path))]) from None
    return parse_datamap(text, file=str(path), path=path)


def parse_datamap(text: str, file: str | None = None, path: Path | None = None) -> DataMap:
    """Validate a data map given as YAML text."""
    where = file or "<map>"  # YAML-level problems always name a file, "<map>" for text given without one
    data, lines, duplicates = compose(text, where)
    if not lines:  # no YAML node at all (a document of just `null` has one, and is reported as not a mapping)
        raise DataMapError([MapProblem("", "the file is empty; expected a mapping with organisation, "
                                           "purposes, sources and datasets", 1, where)])
    c = Checker(file, lines)
    c.problems.extend(MapProblem(".".join(map(str, key)), "this key appears twice; keep one", line, where)
                      for key, line in duplicates)
    top = c.mapping(data, (), TOP_KEYS, required=("organisation", "sources", "datasets"))

    version = top.get("version", 1)
    if version != 1 or isinstance(version, bool):
        c.add(("version",), f"unsupported version {version!r}; this privacyops reads version 1")

    organisation = _organisation(c, top.get("organisation"))
    settings = _settings(c, top.get("settings"))
    purposes = _purposes(c, top.get("purposes"))
    retention = _retention(c, top.get("retention"))
    recipients = _recipients(c, top.get("recipients"))
    sources = _sources(c, top.get("sources"))
    declared_rules = set(map(str, top["retention"])) if isinstance(top.get("retention"), dict) else set()
    datasets = parse_datasets(c, top.get("datasets"), purposes, retention, recipients, sources, declared_rules)
    ledger = _ledger(c, top.get("ledger"))
    audit = _audit(c, top.get("audit"))
    roles = _roles(c, top.get("roles"))
    consent = parse_consent(c, top.get("consent"), purposes, datasets)
    check_references(c, datasets, retention)

    if c.problems:
        raise DataMapError(c.problems)
    dm = DataMap(
        path=path, version=1, organisation=organisation, settings=settings, purposes=purposes,
        retention=retention, recipients=recipients, sources=sources, datasets=datasets,
        fingerprint=hashlib.sha256(text.encode("utf-8")).hexdigest(), ledger=ledger, roles=roles,
        consent=consent, audit=audit,
    )
    object.__setattr__(dm, "_lines", {".".join(map(str, k)): v for k, v in lines.items()})
    return dm


def _organisation(c: Checker, raw: Any) -> Organisation:
    """`organisation:`, with its supervisory authority (a name, or a mapping)."""
    p = ("organisation",)
    org = c.mapping(raw, p, ORG_KEYS, required=("name", "contact", "authority"))
    auth_raw = org.get("authority")
    if isinstance(auth_raw, str):
        authority = Authority(name=auth_raw)
    else:
        a = c.mapping(auth_raw, p + ("authority",), AUTHORITY_KEYS, required=("name",) if auth_raw else ())
        country = c.location(a["country"], p + ("authority", "country")) if a.get("country") else None
        authority = Authority(name=str(a.get("name") or ""), country=country,
                              **{k: c.text(a.get(k), p + ("authority", k)) for k in
                                 ("address", "website", "email", "phone")})
    return Organisation(
        name=str(org.get("name") or ""), contact=str(org.get("contact") or ""), authority=authority,
        address=c.text(org.get("address"), p + ("address",)), dpo=c.text(org.get("dpo"), p + ("dpo",)),
        security_measures=c.text_list(org.get("security_measures"), p + ("security_measures",),
                                      "a list of security measures (Art. 30(1)(g)), one per item"),
    )


def _settings(c: Checker, raw: Any) -> Settings:
    """`settings:`; each one left out keeps its default."""
    p = ("settings",)
    s = c.mapping(raw, p, SETTINGS_KEYS)
    out = Settings()
    fy = s.get("fiscal_year_start")
    if fy is not None:
        m = re.match(r"^(\d\d)-(\d\d)$", str(fy))
        if not m or not (1 <= int(m.group(1)) <= 12 and 1 <= int(m.group(2)) <= 28):
            c.add(p + ("fiscal_year_start",), f"'{fy}' is not MM-DD (day 1-28), e.g. \"01-01\" or \"07-01\"")
        else:
            out = Settings((int(m.group(1)), int(m.group(2))), out.phone_match_digits, out.name_match_threshold)
    digits = s.get("phone_match_digits")
    if digits is not None:
        if not isinstance(digits, int) or isinstance(digits, bool) or not 6 <= digits <= 15:
            c.add(p + ("phone_match_digits",), f"{digits!r} must be a whole number from 6 to 15")
        else:
            out = Settings(out.fiscal_year_start, digits, out.name_match_threshold)
    thr = s.get("name_match_threshold")
    if thr is not None:
        if not isinstance(thr, (int, float)) or isinstance(thr, bool) or not 0 < thr <= 1:
            c.add(p + ("name_match_threshold",), f"{thr!r} must be a number above 0 and at most 1")
        else:
            out = Settings(out.fiscal_year_start, out.phone_match_digits, float(thr))
    four_eyes = s.get("four_eyes")
    if four_eyes is not None:
        if not isinstance(four_eyes, bool):
            c.add(p + ("four_eyes",), f"expected true or false, got {four_eyes!r}")
        else:
            out = Settings(out.fiscal_year_start, out.phone_match_digits, out.name_match_threshold, four_eyes)
    rectify = s.get("four_eyes_rectify")
    if rectify is not None:
        if not isinstance(rectify, bool):
            c.add(p + ("four_eyes_rectify",), f"expected true or false, got {rectify!r}")
        else:
            out = dataclasses.replace(out, four_eyes_rectify=rectify)
    return out


def _roles(c: Checker, raw: Any) -> Roles:
    """`roles:`: who may prepare and who may approve erasure plans."""
    p = ("roles",)
    r = c.mapping(raw, p, ROLES_KEYS)
    lists = {}
    for key in ROLES_KEYS:
        value = r.get(key)
        if value is None:
            lists[key] = ()
        elif isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            lists[key] = tuple(v.strip() for v in value)
        else:
            c.add(p + (key,), f"expected a list of actor names (as $PRIVACYOPS_ACTOR gives them), "
                              f"got {kind_of(value)}")
            lists[key] = ()
    return Roles(lists["preparers"], lists["approvers"])


def _purposes(c: Checker, raw: Any) -> dict[str, Purpose]:
    """`purposes:`, each with a legal basis of Art. 6."""
    out = {}
    for name, spec in c.mapping(raw, ("purposes",)).items():
        p = ("purposes", name)
        if not WORD.match(str(name)):
            c.add(p, f"purpose name '{name}' must be a single word (letters, digits, _)")
        s = c.mapping(spec, p, PURPOSE_KEYS, required=("description", "legal_basis"))
        basis = s.get("legal_basis")
        if basis and basis not in LEGAL_BASES:
            c.add(p + ("legal_basis",), f"'{basis}' is not a legal basis{did_you_mean(str(basis), LEGAL_BASES)};"
                                        f" allowed: {', '.join(LEGAL_BASES)}")
        dmk = s.get("direct_marketing", False)
        if not isinstance(dmk, bool):
            c.add(p + ("direct_marketing",), f"expected true or false, got {dmk!r}")
            dmk = False
        out[str(name)] = Purpose(str(name), str(s.get("description") or ""), str(basis or ""),
                                 c.text(s.get("legitimate_interest"), p + ("legitimate_interest",)), dmk)
    return out


def _retention(c: Checker, raw: Any) -> dict[str, RetentionRule]:
    """`retention:` rules; a rule with a bad period or anchor is reported and left out."""
    out = {}
    for name, spec in c.mapping(raw, ("retention",)).items():
        p = ("retention", name)
        s = c.mapping(spec, p, RETENTION_KEYS, required=("keep", "from", "ground"))
        keep = parse_period(s["keep"]) if isinstance(s.get("keep"), (str, int)) else None
        if s.get("keep") is not None and keep is None:
            c.add(p + ("keep",), f"'{s['keep']}' is not a period; write e.g. '5 years', '18 months', '30 days'")
        anchor = parse_anchor(s["from"]) if isinstance(s.get("from"), str) and s.get("from") else None
        if s.get("from") is not None and (anchor is None
                                          or (anchor.function and anchor.function not in ANCHOR_FUNCTIONS)):
            c.add(p + ("from",), f"'{s['from']}' is not an anchor; write a date column (closed_at), "
                                 f"{' / '.join(f + '(column)' for f in ANCHOR_FUNCTIONS)}, or a date column of the "
                                 f"row a reference points at (member_id.left_on)")
            anchor = None
        while_empty = s.get("keep_while_empty", False)
        if not isinstance(while_empty, bool):
            c.add(p + ("keep_while_empty",), f"expected true or false, got {while_empty!r}")
            while_empty = False
        if keep and anchor:
            out[str(name)] = RetentionRule(str(name), keep, anchor, str(s.get("ground") or ""),
                                           c.text(s.get("description"), p + ("description",)), while_empty)
    return out


def _recipients(c: Checker, raw: Any) -> dict[str, Recipient]:
    """`recipients:` of the data, with their country."""
    out = {}
    for name, spec in c.mapping(raw, ("recipients",)).items():
        p = ("recipients", name)
        s = c.mapping(spec, p, RECIPIENT_KEYS)
        loc = c.location(s["location"], p + ("location",)) if s.get("location") else None
        out[str(name)] = Recipient(str(name), c.text(s.get("description"), p + ("description",)), loc,
                                   c.text(s.get("role"), p + ("role",)), c.text(s.get("safeguards"),
                                                                                 p + ("safeguards",)))
    return out


def _connection(c: Checker, s: dict, p: tuple, kind: str) -> tuple[str | None, str | None]:
    """dsn_env / dsn_file of a server connection; a credential written into the map is refused."""
    for key in SECRET_KEYS:
        if key in s:
            c.add(p + (key,), f"'{key}' would put connection details (and often a password) into the map; "
                              f"put the DSN in an environment variable (dsn_env: NAME) or in a file outside the "
                              f"repository (dsn_file: /path/to/file)")
    env, file = s.get("dsn_env"), s.get("dsn_file")
    if kind in SERVER_SOURCE_KINDS:
        if bool(env) == bool(file):
            c.add(p, f"a {kind} connection needs exactly one of dsn_env (an environment variable name) or "
                     f"dsn_file (a file holding the DSN)")
        if env is not None and not re.match(r"^[A-Z_][A-Z0-9_]*$", str(env)):
            c.add(p + ("dsn_env",), "must be the NAME of an environment variable (e.g. PRIVACYOPS_APP_DSN), "
                                    "not the DSN itself")
    elif env or file:
        c.add(p, f"dsn_env/dsn_file are for {', '.join(SERVER_SOURCE_KINDS)} connections; a {kind} source "
                 f"takes a path")
    return (str(env) if env else None), (str(file) if file else None)


def _sources(c: Checker, raw: Any) -> dict[str, Source]:
    """`sources:`: databases and folders of files, with their country; connection secrets stay outside the map."""
    out = {}
    for name, spec in c.mapping(raw, ("sources",)).items():
        p = ("sources", name)
        s = c.mapping(spec, p, SOURCE_KEYS + SECRET_KEYS, required=("kind", "location"))
        kind = s.get("kind")
        if kind and kind not in SOURCE_KINDS:
            c.add(p + ("kind",), f"unknown source kind '{kind}'{did_you_mean(str(kind), SOURCE_KINDS)}; "
                                 f"allowed: {', '.join(SOURCE_KINDS)}")
        if kind not in SERVER_SOURCE_KINDS and not s.get("path"):
            c.add(p + ("path",), "'path' is required (a file or folder, relative to the workspace folder)")
        dsn_env, dsn_file = _connection(c, s, p, str(kind or ""))
        loc = c.location(s.get("location"), p + ("location",)) if s.get("location") else ""
        options = s.get("options") or {}
        if not isinstance(options, dict):
            c.add(p + ("options",), "expected a mapping of connector options")
            options = {}
        out[str(name)] = Source(str(name), str(kind or ""), str(s.get("path") or ""), loc,
                                c.text(s.get("description"), p + ("description",)), options,
                                dsn_env, dsn_file, c.text(s.get("schema"), p + ("schema",)),
                                *_timeouts(c, s, p, str(kind or "")))
    if not out and isinstance(raw, dict):
        c.add(("sources",), "no sources; add at least one, e.g. company: {kind: duckdb, path: company.duckdb, "
                            "location: LV}")
    return out


# Which kinds of store can honour each timeout: PostgreSQL both (SET statement_timeout / lock_timeout); SQLite both
# (its busy timeout, and a progress handler that interrupts a long statement); DuckDB waits for the file lock only.
# Folders of files take no locks and are read by an in-process engine.
TIMEOUT_KINDS = {"statement_timeout": ("postgres", "sqlite"), "lock_timeout": ("postgres", "sqlite", "duckdb")}
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|min|mins|minutes?|h|hours?)?\s*$", re.I)
_UNIT = {"ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60, "minute": 60,
         "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}


def parse_seconds(value: Any) -> float | None:
    """A duration in seconds from `30`, `2.5`, `"30 s"`, `"500 ms"`, `"2 min"`, `"1 h"`; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _SECONDS.match(str(value))
    return float(m.group(1)) * _UNIT[(m.group(2) or "s").lower()] if m else None


def _timeouts(c: Checker, s: dict, p: tuple, kind: str) -> tuple[float | None, float | None]:
    """`statement_timeout` and `lock_timeout` of a source: a positive duration, on a kind that can honour it."""
    out = []
    for key in ("statement_timeout", "lock_timeout"):
        value = s.get(key)
        if value is None:
            out.append(None)
            continue
        seconds = parse_seconds(value)
        if seconds is None or not 0 < seconds <= 86400:
            c.add(p + (key,), f"'{value}' is not a duration; write seconds (30) or a period like '30 s', '500 ms', "
                              f"'2 min' (more than 0, at most a day); leave it out for the store's default")
            seconds = None
        elif kind and kind not in TIMEOUT_KINDS[key]:
            c.add(p + (key,), f"{key} applies to {', '.join(TIMEOUT_KINDS[key])} sources only; a {kind} source "
                              f"cannot honour it: remove it")
            seconds = None
        out.append(seconds)
    return out[0], out[1]


def _ledger(c: Checker, raw: Any) -> LedgerConfig:
    """`ledger:`, the ops database (the embedded DuckDB file when left out)."""
    if raw is None:
        return LedgerConfig()
    p = ("ledger",)
    s = c.mapping(raw, p, LEDGER_KEYS + SECRET_KEYS, required=("kind",))
    kind = str(s.get("kind") or "duckdb")
    if kind not in LEDGER_KINDS:
        c.add(p + ("kind",), f"unknown ledger kind '{kind}'; allowed: {', '.join(LEDGER_KINDS)}")
    dsn_env, dsn_file = _connection(c, s, p, kind)
    return LedgerConfig(kind, str(s.get("path") or "ledger.duckdb"), dsn_env, dsn_file)



def _audit(c: Checker, raw: Any) -> AuditConfig:
    """`audit: {checkpoints: {kind: file|postgres|stdout, ...}}`: where signed audit checkpoints go (default: the
    file `audit.checkpoints` in the workspace)."""
    if raw is None:
        return AuditConfig()
    top = c.mapping(raw, ("audit",), AUDIT_KEYS)
    if top.get("checkpoints") is None:
        return AuditConfig()
    p = ("audit", "checkpoints")
    s = c.mapping(top.get("checkpoints"), p, CHECKPOINT_KEYS + SECRET_KEYS, required=("kind",))
    kind = str(s.get("kind") or "file")
    if kind not in CHECKPOINT_KINDS:
        c.add(p + ("kind",), f"unknown checkpoint sink '{kind}'; allowed: {', '.join(CHECKPOINT_KINDS)}")
        return AuditConfig()
    path = s.get("path")
    if kind == "file" and not (isinstance(path, str) and path.strip()):
        c.add(p + ("path",), "a file sink needs path: the JSON-lines file checkpoints are appended to (best on a "
                             "share another team holds, e.g. /mnt/audit/privacyops.checkpoints)")
    elif kind != "file" and path is not None:
        c.add(p + ("path",), f"path is for kind: file; a {kind} sink takes no path")
    dsn_env, dsn_file = _connection(c, s, p, kind)
    return AuditConfig(kind, str(path or "audit.checkpoints"), dsn_env, dsn_file, explicit=True)
