"""Serves the dashboard: `python serve.py [Streamlit options]` is `streamlit run app.py [options]`
(`make run` and the Docker image use it), with three things Streamlit cannot do from a page:

1. **Warm from the first start**: a background process at the lowest CPU priority computes the view
   each page opens on (`ui.warming`; `IBL_WARM=0` turns it off), and the home page counts them.
2. **A refused link says so**: Streamlit drops a query string of more than 1,000 parameters or
   512 KiB before any page sees it; here such a link reaches the page as `?link=refused`, and the
   page says why it shows its default view (`ui.links.REFUSED`), where it used to be silent.
3. **JAX and the engine are loaded before the first visitor**, not during the first visit.
"""

from __future__ import annotations

import atexit
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))


def _say_when_a_link_is_refused() -> None:
    """Streamlit's sessions read every link through `sanitize_query_string`, which turns one over
    its limits into an empty query string (and logs a warning); keep the fact as one parameter."""
    from streamlit.runtime import app_session

    from ui.links import REFUSED

    sanitize = app_session.sanitize_query_string

    def sanitize_or_mark(query_string: str) -> str:
        kept = sanitize(query_string)
        return REFUSED if query_string and not kept else kept

    app_session.sanitize_query_string = sanitize_or_mark


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    sys.path.insert(0, ROOT)
    from streamlit.web import cli

    from engine import load
    from ui import warming  # imports the engine, and so JAX, once, before any visitor

    load.sample()  # load counted from the start: a first visitor's estimate has a window behind it
    _say_when_a_link_is_refused()
    if warming.start(ROOT) is not None:
        atexit.register(warming.stop)
    return cli.main(["run", "app.py", *argv], prog_name="streamlit", standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
