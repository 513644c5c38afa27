"""Typed exceptions, all in one place (the CLI maps them to exit codes and clear messages)."""

from __future__ import annotations

from dataclasses import dataclass


class PrivacyOpsError(Exception):
    """Base class: every error privacyops raises on purpose derives from it."""

    exit_code = 1


@dataclass
class MapProblem:
    """One thing wrong with a data map: where it is and how to fix it."""

    path: str  # dotted path inside the map, e.g. "datasets.crm.customers.fields.email"
    message: str  # what is wrong, and what is allowed
    line: int | None = None  # 1-based line in the YAML file, when known
    file: str | None = None

    def __str__(self) -> str:
        where = self.file or "<map>"
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.path or '(top level)'}: {self.message}"


class DataMapError(PrivacyOpsError):
    """The data map is invalid. Carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[MapProblem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The data map has {len(problems)} problem(s):\n{lines}")


class WorkspaceError(PrivacyOpsError):
    """The workspace folder is missing or incomplete."""

    exit_code = 2


class SealingError(PrivacyOpsError):
    """A value privacyops sealed (encrypted at rest) cannot be opened: another workspace key, or altered."""

    exit_code = 4


class SourceError(PrivacyOpsError):
    """A data source cannot be opened or queried."""

    exit_code = 3


class LookupInputError(PrivacyOpsError):
    """The identifier given to a lookup is unusable (empty, unknown kind, bad pick)."""

    exit_code = 2


class LedgerError(PrivacyOpsError):
    """The ops ledger cannot be opened or written."""

    exit_code = 4


class AuditChainError(PrivacyOpsError):
    """The audit log's hash chain is broken."""

    exit_code = 5


class CaseError(PrivacyOpsError):
    """A case (data-subject request) is unknown or the requested change is not allowed."""

    exit_code = 2


class IdentityError(PrivacyOpsError):
    """Who is acting cannot be proven as needed: no person key, a key not registered or revoked, a missing role,
    a signature that does not verify, or a person approving their own plan."""

    exit_code = 7


class WorkspaceKeyError(PrivacyOpsError):
    """A workspace key (keys/workspace.key, keys/signing.key) is missing, damaged or not this workspace's: nothing
    keyed may be read or written with it (the ledger's hashes would match nobody)."""

    exit_code = 8


class InputError(PrivacyOpsError):
    """Input from a person (an argument, an option, a form field) cannot be used: a NUL byte, bytes that are not
    UTF-8, control characters, far too long, or not the kind of value asked for. Nothing was read or written."""

    exit_code = 2
