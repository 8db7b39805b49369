"""The consensus builder: children picked by search, the formula verified as it
is typed with a syntax error's caret under the column the API reports, a
correct formula over rdkit.logp and rdkit.esol verified with its sample value,
and creating it (superusers; the API's refusal shown, and refused to others)."""

from __future__ import annotations

import subprocess
from typing import Any

import grpc
import pytest

from modelgateway.v1 import registry_pb2
from tests.harness import Mesh, unique_name

from .conftest import Console, Tab

BROKEN = "A + * B"
PAPER = "A <= 0 ? A+B : A*B"


def _add_children(tab: Tab) -> None:
    page = tab.page
    for model, word in (("rdkit.logp", "logp"), ("rdkit.esol", "esol")):
        page.get_by_label("Find a child model").fill(word)
        page.get_by_role("button", name=f"Add {model}").click()
    assert page.get_by_label("Alias of rdkit.logp").input_value() == "A"
    assert page.get_by_label("Alias of rdkit.esol").input_value() == "B"


def _error_id(page: Any, label: str) -> str:
    """The id of the error line field() puts under the input labelled `label`."""
    return str(page.get_by_label(label).get_attribute("aria-describedby"))


def _api_problems(mesh: Mesh, formula: str) -> list[registry_pb2.ConsensusProblem]:
    request = registry_pb2.VerifyConsensusModelRequest(name="console.draft")
    request.definition.update({
        "children": [{"alias": "A", "model": "rdkit.logp"}, {"alias": "B", "model": "rdkit.esol"}],
        "formula": formula,
    })  # fmt: skip
    return list(
        mesh.registry().VerifyConsensusModel(request, metadata=mesh.metadata("alice")).problems
    )


def test_a_syntax_error_is_marked_at_the_column_the_api_reports(
    console: Console, mesh: Mesh, builtin_worker: subprocess.Popen[bytes]
) -> None:
    tab = console.open("alice")
    tab.go("#/consensus")
    _add_children(tab)
    page = tab.page
    page.get_by_label("Formula").fill(BROKEN)
    caret = page.locator("pre.formula-marked .caret")
    caret.wait_for()
    [problem] = _api_problems(mesh, BROKEN)
    assert problem.kind == "syntax_error"
    column = int(problem.location.split(":")[2])
    text = caret.inner_text()
    assert text.index("^") + 1 == column == int(caret.get_attribute("data-column") or 0)
    assert BROKEN[column - 1] == "*"  # the caret is under the error
    assert problem.message in text
    assert page.get_by_label("Formula").get_attribute("aria-invalid") == "true"
    # the marked formula's first line is the formula itself, the caret line under it
    assert page.locator("pre.formula-marked").inner_text().split("\n")[0] == BROKEN
    page.get_by_label("Formula").fill("A * 2")  # B unused: marked on B's row, not in the formula
    page.locator("li[data-model='rdkit.esol'][aria-invalid='true']").wait_for()
    assert (
        "does not use child 'B'"
        in page.locator("#" + _error_id(page, "Alias of rdkit.esol")).inner_text()
    )
    assert page.locator("pre.formula-marked").count() == 0
    assert page.get_by_role("button", name="Create consensus model").count() == 0  # not a superuser
    tab.assert_no_console_errors()


def test_the_papers_formula_verifies_with_its_sample_and_a_superuser_creates_it(
    console: Console, mesh: Mesh, builtin_worker: subprocess.Popen[bytes]
) -> None:
    tab = console.open("root", superuser=True)
    tab.go("#/consensus")
    _add_children(tab)
    page = tab.page
    page.get_by_label("Formula").fill(PAPER)
    page.get_by_text("Verified: no problems.").wait_for()
    assert page.get_by_label("Formula").get_attribute("aria-invalid") == "false"
    assert not _api_problems(mesh, PAPER)
    page.get_by_label("Sample value of rdkit.logp").fill("-2")
    page.get_by_label("Sample value of rdkit.esol").fill("3")
    page.wait_for_function("() => document.querySelector('.sample-value b')?.textContent === '1'")

    name = unique_name("console").replace("-", ".", 1)
    page.get_by_label("Name of the new model").fill("Not A Name")
    page.wait_for_function("() => document.querySelector('#consensus-name').ariaInvalid === 'true'")
    page.get_by_text(
        "Verified: no problems."
    ).wait_for()  # verified under the draft's name meanwhile
    page.get_by_label("Name of the new model").fill(name)
    page.get_by_role("button", name="Create consensus model").click()
    page.locator(".created a", has_text=name).wait_for()
    reply = mesh.registry().GetModel(
        registry_pb2.GetModelRequest(name=name), metadata=mesh.metadata("root", superuser=True)
    )
    assert reply.model.resolved_version == "1.0.0"
    tab.assert_no_console_errors()
    page.get_by_role("button", name="Create consensus model").click()  # again: the API refuses
    page.locator(".created .error", has_text="already exists").wait_for()
    # Chromium logs the refused request itself; the page adds nothing
    assert [e for e in tab.errors if "409" not in e] == []


def test_the_api_refuses_a_non_superusers_import(mesh: Mesh) -> None:
    yaml = f'"{unique_name("console").replace("-", ".", 1)}":\n  CHILDMODELS:\n    A:\n      NAME: "rdkit.logp"\n  FORMULA: "A"\n'
    with pytest.raises(grpc.RpcError) as refused:
        mesh.registry().ImportConsensusModel(
            registry_pb2.ImportConsensusModelRequest(yaml=yaml), metadata=mesh.metadata("alice")
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
