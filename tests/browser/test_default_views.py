"""Each page's default view, as a visitor opening its plain link sees it, from an empty cache: the
pages that compute in under the confirmation threshold draw their charts with no exception and no
error box; Universality's default (minutes of training) waits for its button. The full-page
screenshots these tests save (`test-results/browser/default_views-*.png`) are the ones in the
README (`docs/screenshots/`)."""

import pytest

DRAWN = [("/eigenstructure", 2), ("/depth_separation", 3), ("/learning_curves", 2),
         ("/learning_curves?view=theory", 2)]


@pytest.mark.parametrize("path, charts", DRAWN, ids=[p.strip("/") for p, _ in DRAWN])
def test_default_view_draws(app, path, charts):
    app.open(path, charts=True)
    app.page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {charts}")
    app.assert_no_exception()
    assert app.page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert not app.page_errors, app.page_errors
    titles = app.plot_titles()
    assert len(titles) == charts and all(titles), titles


def test_home(app):
    app.open("/")
    app.page.get_by_role("heading", name="Inductive Bias Lab").wait_for()
    app.assert_no_exception()
