"""The manifests say what the code does: ports, commands, settings, queue names,
grace periods. Each check reads the value from the code, never a copy of it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cli.main import _parser
from gateway.admin.catalog import load, worker_models
from gateway.config import DEFAULT_CATALOG, METRICS_PORTS, SERVICE_PORTS, GatewayConfig
from gateway.edge.config import EdgeConfig
from gateway.server import SERVICES
from mcpserver.config import MCP_PATH, MCPConfig
from scheduler import keys
from scheduler.connection import RedisSettings
from tests.k8s._manifests import (
    all_containers,
    containers,
    environment,
    named,
    of_kind,
    option,
    pod_spec,
    prestop_sleep_seconds,
)
from workers.settings import MODELS_ENV

BUILTIN_MODELS = load(DEFAULT_CATALOG, None)

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("gateway", "scheduler", "workers", "authz", "audit", "settings", "mcpserver")
# The backend allow-list's settings and their defaults. Their reader (workers/backends
# and the registry's backend check) is not part of this tree, so the names are listed
# here for test_config_map_keys_are_settings_the_code_reads; with that code present
# the list adds nothing to what the sources already name.
BACKEND_ALLOW_LIST = {"MODELGW_ALLOWED_CALLABLES": "workers.builtin", "MODELGW_ALLOWED_COMMANDS": ""}


def _worker_deployments() -> list[str]:
    return [d.name for d in of_kind("Deployment") if d.name.startswith("worker-")]


def _worker_command(deployment: str) -> list[str]:
    (container,) = containers(named("Deployment", deployment))
    command: list[str] = container["command"]
    return command


def _models(deployment: str) -> list[str]:
    """The models its workers serve: --models, else MODELGW_WORKER_MODELS (a worker per
    version names `model@version` there: k8s/versions/)."""
    command = _worker_command(deployment)
    if "--models" in command:
        listed = option(command, "--models")
    else:
        listed = environment(containers(named("Deployment", deployment))[0])[MODELS_ENV]
    return [m.partition("@")[0] for m in listed.split(",") if m]


# -- servers -------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_server_runs_its_service_on_the_code_s_port(service: str) -> None:
    deployment = named("Deployment", service)
    (container,) = containers(deployment)
    port = SERVICE_PORTS[service]
    assert container["command"] == ["modelgw", "serve", service]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": port, "metrics": METRICS_PORTS[service]}
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": port}, probe
    # Readiness asks for the service by name: NOT_SERVING while its stores are down.
    full_name, _ = SERVICES[service]
    assert container["readinessProbe"]["grpc"] == {"port": port, "service": full_name}
    for name in (service, f"{service}-pods"):
        assert [p["port"] for p in named("Service", name).obj["spec"]["ports"]] == [port]
    assert named("Service", f"{service}-pods").obj["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_server_gets_the_settings_the_code_reads(service: str) -> None:
    (container,) = containers(named("Deployment", service))
    config = GatewayConfig.from_env(environment(container))
    assert config.host == "0.0.0.0"
    assert config.address(service) == f"0.0.0.0:{SERVICE_PORTS[service]}"
    assert config.auth.jwks_url, "pods must share one token verifier: set the JWKS URL"
    assert config.database_url.startswith("postgresql://")
    # gateway/server.py: the execution and admin mounts connect to Redis.
    if service in ("execution", "admin"):
        assert config.redis.cluster, f"{service} needs MODELGW_REDIS_URL"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_server_termination_outlasts_prestop_and_shutdown_grace(service: str) -> None:
    deployment = named("Deployment", service)
    (container,) = containers(deployment)
    grace = GatewayConfig.from_env(environment(container)).shutdown_grace_s
    sleep = prestop_sleep_seconds(container)
    assert sleep > 0, "endpoints need time to drain before SIGTERM"
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > sleep + grace


# -- the MCP server ----------------------------------------------------------------

# Where the SDK serves the RFC 9728 metadata: answered without a token.
MCP_METADATA_PATH = f"/.well-known/oauth-protected-resource{MCP_PATH}"


def _mcp() -> tuple[dict, MCPConfig]:  # type: ignore[type-arg]
    (container,) = containers(named("Deployment", "mcp"))
    return container, MCPConfig.from_env(environment(container))


def test_mcp_server_listens_where_the_edge_routes_and_the_probes_look() -> None:
    container, config = _mcp()
    assert container["command"] == ["modelgw", "mcp"]
    assert config.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": config.port}
    render = containers(named("Deployment", "edge"))[0]
    assert EdgeConfig.from_env(environment(render)).mcp_port == config.port
    service = named("Service", "mcp-pods").obj["spec"]
    assert service["clusterIP"] == "None"
    assert [p["port"] for p in service["ports"]] == [config.port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"port": "http", "path": MCP_METADATA_PATH}, probe


def test_mcp_probe_path_answers_without_a_token_whatever_the_host(tmp_path: Path) -> None:
    """The kubelet's httpGet sends Host: <pod IP>:<port> and no token."""
    from starlette.testclient import TestClient

    from mcpserver.caller import Callers
    from mcpserver.server import _transport_security, build_server
    from modelgw import AsyncClient

    container, _ = _mcp()
    config = MCPConfig.from_env({**environment(container), "MODELGW_HOME": str(tmp_path)})

    async def app() -> object:
        # The metadata never calls the gateway: the client is built, not used.
        async with AsyncClient(config.target) as client:
            return build_server(Callers(client), config).streamable_http_app(
                streamable_http_path=MCP_PATH,
                stateless_http=True,
                transport_security=_transport_security(config),
                host=config.host,
            )

    with TestClient(asyncio.run(app()), base_url=f"http://10.0.0.7:{config.port}") as client:  # type: ignore[arg-type]
        reply = client.get(container["readinessProbe"]["httpGet"]["path"])
    assert reply.status_code == 200, reply.text
    assert reply.json()["resource"] == config.public_url


