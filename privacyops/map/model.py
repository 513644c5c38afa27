"""Load and validate the data map (`privacyops.yaml`): what we hold, where, why and for how long.

Every problem is reported with the file, the line (from the YAML parser), the dotted path, what is wrong and what is
allowed; all problems are collected before raising, so one run of `privacyops check` shows them all.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataMapError, MapProblem

LEGAL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)
SOURCE_KINDS = ("duckdb", "parquet", "csv", "sqlite", "postgres")
FILE_SOURCE_KINDS = ("parquet", "csv")
SERVER_SOURCE_KINDS = ("postgres",)  # reached through a DSN kept outside the map
LEDGER_KINDS = ("duckdb", "postgres")
# Keys that would put a credential into the map: refused, with the way to do it instead.
SECRET_KEYS = ("dsn", "url", "password", "user", "username", "host", "connection_string")
MASK_STRATEGIES = ("null", "redact", "hmac")
ERASURE_ACTIONS = ("delete", "mask")
ANCHOR_FUNCTIONS = ("end_of_fiscal_year", "end_of_month")
# Identity kinds with special matching; any other word is an exact identifier (customer_id, username, ...).
EMAIL, PHONE, NAME = "email", "phone", "name"
PERIOD_UNITS = {"day": "days", "week": "weeks", "month": "months", "year": "years"}
EU_EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)

_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERIOD = re.compile(r"^\s*(\d+)\s*(day|week|month|year)s?\s*$", re.I)
_ANCHOR = re.compile(r"^\s*(?:([a-z_]+)\(\s*([^()\s]+)\s*\)|([^()\s]+))\s*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")

TOP_KEYS = ("version", "organisation", "settings", "purposes", "retention", "recipients", "sources", "datasets",
            "ledger", "roles", "consent")
ORG_KEYS = ("name", "address", "contact", "dpo", "authority", "security_measures")
AUTHORITY_KEYS = ("name", "country", "address", "website", "email", "phone")
SETTINGS_KEYS = ("fiscal_year_start", "phone_match_digits", "name_match_threshold", "four_eyes")
ROLES_KEYS = ("preparers", "approvers")
PURPOSE_KEYS = ("description", "legal_basis", "legitimate_interest", "direct_marketing")
RETENTION_KEYS = ("keep", "from", "ground", "description")
RECIPIENT_KEYS = ("description", "location", "role", "safeguards")
SOURCE_KEYS = ("kind", "path", "location", "description", "options", "dsn_env", "dsn_file", "schema")
LEDGER_KEYS = ("kind", "path", "dsn_env", "dsn_file")
DATASET_KEYS = (
    "source", "table", "description", "subject", "primary_key", "identities", "references",
    "purposes", "retention", "recipients", "fields", "erasure", "collected_from",
)
FIELD_KEYS = ("category", "categories", "description", "free_text")
REFERENCE_KEYS = ("to", "shared")
ERASURE_KEYS = ("action", "keep_fields", "mask")
CONSENT_KEYS = ("events", "processing", "stale_after")
CONSENT_EVENT_KEYS = ("dataset", "subject", "purpose", "action", "at", "method", "notice", "granted", "withdrawn")
CONSENT_PROCESSING_KEYS = ("dataset", "purpose", "subject", "at")


@functools.cache
def data_categories() -> frozenset[str]:
    """The fideslang default taxonomy's data category keys (`user.contact.email`, ...)."""
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)


# ---------------------------------------------------------------------------------------------------------------
# The model: plain frozen dataclasses handed to every other layer.


@dataclass(frozen=True)
class Authority:
    name: str
    country: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Organisation:
    name: str
    contact: str
    authority: Authority
    address: str | None = None
    dpo: str | None = None
    security_measures: tuple[str, ...] = ()  # Art. 30(1)(g): a general description, one measure per item


@dataclass(frozen=True)
class Settings:
    fiscal_year_start: tuple[int, int] = (1, 1)  # (month, day)
    phone_match_digits: int = 8
    name_match_threshold: float = 0.82
    four_eyes: bool = True  # an erasure plan needs a second person's approval before it runs


