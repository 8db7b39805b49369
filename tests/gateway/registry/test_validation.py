"""Validation of names, versions, tags and schemas, with no servers."""

from __future__ import annotations

import pytest

from gateway import paging
from gateway.errors import InvalidArgument
from gateway.registry import validation


@pytest.mark.parametrize(
    "name", ["a", "rdkit.logp", "demo.sleep", "hepatocyte-clearance", "a1.b2-c3", "x" * 63]
)
def test_good_model_names(name: str) -> None:
    assert validation.model_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "a_b", "-a", "a-", "a..b", ".a", "a.", "x" * 64, "a b", "é"]
)
def test_bad_model_names(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validation.model_name(name)


def test_long_name_within_total_limit() -> None:
    name = ".".join(["x" * 60] * 2)
    assert validation.model_name(name) == name
    with pytest.raises(InvalidArgument, match="1 to 128"):
        validation.model_name(".".join(["x" * 60] * 3))


@pytest.mark.parametrize("version", ["1", "1.0.0", "2024-06-rc1", "1.0.0+build.5", "v2_beta"])
def test_good_versions(version: str) -> None:
    assert validation.version_string(version) == version


@pytest.mark.parametrize("version", ["", ".1", "1 0", "1/0", "x" * 65])
def test_bad_versions(version: str) -> None:
    with pytest.raises(InvalidArgument):
        validation.version_string(version)


def test_tags_are_deduplicated_and_limited() -> None:
    assert validation.tags(["a", "b", "a"]) == ["a", "b"]
    with pytest.raises(InvalidArgument, match="at most 32"):
        validation.tags([f"t{i}" for i in range(33)])
    with pytest.raises(InvalidArgument, match="not valid"):
        validation.tags(["has space"])


def test_schema_checks() -> None:
    assert validation.json_schema(None, "s") == {"type": "object"}
    good = {"type": "object", "properties": {"smiles": {"type": "string", "maxLength": 1000.0}}}
    assert validation.json_schema(good, "s") == good
    with pytest.raises(InvalidArgument, match="at properties/smiles/type"):
        validation.json_schema({"properties": {"smiles": {"type": "text"}}}, "input_schema")
    with pytest.raises(InvalidArgument, match="limit"):
        validation.json_schema({"description": "x" * 300_000}, "input_schema")


def test_page_tokens_round_trip_and_reject_garbage() -> None:
    token = paging.encode("models", "abc")
    assert paging.decode("models", token, "") == "abc"
    assert paging.decode("models", "", "") == ""
    for bad in ("garbage", paging.encode("versions", 3), paging.encode("models", 5)):
        with pytest.raises(InvalidArgument, match="page_token"):
            paging.decode("models", bad, "")
