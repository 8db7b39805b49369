"""Checking input records against a version's input schema, fast for the simple
schemas most models have.

jsonschema is the authority: it decides every refusal and writes its message.
But it takes about 25 µs a record for a one-property schema, which at
thousands of records a second is a good part of a core. So a schema made only
of keywords whose meaning is the same in fastjsonschema (which compiles the
schema to Python code, about 1.4 µs a record) is also compiled by it: a record
fastjsonschema accepts is accepted, and any other record goes to jsonschema,
which gives the verdict. The fast path may refuse more than jsonschema (then
jsonschema accepts), never less, within the keywords allowed here; a property
test holds the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema
import jsonschema

# Keywords with the same meaning in draft 2020-12 (jsonschema) and in
# fastjsonschema's draft 7, for the values checked below. Left out on purpose:
# format (fastjsonschema enforces it, jsonschema by default does not), enum and
# const of non-strings and uniqueItems (Python's True == 1, which JSON Schema
# tells apart), items as a list (a tuple in draft 7, prefixItems in 2020-12),
# and every keyword that combines or refers to schemas.
_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
_NUMBERS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
_SIZES = {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
_SIMPLE = _ANNOTATIONS | _NUMBERS | _SIZES | {"type", "required", "pattern"}

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _simple(schema: Any) -> bool:
    """Whether every keyword of the schema (and of its subschemas) is one the fast
    path reads as jsonschema does."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        return False
    return all(
        keyword in _SIMPLE or _SUBSCHEMAS.get(keyword, _never)(value)
        for keyword, value in schema.items()
    )


def _never(value: Any) -> bool:
    return False


_SUBSCHEMAS: dict[str, Callable[[Any], bool]] = {
    "properties": lambda v: isinstance(v, Mapping) and all(map(_simple, v.values())),
    # A schema, not a list (a tuple in draft 7).
    "additionalProperties": _simple,
    "items": _simple,
    "enum": lambda v: isinstance(v, list) and all(isinstance(e, str) for e in v),
    "const": lambda v: isinstance(v, str),
}


def _fast(schema: Any) -> Callable[[Any], Any] | None:
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12 or not _simple(schema):
        return None
    plain = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    try:
        return fastjsonschema.compile(
            plain, use_default=False, use_formats=False, detailed_exceptions=False
        )
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


class RecordCheck:
    """One version's input schema, compiled once for every submission of it."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
        self._validator = cls(schema)
        self._fast = _fast(schema) if isinstance(schema, dict) else None

    @property
    def fast(self) -> bool:
        """Whether records are checked by the compiled fast path first."""
        return self._fast is not None

    def error(self, record: Any) -> jsonschema.ValidationError | None:
        """The most relevant error of the record (jsonschema's best match), or None."""
        if self._fast is not None:
            try:
                self._fast(record)
                return None
            except fastjsonschema.JsonSchemaValueException:
                pass
        error: jsonschema.ValidationError | None = jsonschema.exceptions.best_match(
            self._validator.iter_errors(record)
        )
        return error
