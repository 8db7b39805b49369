"""The web console in a real browser: Debian's Chromium driven by Playwright,
against the session's real mesh behind a real Envoy (the edge fixture), signed
in the way a person signs in (pasting a token on the sign-in page)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.gateway.edge.conftest import Edge, edge  # noqa: F401  (the session's Envoy)

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test-packages)"
)
WIDE = {"width": 1280, "height": 860}
NARROW = {"width": 390, "height": 844}


@dataclass
class Tab:
    """One signed-in browser tab and the errors its console printed."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def go(self, fragment: str) -> None:
        """Opens a page of the console by its #fragment ("#/models")."""
        self.page.evaluate("f => { location.hash = f; }", fragment)
        self.page.wait_for_function("() => !document.querySelector('main').textContent.startsWith('Loading')")

    def wait_for_models(self) -> None:
        """Until the models page has listed what it found ("3 models")."""
        self.page.wait_for_function(
            "() => /^\\d+ models?$/.test(document.querySelector('.count')?.textContent || '')"
        )

    def assert_no_console_errors(self) -> None:
        assert not self.errors, self.errors


@dataclass
class Console:
    """Opens signed-in tabs on the console of the session's Envoy."""

    edge: Edge
    browser: Any
    contexts: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.edge.url + "/console/"

    def open(self, user: str, *, superuser: bool = False, viewport: dict[str, int] = WIDE) -> Tab:
        context = self.browser.new_context(viewport=viewport)
        self.contexts.append(context)
        page = context.new_page()
        tab = Tab(page)
        page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: tab.errors.append(str(e)))
        page.goto(self.url + "#/signin", wait_until="networkidle")
        page.get_by_label("Bearer token").fill(self.edge.mesh.token(user, superuser=superuser))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/#/models")
        tab.wait_for_models()
        return tab


# Package scope, not session: Playwright's sync API keeps an event loop running in
# this thread while it is open, and every asyncio test after the console tests
# would fail ("cannot be called from a running event loop").
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console(edge: Edge, browser: Any) -> Iterator[Console]:  # noqa: F811
    opened = Console(edge, browser)
    try:
        yield opened
    finally:
        for context in opened.contexts:
            context.close()
