"""Downloads of the data behind a chart."""

from __future__ import annotations

import io
import re

import pandas as pd

_MARKUP = re.compile(r"\*\*|__|`")
"""Markdown's bold and code marks, which a page's captions use and a CSV file should not show."""


def plain(text: str) -> str:
    """`text` without Markdown's bold and code marks (`**MLP**: ...` -> `MLP: ...`)."""
    return _MARKUP.sub("", text)


def csv(frame: pd.DataFrame, header: str) -> str:
    """CSV text with `header` lines (what produced it) as `#` comments on top, in plain text (no
    Markdown marks in the header or the column names)."""
    out = io.StringIO()
    for line in header.splitlines():
        out.write(f"# {plain(line)}\n")
    frame.rename(columns=lambda name: plain(str(name))).to_csv(out, index=False,
                                                                float_format="%.17g")
    return out.getvalue()
