"""/openapi.json and Swagger UI at /docs, served by Envoy with no token."""

from __future__ import annotations

import json
import urllib.request

from openapi_spec_validator import validate

from .conftest import Edge


def _get(edge: Edge, path: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(edge.url + path, timeout=10) as reply:
        assert reply.status == 200
        return reply.headers["content-type"], reply.read()


def test_openapi_json_is_served_and_valid(edge: Edge) -> None:
    content_type, body = _get(edge, "/openapi.json")
    assert content_type == "application/json"
    document = json.loads(body)
    validate(document)
    assert "/v1/models/{name}:setDefaultVersion" in document["paths"]


def test_docs_page_loads_swagger_ui_offline(edge: Edge) -> None:
    for path in ("/docs", "/docs/"):
        content_type, page = _get(edge, path)
        assert content_type.startswith("text/html")
        assert b'url: "/openapi.json"' in page
        assert b"persistAuthorization: true" in page
    content_type, script = _get(edge, "/docs/swagger-ui-bundle.js")
    assert content_type.startswith("application/javascript")
    assert len(script) > 1_000_000
    assert b"SwaggerUIBundle" in script
    content_type, _ = _get(edge, "/docs/swagger-ui.css")
    assert content_type.startswith("text/css")
