"""The built-in models of catalog/models.yaml as a worker runs them: valid names and
schemas, importable callables, outputs that fit."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from backendspec import BACKEND_KINDS, BackendPolicy, check_backend_spec
from gateway.admin.catalog import CatalogModel, load, worker_models
from gateway.config import DEFAULT_CATALOG
from tests.workers.conftest import MakeBackend
from workers.backends.python import resolve_callable

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # the registry's tag rule
SAMPLE_INPUT: dict[str, dict[str, Any]] = {
    "demo.sleep": {"seconds": 0},
    "demo.echo": {"anything": [1, "two"]},
}
CAFFEINE = {"smiles": "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"}
BUILTIN_MODELS = [m for m in load(DEFAULT_CATALOG, BackendPolicy()) if m.name in worker_models()]
MODELS = pytest.mark.parametrize("model", BUILTIN_MODELS, ids=lambda m: m.name)


def _spec(model: CatalogModel) -> dict[str, Any]:
    """The backend spec of the model's one version, without the worker's timeout."""
    (version,) = model.versions
    config = {k: v for k, v in version.backend_config.items() if k != "timeout_s"}
    return {"kind": version.backend_kind, "config": config}


def test_the_expected_models_are_listed_once() -> None:
    names = [model.name for model in BUILTIN_MODELS]
    assert names == [
        "rdkit.logp",
        "rdkit.tpsa",
        "rdkit.mol-weight",
        "rdkit.qed",
        "rdkit.esol",
        "rdkit.pains",
        "demo.sleep",
        "demo.echo",
    ]


@MODELS
def test_metadata(model: CatalogModel) -> None:
    assert NAME.match(model.name) and len(model.name) <= 128
    assert [v.version for v in model.versions] == ["1.0.0"]
    assert model.public
    assert model.display_name and len(model.display_name) <= 200
    assert model.description.count(". ") >= 2, "several sentences for an LLM agent to choose by"
    assert model.tags and all(TAG.fullmatch(tag) for tag in model.tags)
    assert 0 < model.versions[0].backend_config["timeout_s"] <= 3600


@MODELS
def test_schemas_are_draft_2020_12(model: CatalogModel) -> None:
    (version,) = model.versions
    for schema in (version.input_schema, version.output_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"


@MODELS
def test_backend_spec_is_valid_and_its_callable_imports(model: CatalogModel) -> None:
    spec = _spec(model)
    assert spec["kind"] in BACKEND_KINDS
    check_backend_spec(spec)
    path = spec["config"]["callable"]
    function = resolve_callable(path)
    assert callable(function)
    # Within the default allow-list, and defined where it is named.
    BackendPolicy().check(spec["kind"], spec["config"])
    BackendPolicy().check_defined_in_allowed_module(path, function)


@MODELS
async def test_a_sample_input_validates_and_its_output_fits_the_output_schema(
    model: CatalogModel, python_backend: MakeBackend
) -> None:
    (version,) = model.versions
    record = SAMPLE_INPUT.get(model.name, CAFFEINE)
    jsonschema.Draft202012Validator(version.input_schema).validate(record)
    (outcome,) = await python_backend().run([record], version.backend_config)
    assert outcome.output is not None, outcome.error
    jsonschema.Draft202012Validator(version.output_schema).validate(outcome.output)


def test_smiles_input_schema_bounds() -> None:
    validator = jsonschema.Draft202012Validator(BUILTIN_MODELS[0].versions[0].input_schema)
    assert not validator.is_valid({"smiles": ""})
    assert not validator.is_valid({"smiles": "C" * 2001})
    assert not validator.is_valid({})
    assert validator.is_valid({"smiles": "CCO"})
