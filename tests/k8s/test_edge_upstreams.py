"""The edge pod's start-up, replayed on this machine: the render init container,
the upstreams init container (k8s/edge/upstreams.py), then Envoy's own validation
of the result with the envoy container's arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.config import SERVICE_PORTS
from gateway.edge.envoy_config import envoy_binary
from mcpserver.config import MCPConfig
from tests.k8s._manifests import K8S, containers, environment, named, option

SCRIPT = K8S / "edge" / "upstreams.py"


def _containers() -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    render, upstreams, envoy = containers(named("Deployment", "edge"))
    return render, upstreams, envoy


def _mcp_environment() -> dict[str, str]:
    (container,) = containers(named("Deployment", "mcp"))
    return environment(container)


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edge's bootstrap as the two init containers leave it, under a temporary home."""
    home = tmp_path_factory.mktemp("edge-home")
    render, upstreams, _ = _containers()
    env = {**environment(render), "MODELGW_HOME": str(home)}
    rendered = _run([sys.executable, "-m", "cli", *render["command"][1:]], env)
    assert rendered.returncode == 0, rendered.stderr
    path = Path(rendered.stdout.strip())
    assert path == home / "envoy" / "envoy.yaml"
    # The init container runs the mounted copy of k8s/edge/upstreams.py on the same file.
    python, script, target = upstreams["command"]
    assert python == "python"
    mount = next(m for m in upstreams["volumeMounts"] if m["name"] == "edge-scripts")
    assert script == f"{mount['mountPath']}/{SCRIPT.name}"
    assert target == option(_containers()[2]["command"], "-c")
    pod_env = {**environment(upstreams), "POD_NAMESPACE": "modelgw"}
    rewritten = _run([sys.executable, str(SCRIPT), str(path)], pod_env)
    assert rewritten.returncode == 0, rewritten.stderr
    return path


def test_clusters_resolve_the_headless_services(bootstrap: Path) -> None:
    config = yaml.safe_load(bootstrap.read_text(encoding="utf-8"))
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    ports = {**SERVICE_PORTS, "mcp": MCPConfig.from_env(_mcp_environment()).port}
    assert set(clusters) == set(ports)
    for name, cluster in clusters.items():
        assert cluster["type"] == "STRICT_DNS"
        (group,) = cluster["load_assignment"]["endpoints"]
        (endpoint,) = group["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        service = named("Service", f"{name}-pods").obj
        assert service["spec"]["clusterIP"] == "None"
        assert address == {
            "address": f"{name}-pods.modelgw.svc.cluster.local",
            "port_value": ports[name],
        }
        # The gRPC servers are health-checked by Envoy; the MCP server (HTTP) is
        # in the headless Service only while its readiness probe passes.
        if name != "mcp":
            assert cluster["health_checks"][0]["grpc_health_check"]["service_name"]


def test_envoy_accepts_the_rewritten_bootstrap_with_the_pod_s_arguments(bootstrap: Path) -> None:
    _, _, envoy = _containers()
    args = envoy["command"][1:]
    args[args.index("-c") + 1] = str(bootstrap)
    checked = subprocess.run(
        [str(envoy_binary()), *args, "--mode", "validate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert "OK" in checked.stdout


def test_listener_binds_every_interface_of_the_pod(bootstrap: Path) -> None:
    config = yaml.safe_load(bootstrap.read_text(encoding="utf-8"))
    address = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert address["address"] == "0.0.0.0"
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_upstreams_refuses_to_run_without_the_namespace(tmp_path: Path) -> None:
    target = tmp_path / "envoy.yaml"
    target.write_text("static_resources: {clusters: []}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "POD_NAMESPACE"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "POD_NAMESPACE" in result.stderr


def test_upstreams_fills_the_downward_api_namespace() -> None:
    _, upstreams, _ = _containers()
    (var,) = [v for v in upstreams["env"] if v["name"] == "POD_NAMESPACE"]
    assert var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