def test_mcp_server_calls_the_gateway_through_the_edge_service() -> None:
    _, config = _mcp()
    host, _, port = config.target.rpartition(":")
    edge = named("Service", host).obj["spec"]
    render = containers(named("Deployment", "edge"))[0]
    assert [p["port"] for p in edge["ports"]] == [int(port)]
    assert int(port) == EdgeConfig.from_env(environment(render)).port


def test_mcp_server_verifies_tokens_as_the_servers_do() -> None:
    _, config = _mcp()
    (registry,) = containers(named("Deployment", "registry"))
    assert config.auth == GatewayConfig.from_env(environment(registry)).auth
    assert config.auth.jwks_url, "pods must share one token verifier: set the JWKS URL"
    # The metadata names the identity provider that issues the tokens.
    assert config.issuer_url == config.auth.issuer


def test_mcp_server_names_its_public_url_and_accepts_its_host() -> None:
    _, config = _mcp()
    url = urlsplit(config.public_url)
    assert url.scheme == "https" and url.path == MCP_PATH
    assert url.netloc in config.allowed_hosts
    assert "*" not in config.allowed_hosts


def test_mcp_server_termination_outlasts_prestop() -> None:
    container, _ = _mcp()
    sleep = prestop_sleep_seconds(container)
    assert sleep > 0, "the endpoint needs time to leave Envoy's DNS before SIGTERM"
    assert pod_spec(named("Deployment", "mcp"))["terminationGracePeriodSeconds"] > sleep + 10


def test_every_modelgw_command_is_a_valid_cli_invocation() -> None:
    seen = set()
    for deployment, container in all_containers():
        command = container["command"]
        if command[0] != "modelgw":
            continue
        args = _parser().parse_args(command[1:])  # SystemExit on an invalid command
        seen.add(args.command)
        assert args.run is not None, f"{deployment.name}/{container['name']}"
    assert seen == {"serve", "mcp", "worker", "scheduler", "audit", "envoy-config"}


