"""The OpenAPI generator: unit tests on a tiny hand-built descriptor, then the
whole API's document checked by openapi-spec-validator. No servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from gateway.edge.config import SERVICE_HOSTS
from gateway.edge.descriptors import build_descriptor_set
from gateway.edge.openapi import generate

F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, type_name: str = "", *, repeated: bool = False) -> F:
    label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    return F(name=name, number=number, type=kind, type_name=type_name, label=label)


def _comment(file: descriptor_pb2.FileDescriptorProto, path: list[int], text: str) -> None:
    file.source_code_info.location.add(path=path, leading_comments=f" {text}\n")


def tiny_file() -> descriptor_pb2.FileDescriptorProto:
    """package t; a service with a GET and a POST rule, int64, an enum, a timestamp,
    a recursive message and a map."""
    file = descriptor_pb2.FileDescriptorProto(name="t.proto", package="t", syntax="proto3")
    node = file.message_type.add(name="Node")
    node.field.extend(
        [
            _field("id", 1, F.TYPE_INT64),
            _field("children", 2, F.TYPE_MESSAGE, ".t.Node", repeated=True),
            _field("color", 3, F.TYPE_ENUM, ".t.Color"),
            _field("seen", 4, F.TYPE_MESSAGE, ".google.protobuf.Timestamp"),
            _field("labels", 5, F.TYPE_MESSAGE, ".t.Node.LabelsEntry", repeated=True),
        ]
    )
    entry = node.nested_type.add(name="LabelsEntry")
    entry.field.extend([_field("key", 1, F.TYPE_STRING), _field("value", 2, F.TYPE_STRING)])
    entry.options.map_entry = True
    get = file.message_type.add(name="GetNodeRequest")
    get.field.extend([_field("id", 1, F.TYPE_INT64), _field("depth", 2, F.TYPE_INT32)])
    enum = file.enum_type.add(name="Color")
    enum.value.add(name="COLOR_UNSPECIFIED", number=0)
    enum.value.add(name="COLOR_RED", number=1)
    service = file.service.add(name="Tree")
    method = service.method.add(
        name="GetNode", input_type=".t.GetNodeRequest", output_type=".t.Node"
    )
    method.options.Extensions[annotations_pb2.http].get = "/v1/nodes/{id}"
    post = service.method.add(name="PutNode", input_type=".t.Node", output_type=".t.Node")
    post.options.Extensions[annotations_pb2.http].post = "/v1/nodes"
    post.options.Extensions[annotations_pb2.http].body = "*"
    _comment(file, [4, 0], "A node of a tree.")
    _comment(file, [4, 0, 2, 0], "The node's id.")
    _comment(file, [6, 0, 2, 0], "Returns a node. Needs a token.")
    _comment(file, [5, 0, 2, 1], "Red.")
    return file


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    return generate([tiny_file()], ["t.Tree"], title="Tiny")


def test_the_tiny_document_is_valid_openapi(tiny: dict[str, Any]) -> None:
    validate(tiny)
    assert tiny["openapi"].startswith("3.")


def test_paths_and_params_follow_the_http_rules(tiny: dict[str, Any]) -> None:
    get = tiny["paths"]["/v1/nodes/{id}"]["get"]
    assert get["operationId"] == "Tree_GetNode"
    assert get["summary"] == "Returns a node"
    params = {(p["in"], p["name"]): p["schema"] for p in get["parameters"]}
    assert params == {
        ("path", "id"): {"type": "string", "format": "int64"},
        ("query", "depth"): {"type": "integer", "format": "int32"},
    }
    assert "requestBody" not in get
    post = tiny["paths"]["/v1/nodes"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"id", "children", "color", "seen", "labels"}


def test_schemas_map_the_proto_types(tiny: dict[str, Any]) -> None:
    schemas = tiny["components"]["schemas"]
    node = schemas["t.Node"]
    assert node["description"] == "A node of a tree."
    props = node["properties"]
    assert props["id"] == {"type": "string", "format": "int64", "description": "The node's id."}
    assert props["children"] == {"type": "array", "items": {"$ref": "#/components/schemas/t.Node"}}
    assert props["color"] == {"$ref": "#/components/schemas/t.Color"}
    assert props["seen"] == {"type": "string", "format": "date-time"}
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert schemas["t.Color"]["enum"] == ["COLOR_UNSPECIFIED", "COLOR_RED"]
    assert "`COLOR_RED`: Red." in schemas["t.Color"]["description"]


def test_bearer_auth_applies_to_every_operation(tiny: dict[str, Any]) -> None:
    assert tiny["security"] == [{"bearerAuth": []}]
    scheme = tiny["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_the_api_document_is_valid_and_complete(tmp_path: Path) -> None:
    descriptors = build_descriptor_set(tmp_path / "api.pb")
    document = generate(descriptors.file, list(SERVICE_HOSTS))
    validate(document)
    operations = {(verb.upper(), path) for path, item in document["paths"].items() for verb in item}
    assert {
        ("POST", "/v1/models"),
        ("GET", "/v1/models/{name}"),
        ("PATCH", "/v1/models/{model_name}"),
        ("POST", "/v1/models/{name}:setDefaultVersion"),
        ("GET", "/v1/models/{name}/history"),
        ("GET", "/v1/models/{model}/versions/{version}"),
        ("DELETE", "/v1/models/{name}"),
        ("POST", "/v1/jobs"),
        ("POST", "/v1/jobs:batchSubmit"),
        ("GET", "/v1/jobs/{id}:watch"),
        ("GET", "/v1/jobs:watch"),
        ("POST", "/v1/jobs:watch"),
        ("POST", "/v1/models/{model}/rollouts"),
        ("GET", "/v1/models/{model}/rollouts"),
        ("GET", "/v1/models/{model}/rollout"),
        ("POST", "/v1/models/{model}/rollout:promote"),
        ("POST", "/v1/models/{model}/rollout:rollBack"),
    } <= operations
    watch = document["paths"]["/v1/jobs/{id}:watch"]["get"]["responses"]["200"]
    assert "newline-delimited JSON" in watch["description"]
    many = document["paths"]["/v1/jobs:watch"]
    assert [p["name"] for p in many["get"]["parameters"]] == ["ids"]
    assert many["get"]["parameters"][0]["schema"]["type"] == "array"
    assert many["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operation ids are unique"
    status = document["components"]["schemas"]["google.rpc.Status"]["properties"]
    assert set(status) == {"code", "message", "details"}
    model = document["components"]["schemas"]["modelgateway.v1.Model"]
    assert "lowercase DNS-style labels" in model["properties"]["name"]["description"]
