"""Every page of the console, as an owner and as a superuser, on a phone's 390 px:
it renders, prints no console error, and never scrolls the whole page sideways
(wide tables scroll inside their own box). Each page's own tests open it at
1280 px."""

from __future__ import annotations

from tests.gateway.conftest import Fixture, model  # noqa: F401

from .conftest import NARROW, Console

FRAGMENTS = ["#/models", "#/models/{model}", "#/models/{model}/try", "#/jobs", "#/consensus"]


def test_every_page_renders_cleanly_on_a_phone(console: Console, model: Fixture) -> None:  # noqa: F811
    for user, superuser, extra in ((model.owner, False, []), ("root", True, ["#/monitoring"])):
        tab = console.open(user, superuser=superuser, viewport=NARROW)
        for fragment in [*FRAGMENTS, *extra]:
            tab.go(fragment.format(model=model.name))
            tab.page.wait_for_selector("main h1")
            width = tab.page.evaluate("document.documentElement.scrollWidth")
            assert width <= NARROW["width"], (fragment, width)
        tab.assert_no_console_errors()