def test_config_map_keys_are_settings_the_code_reads() -> None:
    source = "\n".join(
        p.read_text(encoding="utf-8") for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py")
    )
    known = set(re.findall(r"MODELGW_[A-Z0-9_]+[A-Z0-9]", source))
    known |= {f"MODELGW_{name.upper()}_PORT" for name in SERVICE_PORTS}
    known |= set(BACKEND_ALLOW_LIST)
    for config_map in of_kind("ConfigMap"):
        for key in config_map.obj["data"]:
            assert key in known, f"{config_map.name}: {key} is read by no code"
    for secret in of_kind("Secret"):
        for key in secret.obj["stringData"]:
            assert key in known or not key.startswith("MODELGW_"), key


def _process(command: list[str]) -> str | None:
    """The METRICS_PORTS name of a `modelgw` process; None for one that serves none."""
    if command[0] != "modelgw":
        return None
    args = _parser().parse_args(command[1:])
    return str(args.service) if args.command == "serve" else {
        "worker": "worker", "scheduler": "scheduler", "audit": "audit"
    }.get(args.command)


def test_every_metrics_endpoint_is_a_declared_port_on_the_pod_s_address() -> None:
    served = set()
    for deployment, container in all_containers():
        process = _process(container["command"])
        if process is None:
            continue
        config = GatewayConfig.from_env(environment(container))
        port = config.metrics_ports[process]
        declared = {p["name"]: p["containerPort"] for p in container.get("ports") or []}
        assert declared.get("metrics") == port, f"{deployment.name}: serves metrics on {port}"
        assert config.host == "0.0.0.0", "metrics bind MODELGW_HOST: the pod IP, for a scrape"
        served.add(process)
    assert served == {*SERVICE_PORTS, "worker", "scheduler", "audit"}


def test_backend_allow_list_is_one_setting_shared_by_the_registry_and_the_workers() -> None:
    (registry,) = containers(named("Deployment", "registry"))
    readers = [registry, *(containers(named("Deployment", d))[0] for d in _worker_deployments())]
    for name, default in BACKEND_ALLOW_LIST.items():
        # Read from one ConfigMap every reader gets: never set per Deployment.
        (holder,) = [m.name for m in of_kind("ConfigMap") if name in m.obj["data"]]
        assert named("ConfigMap", holder).obj["data"][name] == default, name
        for container in readers:
            assert {"configMapRef": {"name": holder}} in container["envFrom"]
            assert name not in {v["name"] for v in container.get("env", [])}
            assert environment(container)[name] == default
    prefixes = BACKEND_ALLOW_LIST["MODELGW_ALLOWED_CALLABLES"].split(",")
    for model in BUILTIN_MODELS:
        for version in model.versions:
            if version.backend_kind == "python":
                module = version.backend_config["callable"].split(":")[0]
                assert any(module == p or module.startswith(p + ".") for p in prefixes), model.name


def test_redis_addresses_for_keda_match_the_redis_url() -> None:
    data = named("Secret", "modelgw-redis").obj["stringData"]
    settings = RedisSettings(url=data["MODELGW_REDIS_URL"])
    assert settings.cluster
    addresses = [a.strip() for a in data["REDIS_CLUSTER_ADDRESSES"].split(",")]
    assert addresses == [f"{host}:{port}" for host, port in settings.nodes()]


# -- workers and KEDA --------------------------------------------------------------


def test_there_is_a_worker_for_the_rdkit_models_and_one_for_demo_sleep() -> None:
    builtins = set(worker_models())
    rdkit = {m for m in builtins if m.startswith("rdkit.")}
    assert set(_models("worker-rdkit")) == rdkit
    assert _models("worker-demo-sleep") == ["demo.sleep"]
    for deployment in _worker_deployments():
        assert set(_models(deployment)) <= builtins
        args = _parser().parse_args(_worker_command(deployment)[1:])
        assert not args.builtins, "each worker group names its models: --models LIST"


@pytest.mark.parametrize("deployment", ["worker-rdkit", "worker-demo-sleep"])
def test_worker_termination_outlasts_its_drain_grace(deployment: str) -> None:
    args = _parser().parse_args(_worker_command(deployment)[1:])
    period = pod_spec(named("Deployment", deployment))["terminationGracePeriodSeconds"]
    assert period > args.drain_grace + 5


