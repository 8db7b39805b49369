"""Verification against an in-memory registry: each problem kind with its location."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from consensus.definition import Child, ConsensusDefinition, from_algorithm1_yaml
from consensus.verify import (
    ChildInfo,
    OutputFieldError,
    Problem,
    Report,
    choose_output_field,
    verify,
)
from tests.consensus.test_definition import PAPER_YAML


def number_output(*fields: str, **others: str) -> dict[str, Any]:
    properties = {name: {"type": "number"} for name in fields}
    properties.update({name: {"type": kind} for name, kind in others.items()})
    return {"type": "object", "properties": properties}


@dataclass
class Model:
    versions: dict[str, dict[str, Any]]  # version -> output schema
    default: str = ""
    readable: bool = True
    consensus: dict[str, ConsensusDefinition] = field(default_factory=dict)  # version -> definition


class FakeRegistry:
    """A ChildLookup over a dict of models; hidden models answer like missing ones."""

    def __init__(self, models: dict[str, Model], hidden: frozenset[str] = frozenset()) -> None:
        self.models = models
        self.hidden = hidden
        self.calls: list[tuple[str, str]] = []

    async def child(self, model: str, version: str) -> ChildInfo:
        self.calls.append((model, version))
        found = self.models.get(model)
        if found is None or model in self.hidden:
            return ChildInfo(exists=False, readable=False)
        if not found.readable:
            return ChildInfo(exists=True, readable=False)
        resolved = version or found.default
        schema = found.versions.get(resolved)
        return ChildInfo(
            exists=True,
            readable=True,
            version=resolved,
            version_exists=schema is not None,
            output_schema=schema or {},
            consensus=found.consensus.get(resolved),
        )


def registry(**extra: Model) -> FakeRegistry:
    models = {
        "rdkit.logp": Model(
            {"1.0.0": number_output("logp"), "0.9.0": number_output("logp")}, "1.0.0"
        ),
        "rdkit.tpsa": Model({"1.0.0": number_output("tpsa")}, "1.0.0"),
        "rdkit.pains": Model({"1.0.0": number_output("count", "score", names="array")}, "1.0.0"),
        "demo.echo": Model({"1.0.0": number_output(echo="object")}, "1.0.0"),
    }
    models.update({name.replace("_", "."): model for name, model in extra.items()})
    return FakeRegistry(models)


def definition(formula: str = "A <= 0 ? A + B : A * B", **children: str) -> ConsensusDefinition:
    pairs = {"A": "rdkit.logp", "B": "rdkit.tpsa", **children}
    return ConsensusDefinition(
        tuple(Child(alias, model) for alias, model in pairs.items()), formula
    )


def kinds(report: Report) -> list[tuple[str, str]]:
    return [(p.kind, p.location) for p in report.problems]


async def test_the_papers_model_verifies_and_evaluates_a_sample() -> None:
    name, paper = from_algorithm1_yaml(PAPER_YAML)
    report = await verify(name, paper, registry(), sample={"CHILDMODEL1": 2.0, "childmodel2": 3.0})
    assert report.ok, report.problems
    assert report.resolved == {"CHILDMODEL1": "1.0.0", "CHILDMODEL2": "1.0.0"}
    assert report.sample_value == 6.0


async def test_a_pinned_version_is_resolved_as_pinned() -> None:
    pinned = ConsensusDefinition((Child("A", "rdkit.logp", "0.9.0"),), "A * 2")
    report = await verify("c", pinned, registry())
    assert report.ok and report.resolved == {"A": "0.9.0"}


async def test_a_syntax_error_with_its_position() -> None:
    report = await verify("c", definition("A <= 0 ?\n A + B :\n A * * B"), registry())
    assert kinds(report) == [("syntax_error", "formula:3:6")]
    assert "expected an operand" in report.problems[0].message


async def test_an_unknown_alias_at_its_identifier() -> None:
    report = await verify("c", definition("A + B +\n  Cee"), registry())
    assert kinds(report) == [("unknown_alias", "formula:2:3")]


async def test_an_unused_child() -> None:
    report = await verify("c", definition("A * 2"), registry())
    assert kinds(report) == [("unused_child", "children.B")]


async def test_a_missing_child_model() -> None:
    report = await verify("c", definition(B="rdkit.nothing"), registry())
    assert kinds(report) == [("missing_child_model", "children.B.model")]
    assert report.resolved == {"A": "1.0.0"}


async def test_a_hidden_child_reads_like_a_missing_one() -> None:
    hidden = registry()
    hidden.hidden = frozenset({"rdkit.tpsa"})
    missing = await verify("c", definition(B="rdkit.nothing"), registry())
    report = await verify("c", definition(B="rdkit.tpsa"), hidden)
    assert kinds(report) == [("missing_child_model", "children.B.model")]
    assert report.problems[0].message == missing.problems[0].message.replace("nothing", "tpsa")


async def test_a_child_the_caller_may_not_read() -> None:
    secret = Model({"1.0.0": number_output("x")}, "1.0.0", readable=False)
    report = await verify("c", definition(B="team.secret"), registry(team_secret=secret))
    assert kinds(report) == [("child_not_readable", "children.B.model")]


async def test_a_missing_pinned_version_and_a_model_without_versions() -> None:
    pinned = ConsensusDefinition(
        (Child("A", "rdkit.logp", "9.9.9"), Child("B", "empty.model")), "A + B"
    )
    report = await verify("c", pinned, registry(empty_model=Model({})))
    assert kinds(report) == [
        ("missing_version", "children.A.version"),
        ("no_versions", "children.B.model"),
    ]
    assert report.resolved == {}


async def test_non_numeric_outputs() -> None:
    named = ConsensusDefinition(
        (
            Child("A", "rdkit.logp", output="tpsa"),
            Child("B", "rdkit.pains"),
            Child("C", "demo.echo"),
            Child("D", "rdkit.pains", output="names"),
        ),
        "A + B + C + D",
    )
    report = await verify("c", named, registry())
    assert kinds(report) == [("non_numeric_output", f"children.{a}.output") for a in "ABCD"]
    assert "numeric fields: 'count', 'score'" in report.problems[1].message
    assert "numeric fields: none" in report.problems[2].message


def consensus_model(child: str) -> Model:
    nested = ConsensusDefinition((Child("X", child),), "X + 1")
    return Model({"1.0.0": number_output("consensus")}, "1.0.0", consensus={"1.0.0": nested})


async def test_a_cycle_through_another_consensus_model() -> None:
    models = registry(c_a=consensus_model("c.b"), c_b=consensus_model("c.a"))
    own = ConsensusDefinition((Child("B", "c.b"),), "B")
    report = await verify("c.a", own, models)
    assert kinds(report) == [("cycle", "c.a -> c.b -> c.a")]


async def test_a_self_cycle() -> None:
    models = registry(c_a=consensus_model("rdkit.logp"))
    own = ConsensusDefinition((Child("A", "c.a"), Child("B", "rdkit.logp")), "A + B")
    report = await verify("c.a", own, models)
    assert kinds(report) == [("cycle", "c.a -> c.a")]


async def test_a_consensus_of_consensus_models_is_fine_and_a_diamond_too() -> None:
    models = registry(c_x=consensus_model("rdkit.logp"), c_y=consensus_model("rdkit.logp"))
    own = ConsensusDefinition((Child("X", "c.x"), Child("Y", "c.y")), "mean(X, Y)")
    report = await verify("c.top", own, models)
    assert report.ok, report.problems


async def test_a_cycle_below_the_model_is_found_once_and_the_walk_is_bounded() -> None:
    models = registry(c_x=consensus_model("c.y"), c_y=consensus_model("c.x"))
    own = ConsensusDefinition((Child("X", "c.x"), Child("Y", "c.x")), "X + Y")
    report = await verify("c.top", own, models)
    assert kinds(report) == [("cycle", "c.top -> c.x -> c.y -> c.x")]
    chain = {f"c_{i}": consensus_model(f"c.{i + 1}") for i in range(20)}
    deep = await verify("c.top", ConsensusDefinition((Child("X", "c.0"),), "X"), registry(**chain))
    assert [p.kind for p in deep.problems] == ["too_deep"]


async def test_sample_evaluation_errors() -> None:
    report = await verify("c", definition("A / B"), registry(), sample={"A": 1.0, "B": 0.0})
    assert kinds(report) == [("evaluation_error", "formula")]
    assert "division by zero" in report.problems[0].message and report.sample_value is None
    report = await verify("c", definition("A / B"), registry(), sample={"A": 1.0})
    assert kinds(report) == [("evaluation_error", "formula")]
    report = await verify("c", definition("A / B"), registry(), sample={"A": 1, "B": 2, "Z": 3})
    assert kinds(report) == [("evaluation_error", "sample.Z")]


async def test_an_invalid_name_and_several_problems_at_once() -> None:
    report = await verify("Not A Name", definition("A + Q", B="rdkit.nothing"), registry())
    assert kinds(report) == [
        ("invalid_definition", "name"),
        ("unknown_alias", "formula:1:5"),
        ("unused_child", "children.B"),
        ("missing_child_model", "children.B.model"),
    ]
    assert all(isinstance(p, Problem) and p.message for p in report.problems)


@pytest.mark.parametrize(
    ("child", "schema", "expected"),
    [
        (Child("A", "m"), number_output("x"), "x"),
        (Child("A", "m"), {"properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}, "n"),
        (Child("A", "m", output="y"), number_output("x", "y"), "y"),
        (Child("A", "m"), {"properties": {"x": {"type": ["number", "integer"]}}}, "x"),
    ],
)
def test_choose_output_field(child: Child, schema: dict[str, Any], expected: str) -> None:
    assert choose_output_field(child, schema) == expected


@pytest.mark.parametrize(
    "schema",
    [
        {},
        number_output("x", "y"),
        number_output(s="string"),
        {"properties": {"x": {"type": ["number", "null"]}}},
    ],
)
def test_choose_output_field_refuses(schema: dict[str, Any]) -> None:
    with pytest.raises(OutputFieldError):
        choose_output_field(Child("A", "m"), schema)
