"""The OpenAPI 3 document of the REST API, generated from the descriptor set.

Paths and methods come from the google.api.http rules, schemas from the message
types (one $ref'd component per message and enum), descriptions from the proto
comments. JSON names are the proto field names, as Envoy prints them
(`preserve_proto_field_names`); 64-bit integers are strings, enums their names,
and the well-known types their JSON mappings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

Schema = dict[str, Any]
Field = descriptor_pb2.FieldDescriptorProto

STATUS = "google.rpc.Status"
_HTTP_METHODS = ("get", "put", "post", "delete", "patch")
_PATH_PARAM = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")

_INT64 = {"type": "string", "format": "int64"}
_SCALARS: dict[int, Schema] = {
    Field.TYPE_STRING: {"type": "string"},
    Field.TYPE_BYTES: {"type": "string", "format": "byte"},
    Field.TYPE_BOOL: {"type": "boolean"},
    Field.TYPE_DOUBLE: {"type": "number", "format": "double"},
    Field.TYPE_FLOAT: {"type": "number", "format": "float"},
    Field.TYPE_INT32: {"type": "integer", "format": "int32"},
    Field.TYPE_SINT32: {"type": "integer", "format": "int32"},
    Field.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    Field.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    Field.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    Field.TYPE_INT64: _INT64,
    Field.TYPE_SINT64: _INT64,
    Field.TYPE_SFIXED64: _INT64,
    Field.TYPE_UINT64: _INT64,
    Field.TYPE_FIXED64: _INT64,
}
# The JSON mapping of the well-known types, inlined instead of $ref'd.
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "1.5s"},
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Field paths separated by commas, for example `description,tags`.",
    },
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
    "google.protobuf.StringValue": {"type": "string", "nullable": True},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte", "nullable": True},
    "google.protobuf.BoolValue": {"type": "boolean", "nullable": True},
    "google.protobuf.DoubleValue": {"type": "number", "nullable": True},
    "google.protobuf.FloatValue": {"type": "number", "nullable": True},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32", "nullable": True},
    "google.protobuf.UInt32Value": {"type": "integer", "minimum": 0, "nullable": True},
    "google.protobuf.Int64Value": {**_INT64, "nullable": True},
    "google.protobuf.UInt64Value": {**_INT64, "nullable": True},
}


# google.rpc.Status as JSON, for descriptor sets that lack status.proto.
_STATUS_FALLBACK: Schema = {
    "type": "object",
    "description": "An error: the gRPC status code, a message and details.",
    "properties": {
        "code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
    },
}


def _ref(full_name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{full_name}"}


def _clean(comment: str) -> str:
    return "\n".join(line.strip() for line in comment.strip().splitlines())


class _Index:
    """Messages, enums and comments of a descriptor set, by full name (no leading dot)."""

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        self.comments: dict[tuple[str, ...], str] = {}
        for file in files:
            self._add_file(file)

    def _add_file(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        comments = {
            tuple(location.path): _clean(location.leading_comments)
            for location in file.source_code_info.location
            if location.leading_comments.strip()
        }
        prefix = f"{file.package}." if file.package else ""
        for i, message in enumerate(file.message_type):
            self._add_message(prefix + message.name, message, (4, i), comments)
        for i, enum in enumerate(file.enum_type):
            self._add_enum(prefix + enum.name, enum, (5, i), comments)
        for i, service in enumerate(file.service):
            name = prefix + service.name
            self.services[name] = service
            self._note(name, comments.get((6, i)))
            for j, method in enumerate(service.method):
                self._note(f"{name}.{method.name}", comments.get((6, i, 2, j)))

    def _add_message(
        self,
        name: str,
        message: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        comments: dict[tuple[int, ...], str],
    ) -> None:
        self.messages[name] = message
        self._note(name, comments.get(path))
        for j, field in enumerate(message.field):
            self._note(f"{name}.{field.name}", comments.get((*path, 2, j)))
        for j, nested in enumerate(message.nested_type):
            self._add_message(f"{name}.{nested.name}", nested, (*path, 3, j), comments)
        for j, enum in enumerate(message.enum_type):
            self._add_enum(f"{name}.{enum.name}", enum, (*path, 4, j), comments)

    def _add_enum(
        self,
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
        comments: dict[tuple[int, ...], str],
    ) -> None:
        self.enums[name] = enum
        self._note(name, comments.get(path))
        for j, value in enumerate(enum.value):
            self._note(f"{name}.{value.name}", comments.get((*path, 2, j)))

    def _note(self, name: str, comment: str | None) -> None:
        if comment:
            self.comments[(name,)] = comment

    def comment(self, name: str) -> str:
        return self.comments.get((name,), "")


class _Schemas:
    """Builds components/schemas on demand, following every reachable type once."""

    def __init__(self, index: _Index) -> None:
        self.index = index
        self.components: dict[str, Schema] = {}

    def of_type(self, type_name: str) -> Schema:
        """The schema of a message or enum named like `.pkg.Name` or `pkg.Name`."""
        name = type_name.lstrip(".")
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        if name == STATUS and name not in self.index.messages:
            self.components[name] = _STATUS_FALLBACK
        if name not in self.components:
            self.components[name] = {}  # placeholder: stops recursion
            self.components[name] = (
                self._enum(name) if name in self.index.enums else self._message(name)
            )
        return _ref(name)

    def of_field(self, field: Field) -> Schema:
        if field.label == Field.LABEL_REPEATED:
            entry = self.index.messages.get(field.type_name.lstrip("."))
            if entry is not None and entry.options.map_entry:
                return {"type": "object", "additionalProperties": self.of_field(entry.field[1])}
            return {"type": "array", "items": self._single(field)}
        return self._single(field)

    def _single(self, field: Field) -> Schema:
        if field.type in (Field.TYPE_MESSAGE, Field.TYPE_ENUM):
            return self.of_type(field.type_name)
        return dict(_SCALARS[field.type])

    def _message(self, name: str) -> Schema:
        message = self.index.messages[name]
        schema: Schema = {"type": "object", "properties": self.properties(name, message.field)}
        if description := self.index.comment(name):
            schema["description"] = description
        return schema

    def properties(self, owner: str, fields: Iterable[Field]) -> dict[str, Schema]:
        return {field.name: self.described(owner, field) for field in fields}

    def described(self, owner: str, field: Field) -> Schema:
        schema = self.of_field(field)
        description = self.index.comment(f"{owner}.{field.name}")
        if not description:
            return schema
        if "$ref" in schema:  # siblings of $ref are ignored in OpenAPI 3.0
            return {"allOf": [schema], "description": description}
        return {**schema, "description": description}

    def _enum(self, name: str) -> Schema:
        enum = self.index.enums[name]
        lines = [self.index.comment(name)]
        lines += [f"- `{v.name}`: {self.index.comment(f'{name}.{v.name}')}" for v in enum.value]
        return {
            "type": "string",
            "enum": [value.name for value in enum.value],
            "description": "\n".join(line for line in lines if line),
        }


def http_rules(method: descriptor_pb2.MethodDescriptorProto) -> Iterator[http_pb2.HttpRule]:
    """The method's google.api.http rule and its additional bindings."""
    if not method.options.HasExtension(annotations_pb2.http):
        return
    rule = method.options.Extensions[annotations_pb2.http]
    yield rule
    yield from rule.additional_bindings