def _scaled_object_for(deployment: str) -> dict[str, object]:
    (scaled,) = [
        s for s in of_kind("ScaledObject") if s.obj["spec"]["scaleTargetRef"]["name"] == deployment
    ]
    return scaled.obj


@pytest.mark.parametrize("deployment", ["worker-rdkit", "worker-demo-sleep"])
def test_scaled_object_watches_the_code_s_queue_of_every_model(deployment: str) -> None:
    spec = _scaled_object_for(deployment)["spec"]
    triggers = spec["triggers"]  # type: ignore[index]
    streams = [t["metadata"]["stream"] for t in triggers]
    # Each model's queue of earlier releases, then the queue of each version the
    # catalog declares: every version has its own.
    versions = {m.name: [v.version for v in m.versions] for m in BUILTIN_MODELS}
    assert streams == [
        queue
        for model in _models(deployment)
        for queue in (keys.queue(model), *(keys.queue(model, v) for v in versions[model]))
    ]
    assert all(t["type"] == "redis-cluster-streams" for t in triggers)


@pytest.mark.parametrize("deployment", ["worker-rdkit", "worker-demo-sleep"])
def test_scaled_object_scales_on_stream_length_per_worker_slot(deployment: str) -> None:
    scaled = _scaled_object_for(deployment)
    concurrency = _parser().parse_args(_worker_command(deployment)[1:]).concurrency
    (container,) = containers(named("Deployment", deployment))
    env = environment(container)
    for trigger in scaled["spec"]["triggers"]:  # type: ignore[index]
        meta = trigger["metadata"]
        # KEDA uses XPENDING whenever consumerGroup is set; XLEN only without it.
        assert "consumerGroup" not in meta and "lagCount" not in meta
        assert int(meta["streamLength"]) == concurrency
        # addressesFromEnv is read from the target's first container.
        assert meta["addressesFromEnv"] in env
    spec = scaled["spec"]
    assert spec["minReplicaCount"] in (0, 1)  # type: ignore[index]
    assert spec["maxReplicaCount"] > spec["minReplicaCount"]  # type: ignore[index]
    assert spec["cooldownPeriod"] > 0  # type: ignore[index]


def test_known_queue_names() -> None:
    """The names written in the ScaledObjects, spelled out for a reader of this test."""
    assert keys.queue("rdkit.logp") == "{mg:cee8}:queue:rdkit.logp"
    assert keys.queue("demo.sleep") == "{mg:d006}:queue:demo.sleep"
    assert keys.GROUP == "workers"


def test_scheduler_runs_alone_on_redis_only() -> None:
    deployment = named("Deployment", "scheduler")
    assert deployment.obj["spec"]["replicas"] == 1
    (container,) = containers(deployment)
    assert "MODELGW_DATABASE_URL" not in environment(container)
    assert GatewayConfig.from_env(environment(container)).redis.cluster


# -- edge -------------------------------------------------------------------------


def test_edge_listens_where_the_config_says() -> None:
    deployment = named("Deployment", "edge")
    render, _ = containers(deployment)[:2]
    edge = EdgeConfig.from_env(environment(render))
    (envoy,) = containers(deployment, init=False)
    assert [p["containerPort"] for p in envoy["ports"]] == [edge.port]
    assert [p["port"] for p in named("Service", "edge").obj["spec"]["ports"]] == [edge.port]
    assert option(envoy["command"], "-c") == str(edge.out_dir / "envoy.yaml")
    # The preStop hook drains through Envoy's admin listener.
    hook = envoy["lifecycle"]["preStop"]["exec"]["command"][-1]
    assert f"http://127.0.0.1:{edge.admin_port}/drain_listeners" in hook
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > prestop_sleep_seconds(envoy)


def test_every_metrics_port_is_announced_for_scraping() -> None:
    for workload, container in all_containers():
        declared = {p["name"]: p["containerPort"] for p in container.get("ports") or []}
        if "metrics" not in declared:
            continue
        annotations = workload.obj["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", workload.name
        assert annotations.get("prometheus.io/port") == str(declared["metrics"]), workload.name
