"""The landing page in a real browser: title, navigation, no exception."""


def test_landing_page(app):
    app.open("/")
    page = app.page
    page.get_by_role("heading", name="Inductive Bias Lab", level=1).wait_for()
    assert page.title() == "Inductive Bias Lab"
    nav = app.sidebar.get_by_test_id("stSidebarNav")
    nav.wait_for()
    for name in ("Home", "Eigenstructure"):
        assert nav.get_by_test_id("stSidebarNavLink").filter(has_text=name).count() == 1, name
    app.assert_no_exception()
    assert not app.page_errors, app.page_errors