@dataclass(frozen=True)
class Roles:
    """Who may prepare and who may approve erasure plans (actor names); an empty list: anyone."""

    preparers: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Purpose:
    name: str
    description: str
    legal_basis: str
    legitimate_interest: str | None = None
    direct_marketing: bool = False  # Art. 21(2)-(3): an objection or withdrawal stops it at once (suppression)


@dataclass(frozen=True)
class Period:
    amount: int
    unit: str  # days | weeks | months | years

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"


@dataclass(frozen=True)
class Anchor:
    field: str
    function: str | None = None  # None: the field's own date; else one of ANCHOR_FUNCTIONS

    def __str__(self) -> str:
        return f"{self.function}({self.field})" if self.function else self.field


@dataclass(frozen=True)
class RetentionRule:
    name: str
    keep: Period
    anchor: Anchor
    ground: str
    description: str | None = None

    def __str__(self) -> str:
        return f"{self.keep} from {self.anchor} ({self.ground})"


@dataclass(frozen=True)
class Recipient:
    name: str
    description: str | None = None
    location: str | None = None
    role: str | None = None
    safeguards: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    path: str
    location: str
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    dsn_env: str | None = None  # server sources: the environment variable holding the DSN
    dsn_file: str | None = None  # ... or a file holding it (relative paths: to the workspace folder)
    schema: str | None = None

    @property
    def in_eu(self) -> bool:
        return self.location in EU_EEA


@dataclass(frozen=True)
class LedgerConfig:
    """Where the ops ledger lives: the embedded DuckDB file (default) or a PostgreSQL database a team shares."""

    kind: str = "duckdb"
    path: str = "ledger.duckdb"
    dsn_env: str | None = None
    dsn_file: str | None = None


@dataclass(frozen=True)
class Field:
    name: str
    categories: tuple[str, ...]
    description: str | None = None
    free_text: bool = False

    @property
    def category(self) -> str:
        return self.categories[0] if self.categories else ""

    @property
    def personal(self) -> bool:
        return any(c == "user" or c.startswith("user.") for c in self.categories)


@dataclass(frozen=True)
class Reference:
    dataset: str  # the referencing dataset
    column: str
    to_dataset: str
    to_column: str
    shared: bool = False  # True: the target is shared reference data (context only, never walked down)


@dataclass(frozen=True)
class ErasurePolicy:
    action: str = "delete"
    keep_fields: tuple[str, ...] = ()
    mask: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str
    table: str
    primary_key: tuple[str, ...]
    fields: dict[str, Field] = field(hash=False, compare=False)
    identities: dict[str, tuple[str, ...]] = field(hash=False, compare=False)
    references: tuple[Reference, ...] = ()
    purposes: tuple[str, ...] = ()
    retention: str | None = None
    recipients: tuple[str, ...] = ()
    subject: str | None = None
    description: str | None = None
    collected_from: str | None = None  # the source of data not collected from the subject (Art. 14/15(1)(g))
    erasure: ErasurePolicy = field(default_factory=ErasurePolicy)

    def identity_columns(self, kind: str) -> tuple[str, ...]:
        return self.identities.get(kind, ())

    @property
    def free_text_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields.values() if f.free_text)

    @property
    def owner_references(self) -> tuple[Reference, ...]:
        """References to the rows this dataset's rows belong to (walked up to find the person)."""
        return tuple(r for r in self.references if not r.shared)

    @property
    def shared_references(self) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.shared)


@dataclass(frozen=True)
class ConsentEvents:
    """The dataset holding the organisation's consent events (ISO/IEC TS 27560-style): who, for which purpose,
    granted or withdrawn, when, how and under which notice. Column names; `granted` / `withdrawn` are the values
    of the action column that mean each."""

    dataset: str
    subject: str
    purpose: str
    action: str
    at: str
    method: str | None = None
    notice: str | None = None
    granted: tuple[str, ...] = ("granted",)
    withdrawn: tuple[str, ...] = ("withdrawn",)


@dataclass(frozen=True)
class ConsentProcessing:
    """Processing that needs the subject's consent for `purpose` (e.g. marketing e-mails sent): one row per act,
    the subject column (the same values as the events' subject column) and when it happened."""

    dataset: str
    purpose: str
    subject: str
    at: str


