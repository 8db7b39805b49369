"""`modelgw envoy-config` renders a bootstrap that Envoy itself accepts. No servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.config import ConfigError
from gateway.edge.config import EdgeConfig
from gateway.edge.descriptors import load_descriptor_set
from gateway.edge.envoy_config import envoy_argv


def _render(home: Path, **env: str) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "envoy-config"],
        env={**os.environ, "MODELGW_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def test_rendered_config_passes_envoy_validate(tmp_path: Path) -> None:
    bootstrap = _render(tmp_path)
    assert bootstrap == tmp_path / "envoy" / "envoy.yaml"
    checked = subprocess.run(
        envoy_argv(bootstrap, "--mode", "validate"), capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert "OK" in checked.stdout


def test_settings_reach_the_listener_and_clusters(tmp_path: Path) -> None:
    bootstrap = _render(
        tmp_path,
        MODELGW_ENVOY_PORT="18080",
        MODELGW_REGISTRY_PORT="15051",
        MODELGW_HOST="0.0.0.0",
        MODELGW_MCP_PORT="15054",
    )
    config = yaml.safe_load(bootstrap.read_text())
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listener == {"address": "0.0.0.0", "port_value": 18080}
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert set(clusters) == {"registry", "execution", "admin", "mcp"}
    mcp = clusters["mcp"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert mcp["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 15054}
    endpoint = clusters["registry"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    # A wildcard bind address is not one Envoy can connect to.
    assert endpoint["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1",
        "port_value": 15051,
    }
    health = clusters["registry"]["health_checks"][0]["grpc_health_check"]
    assert health["service_name"] == "modelgateway.v1.RegistryService"


def test_watch_routes_have_no_timeout(tmp_path: Path) -> None:
    config = yaml.safe_load(_render(tmp_path).read_text())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    for method in ("/WatchJob", "/WatchJobs"):
        watch = next(r for r in routes if r["match"].get("path", "").endswith(method))
        assert watch["route"]["timeout"] == "0s"


def test_descriptor_set_has_imports_source_info_and_error_details(tmp_path: Path) -> None:
    _render(tmp_path)
    files = {f.name: f for f in load_descriptor_set(tmp_path / "envoy" / "api.pb").file}
    assert {"google/api/http.proto", "google/protobuf/struct.proto"} <= set(files)
    assert {"google/rpc/status.proto", "google/rpc/error_details.proto"} <= set(files)
    assert files["modelgateway/v1/registry.proto"].source_code_info.location


def test_a_bad_port_is_refused() -> None:
    with pytest.raises(ConfigError, match="MODELGW_ENVOY_PORT"):
        EdgeConfig.from_env({"MODELGW_ENVOY_PORT": "eighty"})


def test_mcp_routes_skip_the_transcoder_and_have_no_timeout(tmp_path: Path) -> None:
    config = yaml.safe_load(_render(tmp_path).read_text())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    mcp = [r for r in routes if r.get("route", {}).get("cluster") == "mcp"]
    assert [r["match"] for r in mcp] == [
        {"path": "/mcp"},
        {"prefix": "/.well-known/oauth-protected-resource"},
    ]
    for route in mcp:
        assert route["route"]["timeout"] == "0s"
        filters = route["typed_per_filter_config"]
        assert filters["envoy.filters.http.grpc_json_transcoder"]["disabled"] is True
