"""JupyterLab panels (ipywidgets) over the privacyops API: they call the same functions the CLI calls."""

from .export_panel import ExportPanel
from .lookup_panel import LookupPanel
from .rectify_panel import RectificationPanel

__all__ = ["ExportPanel", "LookupPanel", "RectificationPanel"]