@dataclass(frozen=True)
class ConsentMap:
    """The map's optional `consent:` section."""

    events: ConsentEvents
    processing: tuple[ConsentProcessing, ...] = ()
    stale_after: Period | None = None  # a consent older than this is stale (re-confirm it)


@dataclass(frozen=True)
class DataMap:
    path: Path | None
    version: int
    organisation: Organisation
    settings: Settings
    purposes: dict[str, Purpose] = field(hash=False, compare=False)
    retention: dict[str, RetentionRule] = field(hash=False, compare=False)
    recipients: dict[str, Recipient] = field(hash=False, compare=False)
    sources: dict[str, Source] = field(hash=False, compare=False)
    datasets: dict[str, Dataset] = field(hash=False, compare=False)
    fingerprint: str = ""  # SHA-256 of the map text: the "map version" recorded with every operation
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    roles: Roles = field(default_factory=Roles)
    consent: "ConsentMap | None" = None  # where the consent events and the processing that needs consent live

    def dataset(self, name: str) -> Dataset:
        return self.datasets[name]

    def children(self, dataset: str) -> list[Reference]:
        """Belongs-to references that point at `dataset` (rows that belong to its rows)."""
        return [r for d in self.datasets.values() for r in d.owner_references if r.to_dataset == dataset]

    def identity_kinds(self) -> list[str]:
        return sorted({k for d in self.datasets.values() for k in d.identities})

    def line_of(self, dotted: str) -> int | None:
        return self._lines.get(dotted) if hasattr(self, "_lines") else None


# ---------------------------------------------------------------------------------------------------------------
# YAML with line numbers.


