"""The command line: `privacyops …`, one module per command group over the same functions as the panels."""

# Importing the group modules registers their commands on `main` (each imports it from .app, not from here).
from . import (  # noqa: F401
    audit_cmds,
    case_cmds,
    consent_cmds,
    erasure_cmds,
    export_cmds,
    holds_cmds,
    key_cmds,
    lookup_cmds,
    person_cmds,
    rectify_cmds,
    report_cmds,
    workspace_cmds,
)
from .app import main

__all__ = ["main"]
