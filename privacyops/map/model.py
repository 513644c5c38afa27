"""The data map's model: the vocabulary it is written in and the frozen dataclasses every other layer is handed.

Loading and validating `privacyops.yaml` into these lives in `load.py` (and the modules it calls); this module
imports neither YAML nor fideslang, so anything that only needs the shapes stays cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

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
# `mask: {col: {value: ...}}`: a placeholder the map gives where NULL means something (a return date left empty
# reads "not returned"); its strategy name in `ErasurePolicy.mask`, its value in `ErasurePolicy.placeholders`.
PLACEHOLDER = "value"
MASK_KEYS = ("value",)
ERASURE_ACTIONS = ("delete", "mask")
ANCHOR_FUNCTIONS = ("end_of_fiscal_year", "end_of_month")
# Identity kinds with special matching; any other word is an exact identifier (customer_id, username, ...).
EMAIL, PHONE, NAME = "email", "phone", "name"
PERIOD_UNITS = {"day": "days", "week": "weeks", "month": "months", "year": "years"}
EU_EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)

# The keys each section of the map file allows (its schema, checked on load).
TOP_KEYS = ("version", "organisation", "settings", "purposes", "retention", "recipients", "sources", "datasets",
            "ledger", "roles", "consent", "audit")
ORG_KEYS = ("name", "address", "contact", "dpo", "authority", "security_measures")
AUTHORITY_KEYS = ("name", "country", "address", "website", "email", "phone")
SETTINGS_KEYS = ("fiscal_year_start", "phone_match_digits", "name_match_threshold", "four_eyes", "four_eyes_rectify")
ROLES_KEYS = ("preparers", "approvers")
PURPOSE_KEYS = ("description", "legal_basis", "legitimate_interest", "direct_marketing")
RETENTION_KEYS = ("keep", "from", "ground", "description", "keep_while_empty")
RECIPIENT_KEYS = ("description", "location", "role", "safeguards")
SOURCE_KEYS = ("kind", "path", "location", "description", "options", "dsn_env", "dsn_file", "schema",
               "statement_timeout", "lock_timeout")
LEDGER_KEYS = ("kind", "path", "dsn_env", "dsn_file")
AUDIT_KEYS = ("checkpoints",)
CHECKPOINT_KEYS = ("kind", "path", "dsn_env", "dsn_file")
CHECKPOINT_KINDS = ("file", "postgres", "stdout")
DATASET_KEYS = (
    "source", "table", "description", "subject", "primary_key", "identities", "references",
    "purposes", "retention", "recipients", "fields", "erasure", "collected_from", "parties", "owner",
    "context_fields", "maintained", "for_subject", "label",
)
PARTY_KEYS = ("reference", "identities", "fields")
# Categories never shown or exported, whoever asks: they tell a person nothing and help an attacker.
CREDENTIAL_CATEGORIES = frozenset({"user.authorization.credentials", "user.authorization.password"})
IMPLICIT_PARTY = "subject"  # the single party of a dataset that names none
FIELD_KEYS = ("category", "categories", "description", "free_text", "for_subject")
REFERENCE_KEYS = ("to", "shared", "owned")
ERASURE_KEYS = ("action", "keep_fields", "mask")
CONSENT_KEYS = ("events", "processing", "stale_after")
CONSENT_EVENT_KEYS = ("dataset", "subject", "purpose", "action", "at", "method", "notice", "granted", "withdrawn")
CONSENT_PROCESSING_KEYS = ("dataset", "purpose", "subject", "at")


# ---------------------------------------------------------------------------------------------------------------
# The model: plain frozen dataclasses handed to every other layer.


@dataclass(frozen=True)
class Authority:
    """The supervisory authority a subject may complain to (named in the Art. 15 letter)."""

    name: str
    country: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Organisation:
    """The controller: who holds the data and how to reach them (and their DPO)."""

    name: str
    contact: str
    authority: Authority
    address: str | None = None
    dpo: str | None = None
    security_measures: tuple[str, ...] = ()  # Art. 30(1)(g): a general description, one measure per item


@dataclass(frozen=True)
class Settings:
    """Workspace-wide settings: the fiscal year, how phones and names are matched, four-eyes approval."""

    fiscal_year_start: tuple[int, int] = (1, 1)  # (month, day)
    phone_match_digits: int = 8
    name_match_threshold: float = 0.82
    four_eyes: bool = True  # an erasure plan needs a second person's approval before it runs
    four_eyes_rectify: bool = False  # a rectification waits, pending, until a second person approves it


@dataclass(frozen=True)
class Roles:
    """Who may prepare and who may approve erasure plans (actor names); an empty list: anyone."""

    preparers: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Purpose:
    """A purpose of processing and its legal basis (Art. 6)."""

    name: str
    description: str
    legal_basis: str
    legitimate_interest: str | None = None
    direct_marketing: bool = False  # Art. 21(2)-(3): an objection or withdrawal stops it at once (suppression)


@dataclass(frozen=True)
class Period:
    """A length of time such as `5 years`."""

    amount: int
    unit: str  # days | weeks | months | years

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"


@dataclass(frozen=True)
class Anchor:
    """Where a retention period starts: a date column, or a function of it (`end_of_fiscal_year(closed_at)`); the
    column may be one of the row the dataset refers to (`member_id.left_on`: `left_on` of the row `member_id`
    points at)."""

    field: str
    function: str | None = None  # None: the field's own date; else one of ANCHOR_FUNCTIONS
    via: str | None = None  # a reference column of the dataset: the date is in the referenced row

    @property
    def column(self) -> str:
        """The anchor as written: `left_on` or `member_id.left_on`."""
        return f"{self.via}.{self.field}" if self.via else self.field

    def __str__(self) -> str:
        return f"{self.function}({self.column})" if self.function else self.column


@dataclass(frozen=True)
class RetentionRule:
    """How long rows must be kept, from when, and on what ground (a law or contract)."""

    name: str
    keep: Period
    anchor: Anchor
    ground: str
    description: str | None = None
    # True: while the anchor is empty (the item not returned, the membership open) the record is needed and kept,
    # open-ended; without it an empty anchor only means the period has not started.
    keep_while_empty: bool = False

    def __str__(self) -> str:
        tail = f"; kept while {self.anchor.column} is empty" if self.keep_while_empty else ""
        return f"{self.keep} from {self.anchor}{tail} ({self.ground})"


@dataclass(frozen=True)
class Recipient:
    """Someone the data is disclosed to, and where they are."""

    name: str
    description: str | None = None
    location: str | None = None
    role: str | None = None
    safeguards: str | None = None


@dataclass(frozen=True)
class Source:
    """A database or folder of files the datasets live in, and the country it is in."""

    name: str
    kind: str
    path: str
    location: str
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    dsn_env: str | None = None  # server sources: the environment variable holding the DSN
    dsn_file: str | None = None  # ... or a file holding it (relative paths: to the workspace folder)
    schema: str | None = None
    # Seconds a statement may run / wait for a lock before the store gives up (None: the store's default). The
    # message then names the setting, so a slow source is tuned in the map, not by guessing.
    statement_timeout: float | None = None
    lock_timeout: float | None = None

    @property
    def in_eu(self) -> bool:
        """Whether the source is in the EU/EEA."""
        return self.location in EU_EEA


@dataclass(frozen=True)
class LedgerConfig:
    """Where the ops ledger lives: the embedded DuckDB file (default) or a PostgreSQL database a team shares."""

    kind: str = "duckdb"
    path: str = "ledger.duckdb"
    dsn_env: str | None = None
    dsn_file: str | None = None


@dataclass(frozen=True)
class AuditConfig:
    """Where the audit log's signed checkpoints go (`audit: {checkpoints: ...}`): an append-only JSON-lines file
    (default `audit.checkpoints` in the workspace), a table in a PostgreSQL database, or one line on stderr for a
    log collector. `explicit` says whether the map chose it (a file inside the workspace is the weak default)."""

    kind: str = "file"
    path: str = "audit.checkpoints"
    dsn_env: str | None = None
    dsn_file: str | None = None
    explicit: bool = False


@dataclass(frozen=True)
class Field:
    """A column and its fideslang data categories."""

    name: str
    categories: tuple[str, ...]
    description: str | None = None
    free_text: bool = False
    for_subject: str | None = None  # what the field is, as the subject reads it (the access letter)

    @property
    def category(self) -> str:
        """The first data category ("" when there is none)."""
        return self.categories[0] if self.categories else ""

    @property
    def personal(self) -> bool:
        """Whether any category is personal data (`user` or under it)."""
        return any(c == "user" or c.startswith("user.") for c in self.categories)


@dataclass(frozen=True)
class Reference:
    """`dataset.column` holds a value of `to_dataset.to_column`: its row belongs to that row (unless shared)."""

    dataset: str  # the referencing dataset
    column: str
    to_dataset: str
    to_column: str
    shared: bool = False  # True: the target is shared reference data (context only, never walked down)
    owned: bool = False  # True: the target row is the referencing row's own (a customer's address): its record too

    @property
    def belongs_to(self) -> bool:
        """The referencing row belongs to the referenced one (walked up to find the person, down to their rows)."""
        return not (self.shared or self.owned)


@dataclass(frozen=True)
class Party:
    """A person a dataset's rows are about, and the fields that are theirs.

    Found by a belongs-to `reference` (a column of the dataset) or by its own `identities` (kind -> columns), or
    both. The `owner` owns the row (erasing it for them may delete it); the other parties only appear in it: they
    see and can have erased only their own fields. A dataset that names no parties has one, `subject`, owning the
    row and every personal field (`implicit`)."""

    name: str
    fields: tuple[str, ...]
    reference: str | None = None
    identities: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    owner: bool = False
    implicit: bool = False

    def identity_columns(self) -> set[str]:
        """Every column holding one of the party's identities."""
        return {c for cols in self.identities.values() for c in cols}


