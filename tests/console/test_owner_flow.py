"""The model owner's control panel, end to end in a real browser: a superuser
creates a model and assigns its owner; the owner edits its description, adds a
version, makes it the default and grants a reader, and the model's history shows
both; the reader sees the model without any owner control or the history; a
stranger does not see it at all."""

from __future__ import annotations

import json

from tests.harness import unique_name

from .conftest import Console, Tab

SCHEMA = {"type": "object", "properties": {"smiles": {"type": "string"}}, "required": ["smiles"]}
CONFIG = {"callable": "workers.builtin.demo:echo"}


def open_model(tab: Tab, name: str) -> None:
    tab.go(f"#/models/{name}")
    tab.page.get_by_role("heading", name="Versions").wait_for()


def add_version(tab: Tab, version: str, schema: str = json.dumps(SCHEMA)) -> None:
    page = tab.page
    page.get_by_text("Add a version").click()
    page.get_by_label("Version", exact=True).fill(version)
    page.get_by_label("Backend kind").select_option("python")
    page.get_by_label("Backend config (JSON)").fill(json.dumps(CONFIG))
    page.get_by_label("Input schema (JSON Schema)").fill(schema)
    page.get_by_label("Notes").fill(f"release {version}")
    page.get_by_role("button", name="Add version").click()


def grant(tab: Tab, user: str, role: str) -> None:
    page = tab.page
    page.get_by_label("User", exact=True).fill(user)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Grant", exact=True).click()
    page.locator(".owner-grants li", has_text=user).wait_for()


def create_as_superuser(console: Console, name: str, owner: str) -> None:
    root = console.open("root", superuser=True)
    page = root.page
    page.get_by_text("Create model", exact=True).first.click()  # the <summary>
    page.get_by_label("Model name").fill(name)
    page.get_by_label("Display name").fill("Owner flow model")
    page.get_by_role("button", name="Create model").click()
    page.wait_for_url(f"**/#/models/{name}")
    page.get_by_role("heading", name="Access").wait_for()
    grant(root, owner, "ACCESS_ROLE_OWNER")
    assert page.locator(".owner-grants li", has_text=owner).inner_text().startswith("owner")
    root.assert_no_console_errors()


def owner_edits_and_releases(console: Console, name: str, owner: str, reader: str) -> None:
    tab = console.open(owner)
    page = tab.page
    assert page.locator("table.models a", has_text=name).count() == 1
    open_model(tab, name)
    page.get_by_role("button", name="Edit details").click()
    page.get_by_role("textbox", name="Description").fill("Predicts **logP**.\n\n- fast\n- `rdkit`")
    page.get_by_role("button", name="Save").click()
    page.locator(".markdown strong", has_text="logP").wait_for()
    assert page.locator(".markdown li code", has_text="rdkit").count() == 1

    add_version(tab, "1.0.0")
    page.get_by_role("rowheader", name="1.0.0").wait_for()
    add_version(tab, "2.0.0")
    page.get_by_role("rowheader", name="2.0.0").wait_for()
    assert "run 2.0.0 (the latest" in page.locator(".owner-resolves").inner_text()

    page.get_by_role("button", name="Make 1.0.0 the default").click()
    dialog = page.locator("dialog[open]")
    assert "New jobs that name no version will run 1.0.0 instead of 2.0.0." in dialog.inner_text()
    dialog.get_by_role("button", name="Make 1.0.0 the default").click()
    page.locator(".owner-resolves", has_text="run 1.0.0 (the default version)").wait_for()
    assert page.locator("dialog[open]").count() == 0
    page.get_by_role("button", name="Clear the default").click()
    assert "will run 2.0.0 instead of 1.0.0" in page.locator("dialog[open]").inner_text()
    page.get_by_role("button", name="Cancel").click()

    assert page.locator("#grant-role option").count() == 1  # an owner grants readers only
    status, _ = console.edge.call(  # and the API refuses the control the page hides
        "POST",
        f"/v1/models/{name}:grantAccess",
        {"user": reader, "role": "ACCESS_ROLE_OWNER"},
        headers=console.edge.bearer(owner),
    )
    assert status == 403
    grant(tab, reader, "ACCESS_ROLE_READER")
    # The page read its history again with the grant: who did what, from what to what.
    history = page.locator("table.model-history")
    granted = history.locator("tr", has_text="Granted reader")
    granted.wait_for()
    assert owner in granted.inner_text() and reader in granted.inner_text()
    default = history.locator("tr", has_text="Default version")  # set once: the clear was cancelled
    assert "none → 1.0.0" in default.inner_text() and owner in default.inner_text()
    assert history.locator("tr", has_text="Granted owner").inner_text().split("\t")[1] == "root"
    tab.assert_no_console_errors()


def test_a_superuser_creates_a_model_and_its_owner_runs_it(console: Console) -> None:
    name = unique_name()
    owner, reader, stranger = f"owner-{name}", f"reader-{name}", f"stranger-{name}"
    create_as_superuser(console, name, owner)
    owner_edits_and_releases(console, name, owner, reader)

    seen = console.open(reader)
    assert seen.page.locator("table.models a", has_text=name).count() == 1
    open_model(seen, name)
    page = seen.page
    page.locator(".markdown strong", has_text="logP").wait_for()
    page.get_by_role("link", name="Try it").wait_for()
    for control in (
        "Edit details",
        "Make 2.0.0 the default",
        "Grant",
        "Delete model",
        "Make public",
    ):
        assert page.get_by_role("button", name=control).count() == 0, control
    assert page.get_by_text("Add a version").count() == 0
    assert page.get_by_role("heading", name="Rollout").count() == 0
    assert page.get_by_role("heading", name="History").count() == 0
    assert page.locator(".owner-grants li", has_text=owner).count() == 1
    seen.assert_no_console_errors()

    outsider = console.open(stranger)
    assert outsider.page.locator("table.models a", has_text=name).count() == 0
    outsider.go(f"#/models/{name}")
    assert "not found or not visible to you" in outsider.page.locator("main").inner_text()
    assert outsider.page.get_by_role("button").filter(has_text="Edit").count() == 0
    # Chromium logs the refused GetModel itself ("the server responded with a
    # status of 404"); nothing else may go wrong.
    assert all("404" in error for error in outsider.errors), outsider.errors
