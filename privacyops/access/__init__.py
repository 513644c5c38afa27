"""Answering an access or portability request (Art. 15, 20): what the copy holds, the archive, the letter.

`plan_export` decides per dataset what goes in, what is masked and what is withheld; `export_subject` writes the
AES-256 archive (data.json, CSV per dataset, manifest, the Art. 15 letter) and registers it in the ledger.
"""

from .archive import OPEN_HINT, read_archive
from .export import (
    PASSWORD_CHANNEL_HINT,
    ExportResult,
    check_password,
    check_password_out,
    export_subject,
    keep_password,
    list_exports,
    mark_delivered,
    parse_age,
    purge_exports,
    read_password_file,
)
from .plan import EXPORT_CASE_TYPES, ExportError, ExportPlan, export_case, plan_export

__all__ = [
    "EXPORT_CASE_TYPES",
    "OPEN_HINT",
    "PASSWORD_CHANNEL_HINT",
    "check_password",
    "check_password_out",
    "export_case",
    "export_subject",
    "ExportError",
    "ExportPlan",
    "ExportResult",
    "keep_password",
    "list_exports",
    "mark_delivered",
    "parse_age",
    "plan_export",
    "purge_exports",
    "read_archive",
    "read_password_file",
]