def _verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        return rule.custom.kind.lower(), rule.custom.path
    if kind not in _HTTP_METHODS:
        raise ValueError(f"http rule without a method: {rule}")
    return kind, str(getattr(rule, kind))


class _Operations:
    """Turns each http rule of a method into an OpenAPI operation."""

    def __init__(self, index: _Index, schemas: _Schemas) -> None:
        self.index = index
        self.schemas = schemas

    def operation(
        self, service: str, method: descriptor_pb2.MethodDescriptorProto, rule: http_pb2.HttpRule
    ) -> tuple[str, str, Schema]:
        verb, template = _verb_and_path(rule)
        request = method.input_type.lstrip(".")
        path_fields = _PATH_PARAM.findall(template)
        description = self.index.comment(f"{service}.{method.name}")
        operation: Schema = {
            "operationId": f"{service.rsplit('.', 1)[-1]}_{method.name}",
            "tags": [service.rsplit(".", 1)[-1]],
            "summary": description.split(". ", 1)[0].rstrip(".").replace("\n", " "),
            "description": description,
            "parameters": [self._path_param(request, f) for f in path_fields]
            + self._query_params(request, rule.body, path_fields),
            "responses": self._responses(method),
        }
        if rule.body:
            operation["requestBody"] = self._body(request, rule.body, path_fields)
        return _PATH_PARAM.sub(lambda m: f"{{{_param_name(m[1])}}}", template), verb, operation

    def _field(self, message: str, dotted: str) -> tuple[str, Field]:
        """The field a dotted path names, and the message that declares it."""
        owner, field = message, None
        for part in dotted.split("."):
            if field is not None:
                owner = field.type_name.lstrip(".")
            field = next(f for f in self.index.messages[owner].field if f.name == part)
        assert field is not None
        return owner, field

    def _path_param(self, request: str, dotted: str) -> Schema:
        owner, field = self._field(request, dotted)
        return {
            "name": _param_name(dotted),
            "in": "path",
            "required": True,
            "schema": self.schemas.of_field(field),
            "description": self.index.comment(f"{owner}.{field.name}"),
        }

    def _query_params(self, request: str, body: str, path_fields: Sequence[str]) -> list[Schema]:
        if body == "*":
            return []
        bound = {dotted.split(".")[0] for dotted in path_fields} | {body}
        params = []
        for field in self.index.messages[request].field:
            if field.name in bound or not _fits_query(field):
                continue
            params.append(
                {
                    "name": field.name,
                    "in": "query",
                    "schema": self.schemas.of_field(field),
                    "description": self.index.comment(f"{request}.{field.name}"),
                }
            )
        return params

    def _body(self, request: str, body: str, path_fields: Sequence[str]) -> Schema:
        if body == "*":
            bound = {dotted.split(".")[0] for dotted in path_fields}
            message = self.index.messages[request]
            fields = [f for f in message.field if f.name not in bound]
            schema: Schema = {
                "type": "object",
                "properties": self.schemas.properties(request, fields),
            }
        else:
            schema = self.schemas.of_field(self._field(request, body)[1])
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def _responses(self, method: descriptor_pb2.MethodDescriptorProto) -> Schema:
        reply = self.schemas.of_type(method.output_type)
        # Envoy labels a transcoded server stream application/json, but its
        # body is newline-delimited JSON: one message a line. Relabelling it
        # would need a filter that runs after the transcoder on the way out,
        # which Envoy's route-level header options are not.
        ok_text = (
            "A stream of messages as newline-delimited JSON: one JSON object a line."
            if method.server_streaming
            else "OK"
        )
        ok = {"description": ok_text, "content": {"application/json": {"schema": reply}}}
        error = {
            "description": "An error: the gRPC status code, a message and details.",
            "content": {"application/json": {"schema": self.schemas.of_type(STATUS)}},
        }
        return {"200": ok, "default": error}


