"""The model catalog file: it loads, its consensus models are stored as the registry
stores them, and a broken entry is reported by its place. No servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backendspec import BackendPolicy
from consensus.definition import ConsensusDefinition
from gateway.admin.catalog import load, worker_models
from gateway.config import DEFAULT_CATALOG
from gateway.errors import FailedPrecondition
from gateway.registry.consensus import output_schema
from gateway.registry.validation import ANY_OBJECT_SCHEMA


def test_the_repository_catalog_loads_within_the_default_allow_list() -> None:
    listed = yaml.safe_load(DEFAULT_CATALOG.read_text())["models"]
    models = load(DEFAULT_CATALOG, BackendPolicy())
    assert [m.name for m in models] == [m["name"] for m in listed]
    assert all(m.public and m.versions for m in models), "built-in models are public"


def test_consensus_models_are_stored_as_the_registry_stores_them() -> None:
    consensus = [m for m in load(DEFAULT_CATALOG, None) if m.name not in worker_models()]
    assert [m.name for m in consensus] == ["demo.paper-consensus", "demo.drug-likeness"]
    for model in consensus:
        (version,) = model.versions
        assert version.backend_kind == "consensus"
        definition = ConsensusDefinition.from_config(version.backend_config)
        assert definition.to_config() == version.backend_config, model.name
        assert version.output_schema == output_schema(definition), model.name
        assert version.input_schema == ANY_OBJECT_SCHEMA


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Bad Name"}, "models[0]: name 'Bad Name' is not a valid model name"),
        ({"name": "a.b", "visibility": "secret"}, "visibility 'secret'"),
        ({"name": "a.b", "versions": [{"version": "1", "backend": {"kind": "cobol"}}]}, "unknown"),
        ({"name": "a.b", "default_version": "9", "versions": []}, "default_version '9'"),
        (
            {"name": "a.b", "versions": [
                {"version": "1", "backend": {"kind": "python", "config": {"callable": "os:system"}}}
            ]},
            "module 'os' is outside MODELGW_ALLOWED_CALLABLES (workers.builtin)",
        ),
    ],
)
def test_a_broken_entry_is_named(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    with pytest.raises(FailedPrecondition) as failure:
        load(path, BackendPolicy())
    assert message in failure.value.message


ECHO = {"kind": "python", "config": {"callable": "workers.builtin.demo:echo"}}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("rdkit.logp", "models[0]: the entry must be a mapping, not str"),
        ({"name": "a.b", "tags": "chemistry"}, "tags must be a list, not str"),
        ({"name": "a.b", "versions": [{"version": "1", "backend": ["python"]}]}, "backend must be a mapping"),
        ({"name": "a.b", "versions": [{"version": "1", "backend": ECHO, "input_schema": [1]}]}, "input_schema must"),
    ],
)
def test_an_entry_of_the_wrong_shape_is_named(tmp_path: Path, entry: object, message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    with pytest.raises(FailedPrecondition) as failure:
        load(path, None)
    assert message in failure.value.message
