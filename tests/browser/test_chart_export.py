"""Charts save as PNG or SVG from the camera button of Plotly's toolbar, as the sidebar's "Charts save
as" control says, in a real browser: the file that arrives is a PNG at twice the drawn size, or an SVG
document with the chart's text in it."""

from __future__ import annotations

import struct


def save_first_chart(app) -> tuple[str, bytes]:
    chart = app.page.locator(".js-plotly-plot").first
    chart.hover()
    with app.page.expect_download() as download:
        chart.locator('.modebar-btn[data-title^="Download plot"]').click()
    path = download.value.path()
    return download.value.suggested_filename, open(path, "rb").read()


def test_png_by_default_at_twice_the_drawn_size(app):
    app.open("/eigenstructure", charts=True)
    name, data = save_first_chart(app)
    assert name == "inductive-bias-lab-eig_hypercube.png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    drawn = app.page.locator(".js-plotly-plot .main-svg").first.bounding_box()
    assert (width, height) == (round(2 * drawn["width"]), round(2 * drawn["height"]))


def test_svg_when_chosen_in_the_sidebar(app):
    app.open("/eigenstructure", charts=True)
    app.sidebar.get_by_text("SVG", exact=True).click()
    # Plotly names the camera button "Download plot as a png" for PNG, "Download plot" otherwise.
    app.page.wait_for_selector('.modebar-btn[data-title="Download plot"]', state="attached")
    name, data = save_first_chart(app)
    assert name == "inductive-bias-lab-eig_hypercube.svg"
    text = data.decode()
    assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
    assert "eigenvalues on {-1, 1}^12" in text  # the chart's title, as vector text
    # The choice holds on another page of the same session.
    app.page.get_by_test_id("stSidebarNav").get_by_text("Learning curves").click()
    app.page.wait_for_selector('.modebar-btn[data-title="Download plot"]', state="attached",
                               timeout=120_000)
    name, data = save_first_chart(app)
    assert name.endswith(".svg") and data.lstrip().startswith(b"<svg")
