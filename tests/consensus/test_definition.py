"""Consensus definitions: the registry config, and the paper's Algorithm 1 YAML as written."""

from __future__ import annotations

from typing import Any

import pytest

from consensus.definition import (
    Child,
    ConsensusDefinition,
    from_algorithm1_yaml,
    load_algorithm1,
)
from consensus.errors import DefinitionError
from consensus.formula import parse

PAPER_YAML = """"CONSENSUSMODEL":
  CHILDMODELS:
    CHILDMODEL1: {BACKEND: ChildModel1_Backend, NAME: "rdkit.logp"}
    CHILDMODEL2:
      BACKEND: ChildModel2_Backend
      NAME: "rdkit.tpsa"
  FORMULA: >
    "ChildModel1 <= 0 ?
    ChildModel1+ChildModel2 :
    ChildModel1*ChildModel2"
"""

# As printed in the paper, typographic quotes included.
PAPER_YAML_TYPOGRAPHIC = PAPER_YAML.replace('"', "\u201d")

EXPECTED = ConsensusDefinition(
    children=(
        Child("CHILDMODEL1", "rdkit.logp", backend="ChildModel1_Backend"),
        Child("CHILDMODEL2", "rdkit.tpsa", backend="ChildModel2_Backend"),
    ),
    formula="ChildModel1 <= 0 ? ChildModel1+ChildModel2 : ChildModel1*ChildModel2",
)


@pytest.mark.parametrize("text", [PAPER_YAML, PAPER_YAML_TYPOGRAPHIC])
def test_the_papers_algorithm_1_as_written(text: str) -> None:
    name, definition = from_algorithm1_yaml(text)
    assert name == "consensusmodel"
    assert definition == EXPECTED
    formula = parse(definition.formula)
    binding = formula.bind(c.alias for c in definition.children)
    assert binding == {"ChildModel1": "CHILDMODEL1", "ChildModel2": "CHILDMODEL2"}
    assert formula.evaluate({"CHILDMODEL1": -2, "CHILDMODEL2": 3}) == 1.0
    assert formula.evaluate({"CHILDMODEL1": 2, "CHILDMODEL2": 3}) == 6.0


def test_the_issue_one_line_formula_and_lowercase_keys_with_extensions() -> None:
    text = """demo.Logp-Tpsa:
  description: logP and TPSA, piecewise
  output: score
  childmodels:
    a: {name: RDKIT.LOGP, version: 1.10, output: logp}
    B: {Name: rdkit.tpsa, Backend: rdkit}
  formula: "a <= 0 ? a + b : a * b"
"""
    document = load_algorithm1(text)
    assert document.name == "demo.logp-tpsa"
    assert document.description == "logP and TPSA, piecewise"
    assert document.definition == ConsensusDefinition(
        children=(
            Child("a", "rdkit.logp", "1.10", "logp"),
            Child("B", "rdkit.tpsa", backend="rdkit"),
        ),
        formula="a <= 0 ? a + b : a * b",
        output="score",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just text", "exactly one consensus model"),
        ("a: {}\nb: {}", "exactly one consensus model"),
        ("'a b': {}", "the consensus model name 'a b' is not a model name"),
        ("m: [1]", "m must be a mapping"),
        (PAPER_YAML.replace("FORMULA", "FORMULAE"), "CONSENSUSMODEL.FORMULAE is not a known key"),
        (
            PAPER_YAML.replace("  FORMULA: >", "  WEIGHTS: 1\n  FORMULA: >"),
            "CONSENSUSMODEL.WEIGHTS is not a known key",
        ),
        (
            PAPER_YAML.replace('NAME: "rdkit.tpsa"', "NAME: rdkit_tpsa"),
            "CONSENSUSMODEL.CHILDMODELS.CHILDMODEL2.NAME 'rdkit_tpsa' is not a model name",
        ),
        (
            PAPER_YAML.replace('      NAME: "rdkit.tpsa"\n', ""),
            "CONSENSUSMODEL.CHILDMODELS.CHILDMODEL2.NAME is required",
        ),
        (
            PAPER_YAML.replace("BACKEND: ChildModel2_Backend", "COLOUR: red"),
            "CONSENSUSMODEL.CHILDMODELS.CHILDMODEL2.COLOUR is not a known key",
        ),
        (
            PAPER_YAML.replace("BACKEND: ChildModel2_Backend", "VERSION: [1]"),
            "CHILDMODEL2.VERSION must be text",
        ),
        (
            PAPER_YAML.replace("CHILDMODEL2:", "childmodel1:"),
            "childmodel1 repeats CONSENSUSMODEL.CHILDMODELS.CHILDMODEL1",
        ),
        (
            PAPER_YAML.replace("CHILDMODEL2:", "child-2:"),
            "child-2.alias 'child-2' is not an identifier",
        ),
        (PAPER_YAML.split("  FORMULA")[0], "CONSENSUSMODEL.FORMULA is required"),
        ('"X":\n  FORMULA: "1"', "CHILDMODELS is required"),
        ("a: [", "not YAML"),
    ],
)
def test_yaml_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(".", r"\.")):
        from_algorithm1_yaml(text)