def _compose(text: str, file: str) -> tuple[Any, dict[tuple, int], list[MapProblem]]:
    """Parse YAML into Python objects plus a {path tuple: line} index and duplicate-key problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(exc, "problem", None) or str(exc)
        raise DataMapError([MapProblem("", f"not valid YAML: {what}", line, file)]) from None
    if node is None:
        raise DataMapError([MapProblem("", "the file is empty; expected a mapping with organisation, "
                                           "purposes, sources and datasets", 1, file)])
    lines: dict[tuple, int] = {}
    problems: list[MapProblem] = []

    def walk(n: yaml.Node, path: tuple) -> None:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            seen: set = set()
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
                if key in seen:
                    problems.append(MapProblem(".".join(map(str, path + (key,))),
                                               "this key appears twice; keep one", k.start_mark.line + 1, file))
                seen.add(key)
                lines[path + (key,)] = k.start_mark.line + 1
                walk(v, path + (key,))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, path + (i,))

    walk(node, ())
    data = yaml.load(text, Loader=yaml.SafeLoader)
    return data, lines, problems


# ---------------------------------------------------------------------------------------------------------------
# Validation.


class _Checker:
    """Collects problems with their lines while the model is built."""

    def __init__(self, file: str | None, lines: dict[tuple, int]):
        self.file = file
        self.lines = lines
        self.problems: list[MapProblem] = []

    def add(self, path: tuple, message: str) -> None:
        line = None
        for i in range(len(path), -1, -1):  # nearest ancestor that has a line
            line = self.lines.get(tuple(path[:i]))
            if line:
                break
        self.problems.append(MapProblem(".".join(map(str, path)), message, line, self.file))

    def mapping(self, value: Any, path: tuple, allowed: tuple[str, ...] | None = None,
                required: tuple[str, ...] = ()) -> dict:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping (key: value), got {_kind(value)}")
            return {}
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    hint = _did_you_mean(str(key), allowed)
                    self.add(path + (key,), f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}")
        for key in required:
            if value.get(key) in (None, ""):
                self.add(path + (key,), f"'{key}' is required")
        return value

    def text(self, value: Any, path: tuple, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if isinstance(value, (dict, list)):
            self.add(path, f"expected text, got {_kind(value)}")
            return None
        return str(value)

    def names(self, value: Any, path: tuple) -> tuple[str, ...]:
        """A column name or a list of them."""
        if isinstance(value, str) and value.strip():
            return (value,)
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(value)
        what = "an empty list" if value == [] else _kind(value)
        self.add(path, f"expected a column name or a non-empty list of column names, got {what}")
        return ()

    def location(self, value: Any, path: tuple) -> str:
        text = str(value or "").strip().upper()
        if not _COUNTRY.match(text):
            self.add(path, f"'{value}' is not a country code; use ISO 3166-1 alpha-2 such as LV, DE, US")
        return text


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "nothing"}.get(type(value), type(value).__name__)


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_period(text: str) -> Period | None:
    m = _PERIOD.match(str(text))
    if not m:
        return None
    return Period(int(m.group(1)), PERIOD_UNITS[m.group(2).lower()])


def parse_anchor(text: str) -> Anchor | None:
    m = _ANCHOR.match(str(text))
    if not m:
        return None
    if m.group(3):
        return Anchor(field=m.group(3))
    return Anchor(field=m.group(2), function=m.group(1))


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
    data, lines, dup_problems = _compose(text, file or "<map>")
    c = _Checker(file, lines)
    c.problems.extend(dup_problems)
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
    datasets = _datasets(c, top.get("datasets"), purposes, retention, recipients, sources, declared_rules)
    ledger = _ledger(c, top.get("ledger"))
    roles = _roles(c, top.get("roles"))
    consent = _consent(c, top.get("consent"), purposes, datasets)
    _check_references(c, datasets)

    if c.problems:
        raise DataMapError(c.problems)
    dm = DataMap(
        path=path, version=1, organisation=organisation, settings=settings, purposes=purposes,
        retention=retention, recipients=recipients, sources=sources, datasets=datasets,
        fingerprint=hashlib.sha256(text.encode("utf-8")).hexdigest(), ledger=ledger, roles=roles,
        consent=consent,
    )
    object.__setattr__(dm, "_lines", {".".join(map(str, k)): v for k, v in lines.items()})
    return dm


def _organisation(c: _Checker, raw: Any) -> Organisation:
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
        security_measures=_text_list(c, org.get("security_measures"), p + ("security_measures",),
                                     "a list of security measures (Art. 30(1)(g)), one per item"),
    )


def _settings(c: _Checker, raw: Any) -> Settings:
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
    return out


def _roles(c: _Checker, raw: Any) -> Roles:
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
                              f"got {_kind(value)}")
            lists[key] = ()
    return Roles(lists["preparers"], lists["approvers"])


def _purposes(c: _Checker, raw: Any) -> dict[str, Purpose]:
    out = {}
    for name, spec in c.mapping(raw, ("purposes",)).items():
        p = ("purposes", name)
        if not _WORD.match(str(name)):
            c.add(p, f"purpose name '{name}' must be a single word (letters, digits, _)")
        s = c.mapping(spec, p, PURPOSE_KEYS, required=("description", "legal_basis"))
        basis = s.get("legal_basis")
        if basis and basis not in LEGAL_BASES:
            c.add(p + ("legal_basis",), f"'{basis}' is not a legal basis{_did_you_mean(str(basis), LEGAL_BASES)};"
                                        f" allowed: {', '.join(LEGAL_BASES)}")
        dmk = s.get("direct_marketing", False)
        if not isinstance(dmk, bool):
            c.add(p + ("direct_marketing",), f"expected true or false, got {dmk!r}")
            dmk = False
        out[str(name)] = Purpose(str(name), str(s.get("description") or ""), str(basis or ""),
                                 c.text(s.get("legitimate_interest"), p + ("legitimate_interest",)), dmk)
    return out


def _retention(c: _Checker, raw: Any) -> dict[str, RetentionRule]:
    out = {}
    for name, spec in c.mapping(raw, ("retention",)).items():
        p = ("retention", name)
        s = c.mapping(spec, p, RETENTION_KEYS, required=("keep", "from", "ground"))
        keep = parse_period(s["keep"]) if isinstance(s.get("keep"), (str, int)) else None
        if s.get("keep") is not None and keep is None:
            c.add(p + ("keep",), f"'{s['keep']}' is not a period; write e.g. '5 years', '18 months', '30 days'")
        anchor = parse_anchor(s["from"]) if isinstance(s.get("from"), str) and s.get("from") else None
        if s.get("from") is not None and (anchor is None or (anchor.function and anchor.function not in ANCHOR_FUNCTIONS)):
            c.add(p + ("from",), f"'{s['from']}' is not an anchor; write a date column (closed_at) or "
                                 f"{' / '.join(f + '(column)' for f in ANCHOR_FUNCTIONS)}")
            anchor = None
        if keep and anchor:
            out[str(name)] = RetentionRule(str(name), keep, anchor, str(s.get("ground") or ""),
                                           c.text(s.get("description"), p + ("description",)))
    return out


def _recipients(c: _Checker, raw: Any) -> dict[str, Recipient]:
    out = {}
    for name, spec in c.mapping(raw, ("recipients",)).items():
        p = ("recipients", name)
        s = c.mapping(spec, p, RECIPIENT_KEYS)
        loc = c.location(s["location"], p + ("location",)) if s.get("location") else None
        out[str(name)] = Recipient(str(name), c.text(s.get("description"), p + ("description",)), loc,
                                   c.text(s.get("role"), p + ("role",)), c.text(s.get("safeguards"),
                                                                                 p + ("safeguards",)))
    return out


def _connection(c: _Checker, s: dict, p: tuple, kind: str) -> tuple[str | None, str | None]:
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


def _sources(c: _Checker, raw: Any) -> dict[str, Source]:
    out = {}
    for name, spec in c.mapping(raw, ("sources",)).items():
        p = ("sources", name)
        s = c.mapping(spec, p, SOURCE_KEYS + SECRET_KEYS, required=("kind", "location"))
        kind = s.get("kind")
        if kind and kind not in SOURCE_KINDS:
            c.add(p + ("kind",), f"unknown source kind '{kind}'{_did_you_mean(str(kind), SOURCE_KINDS)}; "
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
                                dsn_env, dsn_file, c.text(s.get("schema"), p + ("schema",)))
    if not out and isinstance(raw, dict):
        c.add(("sources",), "no sources; add at least one, e.g. company: {kind: duckdb, path: company.duckdb, "
                            "location: LV}")
    return out


def _ledger(c: _Checker, raw: Any) -> LedgerConfig:
    if raw is None:
        return LedgerConfig()
    p = ("ledger",)
    s = c.mapping(raw, p, LEDGER_KEYS + SECRET_KEYS, required=("kind",))
    kind = str(s.get("kind") or "duckdb")
    if kind not in LEDGER_KINDS:
        c.add(p + ("kind",), f"unknown ledger kind '{kind}'; allowed: {', '.join(LEDGER_KINDS)}")
    dsn_env, dsn_file = _connection(c, s, p, kind)
    return LedgerConfig(kind, str(s.get("path") or "ledger.duckdb"), dsn_env, dsn_file)


def _field(c: _Checker, name: str, spec: Any, p: tuple) -> Field:
    if isinstance(spec, str):
        cats, desc, free = (spec,), None, False
    elif isinstance(spec, list):
        cats, desc, free = tuple(str(x) for x in spec), None, False
    elif isinstance(spec, dict):
        s = c.mapping(spec, p, FIELD_KEYS)
        raw = s.get("categories", s.get("category"))
        cats = tuple(str(x) for x in raw) if isinstance(raw, list) else ((str(raw),) if raw else ())
        desc, free = c.text(s.get("description"), p + ("description",)), s.get("free_text", False)
        if not isinstance(free, bool):
            c.add(p + ("free_text",), f"expected true or false, got {free!r}")
            free = False
        if not cats:
            c.add(p, "needs a data category: category: user.contact.email (fideslang taxonomy)")
    else:
        c.add(p, f"expected a data category (e.g. user.contact.email), got {_kind(spec)}")
        cats, desc, free = (), None, False
    known = data_categories()
    for cat in cats:
        if cat not in known:
            c.add(p, f"'{cat}' is not a fideslang data category{_did_you_mean(cat, known)}; see "
                     f"fideslang's default taxonomy (e.g. user.contact.email, user.name, system.operations)")
    return Field(name, cats, desc, free)


def _name(c: _Checker, value: Any, path: tuple, what: str) -> str | None:
    """A single name (of a source, rule, purpose...): text, not a list or mapping."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        c.add(path, f"expected one {what} name, got {_kind(value)}")
        return None
    return str(value)


