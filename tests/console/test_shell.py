"""The console's shell: served by Envoy at /console with its security headers,
signing in and out with a pasted token, the models list with its filters, and
the messages a person gets for 401, 403 and 404."""

from __future__ import annotations

import urllib.request

from tests.gateway.conftest import Fixture, model  # noqa: F401

from .conftest import NARROW, Console


def _headers(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return {k.lower(): v for k, v in reply.headers.items()}


def test_every_console_file_is_served_with_its_type_and_the_csp(console: Console) -> None:
    for path, kind in (("", "text/html"), ("app.js", "text/javascript"), ("style.css", "text/css"),
                       ("settings.json", "application/json")):  # fmt: skip
        headers = _headers(console.url + path)
        assert headers["content-type"].startswith(kind), path
        assert headers["content-security-policy"].startswith("default-src 'self'"), path
        assert headers["x-content-type-options"] == "nosniff"


def test_sign_in_lists_what_the_user_may_see_and_sign_out_forgets_the_token(
    console: Console, model: Fixture  # noqa: F811
) -> None:
    owner = console.open(model.owner)
    page = owner.page
    assert page.locator("table.models a", has_text=model.name).count() == 1
    assert page.locator("#who .user").inner_text() == model.owner
    assert page.locator("#nav a", has_text="Monitoring").is_hidden()  # not a superuser
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/#/signin")
    assert page.evaluate("sessionStorage.getItem('modelgw.token')") is None
    owner.assert_no_console_errors()

    stranger = console.open("stranger-of-the-console")
    assert stranger.page.locator("table.models a", has_text=model.name).count() == 0
    stranger.assert_no_console_errors()


def test_the_filters_and_a_superusers_menu(console: Console, model: Fixture) -> None:  # noqa: F811
    root = console.open("root", superuser=True)
    page = root.page
    assert page.locator("#nav a", has_text="Monitoring").is_visible()
    page.get_by_label("Tag").fill(model.name)  # the fixture tags its model with its name
    page.get_by_role("button", name="Search").click()
    page.wait_for_function("() => document.querySelector('.count').textContent === '1 model'")
    page.get_by_label("Public").check()  # the fixture's model is private
    page.wait_for_function("() => document.querySelector('.count').textContent === '0 models'")
    root.assert_no_console_errors()


def test_a_bad_token_is_refused_at_the_sign_in_page(console: Console) -> None:
    page = console.browser.new_context().new_page()
    try:
        page.goto(console.url + "#/signin", wait_until="networkidle")
        page.get_by_label("Bearer token").fill("not-a-token")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector(".field-error:text('not valid')")
        assert "#/signin" in page.url
    finally:
        page.context.close()


def test_the_models_page_fits_a_phone(console: Console, model: Fixture) -> None:  # noqa: F811
    tab = console.open(model.owner, viewport=NARROW)
    width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], width  # the table scrolls inside its box, not the page
    tab.assert_no_console_errors()
