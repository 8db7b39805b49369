"""Swagger UI at /docs in a real browser (Debian's Chromium driven by Playwright):
it renders the API and runs a call with a bearer token."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import Edge

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test-packages)"
)
def test_docs_render_and_run_a_call_with_a_token(edge: Edge, tmp_path: Path) -> None:
    token = edge.mesh.token("root", superuser=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(edge.url + "/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock-summary-path", timeout=15_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/v1/models" in paths and "/v1/jobs" in paths

            page.click("button.authorize")
            page.fill(".modal-ux input[type=text]", token)
            page.click(".modal-ux button.authorize")
            page.click(".modal-ux button.btn-done")

            operation = page.locator(
                ".opblock-get", has=page.locator(".opblock-summary-path", has_text="/v1/models")
            ).first
            operation.locator(".opblock-summary").click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            status = operation.locator(
                ".live-responses-table tr.response .response-col_status"
            ).first
            status.wait_for(timeout=15_000)
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
            assert status.inner_text().strip() == "200"
            body = operation.locator(
                ".live-responses-table tr.response .response-col_description pre"
            ).first.inner_text()
            assert '"models"' in body
        finally:
            browser.close()
