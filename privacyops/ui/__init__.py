"""JupyterLab panels (ipywidgets) over the privacyops API: they call the same functions the CLI calls."""

from .erasure_panel import ErasurePanel
from .export_panel import ExportPanel
from .lookup_panel import LookupPanel
from .rectify_panel import RectificationPanel

__all__ = ["ErasurePanel", "ExportPanel", "LookupPanel", "RectificationPanel"]
