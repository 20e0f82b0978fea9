"""The dashboard shell shared by every page: URL-mirrored controls (`ui.state`), the cached engine
call with progress (`ui.compute`), and charts that save as PNG or SVG with the explanation and
download blocks (`ui.layout`). Streamlit only; no JAX here (pages reach the engine through
`engine.experiments`)."""

from ui.compute import compute, slot
from ui.layout import (chart, download, explain, header, image_format_control,
                       page_style)
from ui.state import UrlControls

__all__ = ["UrlControls", "chart", "compute", "download", "explain", "header",
           "image_format_control", "page_style", "slot"]