def _datasets(c: _Checker, raw: Any, purposes, retention, recipients, sources,
              declared_rules: set[str]) -> dict[str, Dataset]:
    out: dict[str, Dataset] = {}
    raw_map = c.mapping(raw, ("datasets",))
    if not raw_map and isinstance(raw, dict):
        c.add(("datasets",), "no datasets; describe at least one table")
    for name, spec in raw_map.items():
        name = str(name)
        p = ("datasets", name)
        s = c.mapping(spec, p, DATASET_KEYS, required=("source", "primary_key"))
        src = _name(c, s.get("source"), p + ("source",), "source")
        if src and src not in sources:
            c.add(p + ("source",), f"unknown source '{src}'{_did_you_mean(str(src), sources)}; "
                                   f"defined: {', '.join(sources) or 'none'}")
        table = _name(c, s.get("table"), p + ("table",), "table") or name
        if src in sources and sources[src].kind in FILE_SOURCE_KINDS:
            if s.get("table") is None:
                table = f"{name}.{sources[src].kind}"
            if table.startswith("/") or ".." in Path(table).parts:
                c.add(p + ("table",), f"'{table}' must be a path inside the source folder (no '..', not absolute)")
        pk = c.names(s["primary_key"], p + ("primary_key",)) if s.get("primary_key") else ()

        fields = {str(f): _field(c, str(f), spec_f, p + ("fields", f))
                  for f, spec_f in c.mapping(s.get("fields"), p + ("fields",)).items()}

        identities: dict[str, tuple[str, ...]] = {}
        for kind, cols in c.mapping(s.get("identities"), p + ("identities",)).items():
            ip = p + ("identities", kind)
            if not _WORD.match(str(kind)):
                c.add(ip, f"identity kind '{kind}' must be a single word (email, phone, name, customer_id, ...)")
                continue
            names = c.names(cols, ip)
            for col in names:
                if col not in fields:
                    c.add(ip, f"identity column '{col}' is not listed in fields; add it there with its data "
                              f"category (identities are personal data)")
            identities[str(kind)] = names

        refs = []
        for col, target in c.mapping(s.get("references"), p + ("references",)).items():
            rp = p + ("references", col)
            shared = False
            if isinstance(target, dict):
                t = c.mapping(target, rp, REFERENCE_KEYS, required=("to",))
                shared = t.get("shared", False)
                if not isinstance(shared, bool):
                    c.add(rp + ("shared",), f"expected true or false, got {shared!r}")
                    shared = False
                target = t.get("to")
            if not isinstance(target, str) or "." not in target:
                c.add(rp, f"expected DATASET.COLUMN (e.g. crm.customers.customer_id), got {target!r}")
                continue
            to_ds, to_col = target.rsplit(".", 1)
            refs.append(Reference(name, str(col), to_ds, to_col, shared))

        ds_purposes = s.get("purposes") or []
        if not isinstance(ds_purposes, list):
            c.add(p + ("purposes",), "expected a list of purpose names")
            ds_purposes = []
        for i, pu in enumerate(ds_purposes):
            if isinstance(pu, (dict, list)):
                c.add(p + ("purposes", i), f"expected a purpose name, got {_kind(pu)}")
                ds_purposes[i] = str(pu)
            elif pu not in purposes:
                c.add(p + ("purposes",), f"unknown purpose '{pu}'{_did_you_mean(str(pu), purposes)}; "
                                         f"defined: {', '.join(purposes) or 'none'}")
        if fields and any(f.personal for f in fields.values()) and not ds_purposes:
            c.add(p + ("purposes",), "this dataset holds personal data but names no purpose; every processing "
                                     "needs a purpose and legal basis (Art. 5(1)(b), 6)")
        rule = _name(c, s.get("retention"), p + ("retention",), "retention rule")
        if rule is not None and rule not in declared_rules:
            c.add(p + ("retention",), f"unknown retention rule '{rule}'{_did_you_mean(str(rule), retention)}; "
                                      f"defined: {', '.join(retention) or 'none'}")
        ds_recipients = s.get("recipients") or []
        if not isinstance(ds_recipients, list):
            c.add(p + ("recipients",), "expected a list of recipient names")
            ds_recipients = []
        for r in ds_recipients:
            if isinstance(r, (dict, list)):
                c.add(p + ("recipients",), f"expected a recipient name, got {_kind(r)}")
            elif r not in recipients:
                c.add(p + ("recipients",), f"unknown recipient '{r}'; defined: {', '.join(recipients) or 'none'}")
        subject = s.get("subject")
        if subject is not None and not _WORD.match(str(subject)):
            c.add(p + ("subject",), f"subject type '{subject}' must be a single word such as customer or employee")

        e = c.mapping(s.get("erasure"), p + ("erasure",), ERASURE_KEYS)
        action = e.get("action", "delete")
        if action not in ERASURE_ACTIONS:
            c.add(p + ("erasure", "action"), f"'{action}' is not an erasure action; allowed: "
                                             f"{', '.join(ERASURE_ACTIONS)}")
        keep = c.names(e["keep_fields"], p + ("erasure", "keep_fields")) if e.get("keep_fields") else ()
        mask = {}
        for col, strategy in c.mapping(e.get("mask"), p + ("erasure", "mask")).items():
            strategy = "null" if strategy is None else strategy  # YAML reads a bare `null` as None
            if not isinstance(strategy, str) or strategy not in MASK_STRATEGIES:
                c.add(p + ("erasure", "mask", col), f"unknown masking strategy '{strategy}'"
                                                    f"{_did_you_mean(str(strategy), MASK_STRATEGIES)}; allowed: "
                                                    f"{', '.join(MASK_STRATEGIES)}")
            if col in pk:
                c.add(p + ("erasure", "mask", col), "a primary key column cannot be masked")
            mask[str(col)] = str(strategy)

        out[name] = Dataset(
            name=name, source=str(src or ""), table=table, primary_key=pk, fields=fields, identities=identities,
            references=tuple(refs), purposes=tuple(map(str, ds_purposes)), retention=rule,
            recipients=tuple(map(str, ds_recipients)), subject=str(subject) if subject else None,
            description=c.text(s.get("description"), p + ("description",)),
            collected_from=c.text(s.get("collected_from"), p + ("collected_from",)),
            erasure=ErasurePolicy(str(action), keep, mask),
        )
    return out


