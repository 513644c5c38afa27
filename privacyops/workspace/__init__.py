"""A workspace folder: the data map, its sources, keys; `check` compares the map with the live sources."""

from .check import CheckReport, check_workspace
from .folder import Workspace, current_actor, default_workspace_path, open_workspace
from .indexes import create_indexes

__all__ = [
    "check_workspace",
    "CheckReport",
    "create_indexes",
    "current_actor",
    "default_workspace_path",
    "open_workspace",
    "Workspace",
]
