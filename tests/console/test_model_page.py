"""The model page's details in a real browser: a hostile description renders
as text, errors show at the input they are about, a canary started, watched and
rolled back from the page, the delete confirmation naming the consensus models
that use the model, and the page at a phone's width."""

from __future__ import annotations

from typing import Any

from google.protobuf import field_mask_pb2

from modelgateway.v1 import model_pb2, registry_pb2
from tests.gateway.conftest import Fixture, model  # noqa: F401
from tests.harness import Mesh, unique_name

from .conftest import NARROW, Console, Tab
from .test_owner_flow import add_version, open_model

HOSTILE = (
    "Safe **bold** and a [docs](https://example.org/docs) link.\n\n"
    "<img src=x onerror=alert(1)> and [x](javascript:alert(1)) stay text.\n\n"
    "```\n<script>alert(2)</script>\n```"
)


def describe(mesh: Mesh, name: str, text: str) -> None:
    mesh.registry().UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=model_pb2.Model(name=name, description=text),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        ),
        metadata=mesh.metadata("root", superuser=True),
    )


def error_of(tab: Tab, input_id: str) -> str:
    """The error line under an input, once it says something."""
    tab.page.wait_for_function(f"() => document.getElementById('{input_id}-error').textContent")
    return str(tab.page.locator(f"#{input_id}-error").inner_text())


def test_a_hostile_description_renders_as_text(
    console: Console,
    mesh: Mesh,
    model: Fixture,  # noqa: F811
) -> None:
    describe(mesh, model.name, HOSTILE)
    tab = console.open(model.reader)
    dialogs: list[Any] = []
    tab.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_model(tab, model.name)
    page = tab.page
    text = page.locator(".markdown").inner_text()
    assert "<img src=x onerror=alert(1)>" in text
    assert "[x](javascript:alert(1))" in text
    assert "<script>alert(2)</script>" in page.locator(".markdown pre").inner_text()
    assert page.locator("img").count() == 0
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator(".markdown a").get_attribute("href") == "https://example.org/docs"
    assert page.locator(".markdown strong").inner_text() == "bold"
    assert not dialogs
    tab.assert_no_console_errors()


def test_errors_show_at_their_field(console: Console, model: Fixture) -> None:  # noqa: F811
    tab = console.open(model.owner)
    open_model(tab, model.name)
    add_version(tab, "3.0.0", schema="{not json")
    assert "Not valid JSON" in error_of(tab, "v-input")
    assert tab.page.locator("#v-version-error").inner_text() == ""

    tab.page.get_by_label("Input schema (JSON Schema)").fill('{"type": "object"}')
    tab.page.get_by_label("Version", exact=True).fill("not a version!")
    tab.page.get_by_role("button", name="Add version").click()
    assert "version.version" in error_of(tab, "v-version")
    assert tab.page.locator("#v-input-error").inner_text() == ""

    tab.page.get_by_label("Version", exact=True).fill("3.0.0")
    tab.page.get_by_label("Input schema (JSON Schema)").fill('{"type": 5}')
    tab.page.get_by_role("button", name="Add version").click()
    assert "version.input_schema" in error_of(tab, "v-input")
    assert tab.page.get_by_role("rowheader", name="3.0.0").count() == 0
    # 400 answers are logged by Chromium as failed loads; nothing else may go wrong.
    assert all("400" in error for error in tab.errors), tab.errors