@dataclass(frozen=True)
class ErasurePolicy:
    """How a dataset's rows are erased: deleted, or masked field by field."""

    action: str = "delete"
    keep_fields: tuple[str, ...] = ()
    mask: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # column -> strategy
    # column -> the map's placeholder (strategy PLACEHOLDER), as written: checked against the column when planning
    placeholders: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Dataset:
    """A table (or files) of a source: its key, fields, identities, references, purposes and rules."""

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
    parties: tuple[Party, ...] = ()
    context_fields: tuple[str, ...] = ()  # personal fields shown when the rows are context (reference data)
    # Columns the store writes itself (a trigger's `last_update`): erasure never writes them, verification never
    # compares them.
    maintained: tuple[str, ...] = ()
    for_subject: str | None = None  # what the rows are, as the subject reads it ("Your orders")
    # Fields naming a row when other rows point at it (a product's name): `name` or `via.name` (a column of the
    # row a reference of this dataset points at). Empty: the first non-key text field that is not personal.
    label: tuple[str, ...] = ()

    def identity_columns(self, kind: str) -> tuple[str, ...]:
        """The columns holding identities of `kind` (none: ())."""
        return self.identities.get(kind, ())

    @property
    def free_text_fields(self) -> tuple[str, ...]:
        """Fields marked free_text (searched for mentions of a person)."""
        return tuple(f.name for f in self.fields.values() if f.free_text)

    @cached_property  # the map never changes once loaded: the lookup walk asks per row
    def owner_references(self) -> tuple[Reference, ...]:
        """Belongs-to references: to the rows this dataset's rows belong to (walked up to find the person)."""
        return tuple(r for r in self.references if r.belongs_to)

    @cached_property
    def shared_references(self) -> tuple[Reference, ...]:
        """References to shared reference data (context only, never walked down)."""
        return tuple(r for r in self.references if r.shared)

    @cached_property
    def owned_references(self) -> tuple[Reference, ...]:
        """References to rows that are the referencing row's own (an address, a profile photo)."""
        return tuple(r for r in self.references if r.owned)

    def reference(self, column: str) -> Reference | None:
        """The reference held in `column`, if any."""
        return next((r for r in self.references if r.column == column), None)

    @cached_property
    def named_parties(self) -> bool:
        """Whether the map names the parties (then each row has several people in it)."""
        return any(not p.implicit for p in self.parties)

    @cached_property
    def owner_party(self) -> Party | None:
        """The party that owns the row (None: no party does; erasure then only masks)."""
        return next((p for p in self.parties if p.owner), None)

    def party(self, name: str) -> Party | None:
        """The party called `name`."""
        return self._party_by_name.get(name)

    @cached_property
    def _party_by_name(self) -> dict[str, Party]:
        out: dict[str, Party] = {}
        for p in self.parties:
            out.setdefault(p.name, p)  # the first of a name, as a search would find
        return out

    def party_of_reference(self, column: str) -> Party | None:
        """The party found through the reference in `column` (None: a structural reference, or no parties)."""
        return next((p for p in self.parties if p.reference == column), None)

    def party_of_identity(self, columns: tuple[str, ...] | set[str]) -> Party | None:
        """The party whose identity columns include `columns` (else the owner: dataset-level identities)."""
        cols = set(columns)
        return next((p for p in self.parties if cols & p.identity_columns()), None) or self.owner_party

    def personal_fields(self) -> tuple[str, ...]:
        """Fields with a personal data category."""
        return tuple(f.name for f in self.fields.values() if f.personal)

    def withheld_from(self, party: Party | None) -> tuple[str, ...]:
        """The fields of the other parties: never shown to, exported for or changed for `party`."""
        if party is None or not self.named_parties:
            return ()
        memo = self.__dict__.setdefault("_withheld", {})  # asked per row shown: worked out once per party
        at = (party.name, party.fields)
        if at not in memo:
            memo[at] = tuple(f for p in self.parties if p.name != party.name for f in p.fields
                             if f not in party.fields)
        return memo[at]


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
    """The whole validated data map."""

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
    consent: ConsentMap | None = None  # where the consent events and the processing that needs consent live
    audit: AuditConfig = field(default_factory=AuditConfig)

    def dataset(self, name: str) -> Dataset:
        """The dataset called `name` (KeyError when there is none)."""
        return self.datasets[name]

    def children(self, dataset: str) -> list[Reference]:
        """Belongs-to references that point at `dataset` (rows that belong to its rows)."""
        memo = self.__dict__.setdefault("_children", {})  # asked per row by the lookup walk: worked out once
        if dataset not in memo:
            memo[dataset] = [r for d in self.datasets.values() for r in d.owner_references if r.to_dataset == dataset]
        return list(memo[dataset])

    def person_references(self, ds: Dataset) -> tuple[Reference, ...]:
        """Belongs-to references of `ds` straight to a person (a subject dataset): when one is set, it says whose
        row it is, whatever other path reaches the row (the owner wins)."""
        memo = self.__dict__.setdefault("_person_refs", {})
        if ds.name not in memo or memo[ds.name][0] is not ds:
            memo[ds.name] = (ds, tuple(r for r in ds.owner_references if r.to_dataset in self.datasets
                                       and self.datasets[r.to_dataset].subject))
        return memo[ds.name][1]

    def owners_of(self, dataset: str) -> list[Reference]:
        """Owned references that point at `dataset` (its rows are the referencing rows' own)."""
        return [r for d in self.datasets.values() for r in d.owned_references if r.to_dataset == dataset]

    def identity_kinds(self) -> list[str]:
        """Every identity kind some dataset has, sorted."""
        return sorted({k for d in self.datasets.values() for k in d.identities})

    def line_of(self, dotted: str) -> int | None:
        """The map file's line of a dotted path (`datasets.crm.customers.fields`), when the map was parsed."""
        return self._lines.get(dotted) if hasattr(self, "_lines") else None