def test_config_round_trip() -> None:
    definition = ConsensusDefinition(
        children=(Child("A", "rdkit.logp", "1.0.0", "logp"), Child("B", "rdkit.tpsa", backend="x")),
        formula="A + B",
        output="sum",
    )
    config = definition.to_config()
    assert config == {
        "children": [
            {"alias": "A", "model": "rdkit.logp", "version": "1.0.0", "output": "logp"},
            {"alias": "B", "model": "rdkit.tpsa", "version": "", "output": "", "backend": "x"},
        ],
        "formula": "A + B",
        "output": "sum",
    }
    assert ConsensusDefinition.from_config(config) == definition
    assert ConsensusDefinition.from_config(EXPECTED.to_config()) == EXPECTED


def test_from_config_defaults() -> None:
    definition = ConsensusDefinition.from_config(
        {"children": [{"alias": "A", "model": "rdkit.logp"}], "formula": "A * 2"}
    )
    assert definition.output == "consensus"
    assert definition.children == (Child("A", "rdkit.logp"),)
    assert definition.child("a") is definition.children[0]


def _config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "children": [{"alias": "A", "model": "rdkit.logp"}, {"alias": "B", "model": "rdkit.tpsa"}],
        "formula": "A + B",
    }
    config.update(changes)
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1], "must be an object"),
        (_config(children=[]), "children is required"),
        (_config(children="A"), "children is required"),
        (_config(formula=""), "formula is required"),
        (_config(formula=3), "formula must be a string"),
        (_config(extra=1), "unknown key(s) extra"),
        (_config(output="children"), "output cannot be 'children'"),
        (
            _config(children=[{"alias": "A", "model": "rdkit.logp"}, {"alias": "B"}]),
            "children[1].model is required",
        ),
        (
            _config(children=[{"alias": "A", "model": "rdkit.logp"}, "B"]),
            "children[1] must be an object",
        ),
        (
            _config(children=[{"alias": "A", "model": "Rdkit.LogP"}]),
            "children[0].model 'Rdkit.LogP' is not a model name",
        ),
        (_config(children=[{"model": "rdkit.logp"}]), "children[0].alias is required"),
        (
            _config(children=[{"alias": "1A", "model": "rdkit.logp"}]),
            "children[0].alias '1A' is not an identifier",
        ),
        (
            _config(children=[{"alias": "not", "model": "rdkit.logp"}]),
            "children[0].alias 'not' is a reserved word",
        ),
        (
            _config(children=[{"alias": "A", "model": "m"}, {"alias": "a", "model": "n"}]),
            "children[1].alias 'a' repeats 'A'",
        ),
        (
            _config(children=[{"alias": "A", "model": "m", "version": "v 1"}]),
            "children[0].version 'v 1' is not a version",
        ),
        (
            _config(children=[{"alias": "A", "model": "m", "weight": 2}]),
            "children[0]: unknown key(s) weight",
        ),
        (
            _config(children=[{"alias": "A", "model": "m", "output": 7}]),
            "children[0].output must be a string",
        ),
    ],
)
def test_from_config_errors_name_the_key_path(config: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        ConsensusDefinition.from_config(config)
    assert message in str(caught.value)