def _param_name(dotted: str) -> str:
    """A path parameter's name in the document: `model.name` becomes `model_name`,
    since tools (schemathesis among them) read dots as nesting. Only the name in the
    document changes; the URL is the same."""
    return dotted.replace(".", "_")


def _fits_query(field: Field) -> bool:
    """Whether a field can travel in the query string: a scalar, an enum, a
    well-known type with a scalar JSON form, or a list of those."""
    if field.type != Field.TYPE_MESSAGE:
        return True
    schema = _WELL_KNOWN.get(field.type_name.lstrip("."), {})
    return schema.get("type") in {"string", "integer", "number", "boolean"}


def generate(
    files: Iterable[descriptor_pb2.FileDescriptorProto],
    services: Sequence[str],
    *,
    title: str = "Model Gateway API",
    version: str = "v1",
) -> Schema:
    """The OpenAPI 3.0 document of `services` (full names) in the descriptor set."""
    index = _Index(files)
    schemas = _Schemas(index)
    operations = _Operations(index, schemas)
    paths: dict[str, Schema] = {}
    for service in services:
        for method in index.services[service].method:
            for binding, rule in enumerate(http_rules(method)):
                path, verb, operation = operations.operation(service, method, rule)
                if binding:  # an additional binding: operation ids are unique
                    operation["operationId"] += f"_{verb}"
                paths.setdefault(path, {})[verb] = operation
    schemas.of_type(STATUS)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "tags": [{"name": s.rsplit(".", 1)[-1], "description": index.comment(s)} for s in services],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": dict(sorted(schemas.components.items())),
        },
    }
