"""combine: the formula per record over the children's results, failures kept per record."""

from __future__ import annotations

import pytest

from consensus.aggregate import combine
from consensus.definition import Child, ConsensusDefinition, from_algorithm1_yaml
from consensus.formula import Formula, parse
from tests.consensus.test_definition import PAPER_YAML

VERSIONS = {"CHILDMODEL1": "1.0.0", "CHILDMODEL2": "2.0.0"}


def paper() -> tuple[ConsensusDefinition, Formula]:
    _, definition = from_algorithm1_yaml(PAPER_YAML)
    return definition, parse(definition.formula)


def test_the_papers_formula_record_by_record_with_provenance() -> None:
    definition, formula = paper()
    logp = [{"output": {"logp": -2.0}}, {"output": {"logp": 2.0}}]
    tpsa = [{"output": {"tpsa": 3.0}}, {"output": {"tpsa": 3}}]
    records = combine(definition, formula, {"CHILDMODEL1": logp, "CHILDMODEL2": tpsa}, VERSIONS)
    assert records == [
        {
            "output": {
                "consensus": 1.0,
                "children": {
                    "CHILDMODEL1": {"model": "rdkit.logp", "version": "1.0.0", "value": -2.0},
                    "CHILDMODEL2": {"model": "rdkit.tpsa", "version": "2.0.0", "value": 3.0},
                },
            }
        },
        {
            "output": {
                "consensus": 6.0,
                "children": {
                    "CHILDMODEL1": {"model": "rdkit.logp", "version": "1.0.0", "value": 2.0},
                    "CHILDMODEL2": {"model": "rdkit.tpsa", "version": "2.0.0", "value": 3.0},
                },
            }
        },
    ]


def test_failures_stay_with_their_record() -> None:
    definition, formula = paper()
    logp = [
        {"error": "invalid SMILES"},
        {"output": {"logp": 1.0}},
        {"output": {"logp": 1.0}},
        {"error": "timeout"},
        {"output": {"logp": 1.0}},
    ]
    tpsa = [
        {"output": {"tpsa": 1.0}},
        {"output": {"tpsa": 1.0}},
        {"output": {"other": "x"}},
        {"error": "invalid SMILES"},
        {"output": {"tpsa": 1.0, "extra": 2.0}},
    ]
    records = combine(definition, formula, {"CHILDMODEL1": logp, "CHILDMODEL2": tpsa}, VERSIONS)
    assert records[0] == {"error": "child CHILDMODEL1 (rdkit.logp) failed: invalid SMILES"}
    assert records[1]["output"]["consensus"] == 1.0
    assert records[2] == {
        "error": "child CHILDMODEL2 (rdkit.tpsa) output does not hold exactly one number: ['other']"
    }
    assert records[3] == {
        "error": "child CHILDMODEL1 (rdkit.logp) failed: timeout; "
        "child CHILDMODEL2 (rdkit.tpsa) failed: invalid SMILES"
    }
    assert "error" in records[4]


def test_a_named_or_chosen_output_field_and_a_formula_error_per_record() -> None:
    definition = ConsensusDefinition(
        (Child("a", "m.one", output="x"), Child("B", "m.two")), "A / b", output="ratio"
    )
    results = {
        "a": [
            {"output": {"x": 1.0, "y": 9.0}},
            {"output": {"x": 1.0, "y": 9.0}},
            {"output": {"y": 1.0}},
        ],
        "B": [
            {"output": {"p": 4.0, "q": 1.0}},
            {"output": {"p": 0.0, "q": 1.0}},
            {"output": {"p": 1.0}},
        ],
    }
    records = combine(definition, parse(definition.formula), results, {}, fields={"B": "p"})
    assert records[0]["output"]["ratio"] == 0.25
    assert records[0]["output"]["children"]["B"] == {"model": "m.two", "version": "", "value": 4.0}
    assert records[1]["error"].startswith("formula: division by zero")
    assert records[2] == {"error": "child a (m.one) output has no number 'x'"}


def test_results_that_do_not_line_up_are_a_caller_bug() -> None:
    definition, formula = paper()
    with pytest.raises(ValueError, match="no results for child 'CHILDMODEL2'"):
        combine(definition, formula, {"CHILDMODEL1": []}, VERSIONS)
    with pytest.raises(ValueError, match="different numbers of records"):
        combine(
            definition,
            formula,
            {"CHILDMODEL1": [], "CHILDMODEL2": [{"output": {"t": 1}}]},
            VERSIONS,
        )
    assert combine(definition, formula, {"CHILDMODEL1": [], "CHILDMODEL2": []}, VERSIONS) == []