def _check_references(c: _Checker, datasets: dict[str, Dataset]) -> None:
    """Targets exist; belongs-to references form no cycle (walking up to a person must end)."""
    for ds in datasets.values():
        for r in ds.references:
            rp = ("datasets", ds.name, "references", r.column)
            if r.to_dataset not in datasets:
                c.add(rp, f"references unknown dataset '{r.to_dataset}'"
                          f"{_did_you_mean(r.to_dataset, datasets)}; defined: {', '.join(datasets)}")
            elif not r.shared and ds.subject and datasets[r.to_dataset].subject:
                # Walking down such a link would hand one person's records to another (a support rep would
                # "own" their customers): refuse the map rather than leak.
                c.add(rp, f"{ds.name} rows are people ({ds.subject}) and so are {r.to_dataset} rows "
                          f"({datasets[r.to_dataset].subject}): one person never belongs to another; mark the "
                          f"reference shared: true")
    # Depth-first search for a cycle among belongs-to edges.
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for r in datasets[name].owner_references:
            if r.to_dataset not in datasets:
                continue
            if state.get(r.to_dataset) == 1:
                cycle = " -> ".join(trail + [name, r.to_dataset])
                c.add(("datasets", name, "references", r.column),
                      f"belongs-to references form a cycle ({cycle}); mark the reference that points at shared or "
                      f"peer rows with shared: true (e.g. an employee's manager)")
            elif not state.get(r.to_dataset):
                visit(r.to_dataset, trail + [name])
        state[name] = 2

    for name in datasets:
        if not state.get(name):
            visit(name, [])


