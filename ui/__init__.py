"""The dashboard shell shared by every page: URL-mirrored controls (`ui.state`), the cached engine
call with progress (`ui.compute`) and the explanation and download blocks (`ui.layout`). Streamlit
only; no JAX here (pages reach the engine through `engine.experiments`)."""

from ui.compute import compute
from ui.layout import download, explain
from ui.state import UrlControls

__all__ = ["UrlControls", "compute", "download", "explain"]
