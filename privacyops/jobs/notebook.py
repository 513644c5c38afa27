"""What every notebook job shares: one object the notebook shows (the panel, or the headless views) and a text of
its key figures (the cell the notebook prints; notebooks are stored without outputs, so nothing is compared
with a stored run)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from IPython.display import display


class NotebookJob(ABC):
    """A notebook's work, done: interactive runs hold a panel; headless runs hold the views they display."""

    panel: Any = None

    def headless_views(self) -> list[Any]:
        """What a headless run displays under its text (tables, the report page)."""
        return []

    @abstractmethod
    def text(self) -> str:
        """The key figures as text (what the notebook prints)."""

    def _ipython_display_(self) -> None:
        for view in ([self.panel] if self.panel is not None else self.headless_views()):
            display(view)


def output_folder(output_dir: str | Path) -> Path:
    """The folder a headless run writes into (made on first use)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, data: Any) -> Path:
    """`data` as indented UTF-8 JSON (dates and other values as text)."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path