def _text_list(c: _Checker, value: Any, path: tuple, what: str) -> tuple[str, ...]:
    """An optional list of texts (a single text is accepted as a list of one)."""
    if value is None:
        return ()
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    c.add(path, f"expected {what}, got {_kind(value)}")
    return ()


def _dataset_columns(ds: Dataset) -> set[str]:
    """Every column the map declares for a dataset (what `privacyops check` compares with the live table)."""
    cols = set(ds.fields) | set(ds.primary_key) | {r.column for r in ds.references}
    return cols | {c for cols_ in ds.identities.values() for c in cols_}


def _consent(c: _Checker, raw: Any, purposes: dict[str, Purpose], datasets: dict[str, Dataset]) -> ConsentMap | None:
    """The optional `consent:` section: where consent events and the processing that needs consent live."""
    if raw is None:
        return None
    p = ("consent",)
    s = c.mapping(raw, p, CONSENT_KEYS, required=("events",))
    if not s:
        return None

    def dataset(value: Any, path: tuple) -> Dataset | None:
        name = _name(c, value, path, "dataset")
        if name is None:
            return None
        if name not in datasets:
            c.add(path, f"unknown dataset '{name}'{_did_you_mean(name, datasets)}; consent names a dataset of "
                        f"the map's datasets")
            return None
        return datasets[name]

    def column(ds: Dataset | None, value: Any, path: tuple, required: bool = True) -> str | None:
        col = _name(c, value, path, "column")
        if col is None:
            if required:
                c.add(path, "is required (a column name)")
            return None
        if ds is not None and col not in _dataset_columns(ds):
            c.add(path, f"'{col}' is not a column of {ds.name} in the map{_did_you_mean(col, _dataset_columns(ds))}; "
                        f"list it under the dataset's fields (then `privacyops check` verifies it exists)")
        return col

    ep = p + ("events",)
    e = c.mapping(s.get("events"), ep, CONSENT_EVENT_KEYS, required=("dataset",))
    eds = dataset(e.get("dataset"), ep + ("dataset",))
    cols = {k: column(eds, e.get(k), ep + (k,), required=k not in ("method", "notice"))
            for k in ("subject", "purpose", "action", "at", "method", "notice")}
    words = {}
    for k in ("granted", "withdrawn"):
        words[k] = _text_list(c, e.get(k), ep + (k,), "an action word or a list of them") or (k,)
    both = set(words["granted"]) & set(words["withdrawn"])
    if both:
        c.add(ep, f"action word(s) {', '.join(sorted(both))} cannot mean both granted and withdrawn")
    events = ConsentEvents(eds.name if eds else "", cols["subject"] or "", cols["purpose"] or "",
                           cols["action"] or "", cols["at"] or "", cols["method"], cols["notice"],
                           words["granted"], words["withdrawn"])

    processing = []
    raw_proc = s.get("processing") or []
    if not isinstance(raw_proc, list):
        c.add(p + ("processing",), f"expected a list of {{dataset, purpose, subject, at}}, got {_kind(raw_proc)}")
        raw_proc = []
    for i, item in enumerate(raw_proc):
        pp = p + ("processing", i)
        d = c.mapping(item, pp, CONSENT_PROCESSING_KEYS, required=("dataset", "purpose", "subject", "at"))
        pds = dataset(d.get("dataset"), pp + ("dataset",))
        purpose = _name(c, d.get("purpose"), pp + ("purpose",), "purpose")
        if purpose is not None and purpose not in purposes:
            c.add(pp + ("purpose",), f"unknown purpose '{purpose}'{_did_you_mean(purpose, purposes)}; defined: "
                                     f"{', '.join(purposes) or 'none'}")
        elif purpose is not None and pds is not None and purpose not in pds.purposes:
            c.add(pp + ("purpose",), f"{pds.name} does not serve purpose '{purpose}' (its purposes: "
                                     f"{', '.join(pds.purposes) or 'none'}); add it there or name another purpose")
        subj = column(pds, d.get("subject"), pp + ("subject",)) if d.get("subject") is not None else None
        at = column(pds, d.get("at"), pp + ("at",)) if d.get("at") is not None else None
        if pds and purpose and subj and at:
            processing.append(ConsentProcessing(pds.name, purpose, subj, at))

    stale = None
    if s.get("stale_after") is not None:
        stale = parse_period(s["stale_after"]) if isinstance(s["stale_after"], (str, int)) else None
        if stale is None:
            c.add(p + ("stale_after",), f"'{s['stale_after']}' is not a period; write e.g. '2 years', '18 months'")
    return ConsentMap(events, tuple(processing), stale)
