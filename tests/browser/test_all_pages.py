"""Every page in the navigation runs in a real browser without a Streamlit exception or a JavaScript
error, and begins with its title. Pages are found from the sidebar navigation, so a page added to
`app.py` is covered here without a change. The server runs with the project's Streamlit settings
(.streamlit/config.toml): no developer items in the toolbar, only a visitor's (the theme, print,
record); the Stop button that a running view's notice points to is tested in
`test_fair_slots.py`, where a visitor stops a computation with it."""

from urllib.parse import urlsplit

import pytest


MAIN = '[data-testid="stMainBlockContainer"]'


@pytest.fixture(scope="module")
def page_paths(browser, app_url) -> list[str]:
    """URL paths of the pages listed in the sidebar navigation of `/`."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(app_url + "/")
        links = page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink")
        links.first.wait_for(timeout=60_000)
        paths = sorted({urlsplit(link.get_attribute("href")).path or "/" for link in links.all()})
    finally:
        context.close()
    assert len(paths) >= 2, f"the navigation lists {paths}"
    return paths


def test_no_exception_on_any_page(app, page_paths):
    failures = {}
    for path in page_paths:
        app.open(path)
        app.page.locator(f"{MAIN} h1").first.wait_for()
        exceptions = app.page.get_by_test_id("stException")
        if exceptions.count():
            failures[path] = exceptions.all_inner_texts()
    assert not failures, failures
    assert not app.page_errors, app.page_errors


def test_every_page_starts_with_its_title(app, page_paths):
    # Catches output above the title, e.g. a bare string literal in app.py that Streamlit's
    # "magic" writes onto every page.
    above_title = {}
    for path in page_paths:
        app.open(path)
        app.page.locator(f"{MAIN} h1").first.wait_for()
        first = app.page.locator(f"{MAIN} [data-testid='stElementContainer']").first
        if first.locator("h1").count() == 0:
            above_title[path] = first.inner_text()
    assert not above_title, f"elements above the page title: {above_title}"


def test_no_developer_items_in_the_toolbar(app):
    app.open("/")
    assert app.page.get_by_test_id("stAppDeployButton").count() == 0
    app.page.get_by_test_id("stMainMenuButton").click()
    menu = app.page.get_by_test_id("stMainMenuPopover")
    menu.wait_for()
    items = menu.inner_text()
    assert "Print" in items, items  # the visitor's menu, as Streamlit's "viewer" mode has it
    for developer in ("Clear cache", "Rerun", "Deploy", "Developer", "Settings"):
        assert developer not in items, items
    app.page.keyboard.press("Escape")
