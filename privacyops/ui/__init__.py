"""JupyterLab panels (ipywidgets) over the privacyops API: they call the same functions the CLI calls."""

from .consent_panel import ConsentPanel
from .erasure_panel import ErasurePanel
from .export_panel import ExportPanel
from .lookup_panel import LookupPanel
from .rectify_panel import RectificationPanel

__all__ = ["ConsentPanel", "ErasurePanel", "ExportPanel", "LookupPanel", "RectificationPanel"]
