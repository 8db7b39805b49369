"""Every page of the console, as an owner and as a superuser, at 1280 and 390 px:
it renders, prints no console error, and never scrolls the whole page sideways
on a phone (wide tables scroll inside their own box)."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Fixture, model  # noqa: F401

from .conftest import NARROW, WIDE, Console

FRAGMENTS = ["#/models", "#/models/{model}", "#/models/{model}/try", "#/jobs", "#/consensus"]


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_every_page_renders_cleanly(console: Console, model: Fixture, viewport: dict[str, int]) -> None:  # noqa: F811
    for user, superuser, extra in ((model.owner, False, []), ("root", True, ["#/monitoring"])):
        tab = console.open(user, superuser=superuser, viewport=viewport)
        for fragment in [*FRAGMENTS, *extra]:
            tab.go(fragment.format(model=model.name))
            tab.page.wait_for_timeout(300)  # a live page's first update
            assert tab.page.locator("main h1").count() >= 1, fragment
            width = tab.page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (fragment, width)
        tab.assert_no_console_errors()