def test_a_canary_started_watched_and_rolled_back(console: Console, model: Fixture) -> None:  # noqa: F811
    tab = console.open(model.owner)
    open_model(tab, model.name)
    page = tab.page
    page.locator("[data-state='none']").wait_for()
    page.get_by_text("Start a rollout").click()
    page.get_by_label("Candidate version").select_option("1.0.0")
    page.get_by_label("Strategy").select_option("ROLLOUT_STRATEGY_CANARY")
    page.get_by_label("Candidate share (%)").fill("150")
    page.get_by_role("button", name="Start rollout").click()
    assert "canary_percent" in error_of(tab, "ro-canary")  # the API's refusal, at its field
    page.get_by_label("Candidate share (%)").fill("25")
    page.get_by_label("Bake (seconds)").fill("3600")
    page.get_by_label("Minimum finished jobs").fill("50")
    page.get_by_role("button", name="Start rollout").click()
    page.locator("[data-state='active'] .owner-percent", has_text="25%").wait_for()
    assert "1.0.0" in page.locator(".owner-rollout").inner_text()
    page.get_by_role("cell", name="active", exact=True).wait_for()

    # SetDefaultVersion refuses while the rollout is active: the dialog says why.
    page.get_by_role("button", name="Make 1.0.0 the default").click()
    page.locator("dialog[open]").get_by_role("button", name="Make 1.0.0 the default").click()
    page.locator("dialog[open] .error", has_text="active rollout").wait_for()
    page.locator("dialog[open]").get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Roll back").click()
    page.locator("dialog[open]").get_by_label("Reason").fill("seen enough")
    page.locator("dialog[open]").get_by_role("button", name="Roll back").click()
    page.locator("[data-state='none']").wait_for()
    page.get_by_role("cell", name="rolled back", exact=True).wait_for()
    assert "seen enough" in page.locator(".owner-history").inner_text()

    polls: list[str] = []  # leaving the page stops its polling
    page.on("request", lambda r: polls.append(r.url) if "/rollout" in r.url else None)
    tab.go("#/models")
    page.wait_for_timeout(2500)  # longer than one polling interval: nothing must come
    assert not polls, polls
    # a 409/412-style refusal above is logged by Chromium as a failed load
    assert all("status of 4" in error for error in tab.errors), tab.errors


def test_delete_names_the_consensus_models_that_use_it(
    console: Console,
    mesh: Mesh,
    model: Fixture,  # noqa: F811
) -> None:
    su, parent = mesh.metadata("root", superuser=True), unique_name("consensus")
    yaml = f'"{parent}":\n  CHILDMODELS:\n    A: {{NAME: "{model.name}"}}\n  FORMULA: "A"\n'
    stub = mesh.registry()
    stub.ImportConsensusModel(registry_pb2.ImportConsensusModelRequest(yaml=yaml), metadata=su)
    stub.GrantAccess(
        registry_pb2.GrantAccessRequest(
            name=parent, user=model.owner, role=model_pb2.ACCESS_ROLE_READER
        ),
        metadata=su,
    )
    tab = console.open(model.owner)
    open_model(tab, model.name)
    page = tab.page
    page.get_by_role("button", name="Delete model").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_role("link", name=parent).wait_for()
    dialog.get_by_role("button", name=f"Delete {model.name}").click()
    dialog.locator(".error", has_text="is used by consensus models").wait_for()
    assert parent in dialog.locator(".error[role='alert']").inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert stub.GetModel(registry_pb2.GetModelRequest(name=model.name), metadata=su).model.name
    assert all("status of 4" in error for error in tab.errors), tab.errors


def test_the_model_page_fits_a_phone(console: Console, model: Fixture) -> None:  # noqa: F811
    tab = console.open(model.owner, viewport=NARROW)
    open_model(tab, model.name)
    page = tab.page
    page.locator("[data-state='none']").wait_for()
    for summary in page.locator("summary").all():
        summary.click()  # schemas, the add-version and rollout forms open
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], width
    tab.assert_no_console_errors()


def test_visibility_revoking_and_deleting(console: Console, model: Fixture) -> None:  # noqa: F811
    tab = console.open(model.owner)
    open_model(tab, model.name)
    page = tab.page
    page.get_by_role("button", name="Make public").click()
    page.locator("dialog[open]").get_by_role("button", name="Make public").click()
    page.locator(".owner-meta .owner-badge", has_text="public").wait_for()
    page.get_by_role("button", name="Make private").wait_for()

    assert page.get_by_role("button", name=f"Revoke owner {model.owner}").count() == 0
    page.get_by_role("button", name=f"Revoke reader {model.reader}").click()
    page.locator("dialog[open]").get_by_role("button", name="Revoke").click()
    page.locator(".owner-grants li", has_text=model.reader).wait_for(state="detached")
    assert page.locator(".owner-grants li", has_text=model.owner).count() == 1

    page.get_by_role("button", name="Delete model").click()
    page.locator("dialog[open]").get_by_text("No consensus model you can see uses it").wait_for()
    page.locator("dialog[open]").get_by_role("button", name=f"Delete {model.name}").click()
    page.wait_for_url("**/#/models")
    tab.wait_for_models()
    assert page.locator("table.models a", has_text=model.name).count() == 0
    tab.assert_no_console_errors()
