"""Downloads of the data behind a chart."""

from __future__ import annotations

import io

import pandas as pd


def csv(frame: pd.DataFrame, header: str) -> str:
    """CSV text with `header` lines (what produced it) as `#` comments on top."""
    out = io.StringIO()
    for line in header.splitlines():
        out.write(f"# {line}\n")
    frame.to_csv(out, index=False, float_format="%.17g")
    return out.getvalue()
