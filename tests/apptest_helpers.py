"""Reads shared by the AppTest page tests: the Plotly figures a run drew, the query string, and the
check that a run drew its charts without an exception or an error box."""

import base64
import importlib
import json

import numpy as np
from streamlit.testing.v1 import AppTest


def open_page(page: str, *, timeout: float = 600, confirm: bool = True, **query) -> AppTest:
    """Run the page file `page` with `query` in its URL. With `confirm`, a view long enough to need
    confirming is started with its button, as a visitor would."""
    at = AppTest.from_file(page, default_timeout=timeout)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    buttons = [b for b in at.button if b.key and b.key.startswith("run.")] if confirm else []
    if buttons:
        buttons[0].click().run()
    return at


def views_wait_for_their_button(monkeypatch) -> None:
    """Every view not yet cached waits for its start button (`ui.compute.CONFIRM_ABOVE_S` set to
    0), for a test of what a page does with its link rather than of the view it would train."""
    compute = importlib.import_module("ui.compute")  # the module (`ui` exports its function)
    monkeypatch.setattr(compute, "CONFIRM_ABOVE_S", 0.0)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def assert_ok(at: AppTest, n_charts: int, *, traces: bool = True) -> list[dict]:
    """No exception, no error box, `n_charts` charts (each with traces, when `traces`)."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    figures = charts(at)
    assert len(figures) == n_charts
    if traces:
        for figure in figures:
            assert figure["data"], "a chart without traces"
    return figures


def values(data) -> np.ndarray:
    """A trace's x or y: Plotly sends numpy arrays as base64 typed arrays (`bdata`)."""
    if isinstance(data, dict):
        shape = [int(n) for n in str(data.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).reshape(shape)
    return np.asarray(data)


def url(at: AppTest) -> dict:
    return {name: at.query_params[name] for name in at.query_params}


def vega_data(at: AppTest) -> list:
    """The data of each Vega-Lite (Altair) chart a run drew, as DataFrames (Streamlit sends a
    chart's named dataset as Arrow IPC)."""
    import pyarrow as pa

    return [pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pandas()
            for chart in at.get("vega_lite_chart")]
