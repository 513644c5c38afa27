"""The command line: `privacyops …`, one module per command group over the same functions as the panels."""

from .app import main

__all__ = ["main"]
