"""An example input drawn from a model's JSON Schema: what an agent copies to try a model.

The schema is the owner's, so it may be anything: deep, huge, self-contradictory.
The walk is bounded in depth and breadth and never fails; what it cannot make
sense of becomes null.
"""

from __future__ import annotations

from typing import Any

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
"""A SMILES every chemistry model can read."""
MAX_DEPTH = 6
MAX_PROPERTIES = 32
_MOLECULE_FIELDS = ("smiles", "molecule", "mol", "structure")
_STRING_EXAMPLES = {"sequence": "MKTAYIAKQR", "inchi": "InChI=1S/CH4/h1H4", "name": "caffeine"}


def example_input(schema: Any) -> Any:
    """A value that fits `schema` in the common cases (types, required fields, bounds)."""
    return _example(schema, "", 0)


def _example(schema: Any, field: str, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    for key in ("examples", "enum"):
        values = schema.get(key)
        if isinstance(values, list) and values:
            return values[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _example(options[0], field, depth + 1)
    return _typed(schema, _first_type(schema), field, depth)


def _first_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _typed(schema: dict[str, Any], kind: str, field: str, depth: int) -> Any:
    if kind == "object":
        return _object(schema, depth)
    if kind == "array":
        return _array(schema, field, depth)
    if kind in ("number", "integer"):
        return _number(schema, kind)
    if kind == "boolean":
        return True
    if kind == "string":
        return _string(schema, field)
    return None


def _object(schema: dict[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    required = schema.get("required")
    names = [n for n in required if n in properties] if isinstance(required, list) else []
    names = names or list(properties)
    return {
        str(name): _example(properties[name], str(name), depth + 1)
        for name in names[:MAX_PROPERTIES]
    }


def _array(schema: dict[str, Any], field: str, depth: int) -> list[Any]:
    count = schema.get("minItems")
    count = min(count, 3) if isinstance(count, int) and count > 0 else 1
    return [_example(schema.get("items"), field, depth + 1) for _ in range(count)]


def _number(schema: dict[str, Any], kind: str) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1.0
    if isinstance(low, int | float) and not isinstance(low, bool):
        value = low + 1 if "exclusiveMinimum" in schema else low
    elif isinstance(high, int | float) and not isinstance(high, bool):
        value = min(1.0, high - 1)
    return int(value) if kind == "integer" else float(value)


def _string(schema: dict[str, Any], field: str) -> str:
    name = field.lower()
    if any(word in name for word in _MOLECULE_FIELDS):
        return CAFFEINE
    text = next((v for k, v in _STRING_EXAMPLES.items() if k in name), "text")
    low = schema.get("minLength")
    if isinstance(low, int) and 0 < low <= 1000 and len(text) < low:
        text = text.ljust(low, "x")
    high = schema.get("maxLength")
    if isinstance(high, int) and 0 <= high < len(text):
        text = text[:high]
    return text
