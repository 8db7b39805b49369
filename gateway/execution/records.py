"""Input records: protobuf Structs to plain JSON values.

JSON has one number type, and protobuf's Struct stores every number as a
double, so 2 arrives as 2.0. Integral numbers are turned back into ints here,
so that a model receives {"n": 2} when a client sent {"n": 2}.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

_MAX_EXACT = 2**53


def record(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A record as plain JSON values (whole numbers as int)."""
    return {key: _value(value) for key, value in struct.fields.items()}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) < _MAX_EXACT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return record(value.struct_value)
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    return None
