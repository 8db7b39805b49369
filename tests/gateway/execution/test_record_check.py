"""The fast path of record checks never accepts a record jsonschema refuses,
and refusals always carry jsonschema's own message."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gateway.execution.record_check import RecordCheck

MOLECULE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"smiles": {"type": "string", "minLength": 1, "maxLength": 20}},
    "required": ["smiles"],
    "additionalProperties": False,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False)
    | st.sampled_from([0.0, 1.0, 2.5]) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip

leaf_schemas = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["string", "number", "integer", "boolean", "object", "array", "null"])
        | st.lists(st.sampled_from(["string", "integer", "null", "boolean"]), min_size=1, max_size=2, unique=True),
        "minimum": st.integers(-3, 3),
        "maximum": st.integers(-3, 3),
        "exclusiveMinimum": st.integers(-3, 3),
        "multipleOf": st.sampled_from([1, 2, 0.5]),
        "minLength": st.integers(0, 3),
        "maxLength": st.integers(0, 3),
        "pattern": st.sampled_from(["^a", "b$", "[0-9]", "^\\w+$"]),
        "enum": st.lists(st.text(max_size=2), min_size=1, max_size=3),
        "minItems": st.integers(0, 2),
        "maxItems": st.integers(0, 2),
    },
)  # fmt: skip

schemas = st.recursive(
    leaf_schemas,
    lambda inner: st.fixed_dictionaries(
        {"type": st.just("object"), "properties": st.dictionaries(st.sampled_from("abc"), inner, max_size=3)},
        optional={
            "required": st.lists(st.sampled_from("abc"), max_size=3, unique=True),
            "additionalProperties": st.booleans() | inner,
        },
    ) | st.fixed_dictionaries({"type": st.just("array"), "items": inner}),
    max_leaves=4,
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(schemas, json_values)
def test_the_fast_path_accepts_only_what_jsonschema_accepts(schema: dict[str, Any], value: Any) -> None:
    check = RecordCheck(schema)
    event(f"fast path: {check.fast}")
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (check.error(value) is None) == valid


def test_refusals_carry_jsonschema_s_message() -> None:
    check = RecordCheck(MOLECULE)
    assert check.fast and check.error({"smiles": "CCO"}) is None
    error = check.error({"smiles": ""})
    assert error is not None and list(error.absolute_path) == ["smiles"]
    assert "should be non-empty" in error.message or "too short" in error.message
    assert check.error({"smiles": "C", "x": 1}) is not None


def test_schemas_beyond_the_simple_keywords_use_jsonschema_alone() -> None:
    for schema in (
        {"type": "object", "properties": {"n": {"enum": [1, 2]}}},
        {"type": "string", "format": "email"},
        {"type": "array", "prefixItems": [{"type": "integer"}]},
        {"type": "array", "uniqueItems": True},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"},
        {"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
    ):
        check = RecordCheck(schema)
        assert not check.fast, schema
    assert RecordCheck({"type": "object", "properties": {"n": {"enum": [1]}}}).error({"n": True}) is not None
