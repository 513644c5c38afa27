"""JupyterLab panels (ipywidgets) over the privacyops API: they call the same functions the CLI calls."""

from .lookup_panel import LookupPanel

__all__ = ["LookupPanel"]
