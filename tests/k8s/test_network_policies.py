"""Who may reach whom, computed from network-policies.yaml and the pods' labels:
the edge alone calls the servers and the MCP server, which calls back only the
edge (and the JWKS URL's port); only the servers reach PostgreSQL; the servers,
the workers and the scheduler reach Redis; workers reach nothing else but the DNS
and the model servers' namespaces; metrics are scraped from a labelled namespace.

Each pod is named by the role its command gives it (tests/k8s/_manifests.role),
never by the label the policies select on, so a pod with a wrong label shows up
as a connection that is wrongly allowed or refused."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from gateway.config import METRICS_PORTS, SERVICE_PORTS, GatewayConfig
from gateway.edge.config import EdgeConfig
from mcpserver.config import MCPConfig
from scheduler.connection import RedisSettings
from tests.k8s._manifests import (
    Manifest,
    containers,
    environment,
    kustomization,
    named,
    of_kind,
    pod_labels,
    role,
    workloads,
)
from tests.k8s._network import Cluster, Endpoint, selects

NAMESPACE = kustomization()["namespace"]
ROLE_LABEL = "model-gateway/role"
SCRAPERS = {"model-gateway/metrics-scraper": "true"}
MODEL_SERVERS = {"model-gateway/model-servers": "true"}
DNS_PORT = 53
OIP_PORT = 8080


def _namespace_labels() -> dict[str, dict[str, str]]:
    """The namespaces around the deployment, labelled as the README tells operators to."""
    (namespace,) = of_kind("Namespace")
    own = {**namespace.obj["metadata"].get("labels", {}), "kubernetes.io/metadata.name": NAMESPACE}
    return {
        NAMESPACE: own,
        "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
        "monitoring": {"kubernetes.io/metadata.name": "monitoring", **SCRAPERS},
        "models": {"kubernetes.io/metadata.name": "models", **MODEL_SERVERS},
        "elsewhere": {"kubernetes.io/metadata.name": "elsewhere"},
    }


CLUSTER = Cluster(NAMESPACE, [p.obj for p in of_kind("NetworkPolicy")], _namespace_labels())


def _pod(workload: Manifest) -> Endpoint:
    ports = {
        p["name"]: p["containerPort"]
        for c in containers(workload, init=False)
        for p in c.get("ports") or []
    }
    return Endpoint(workload.name, NAMESPACE, pod_labels(workload), ports)


WORKLOADS = {w.name: w for w in workloads()}
PODS = {name: _pod(w) for name, w in WORKLOADS.items()}
ROLE = {w.name: role(w) for w in workloads()}

# Pods and hosts that are not the platform's.
DNS = Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": DNS_PORT})
PROMETHEUS = Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
MODEL_SERVER = Endpoint("triton", "models", {"app": "triton"}, {"http": OIP_PORT})
UNLABELLED_MODEL_SERVER = Endpoint("triton", "elsewhere", {"app": "triton"}, {"http": OIP_PORT})
STRANGER = Endpoint("debug", NAMESPACE, {"run": "debug"})  # kubectl run in the namespace
NEIGHBOUR = Endpoint("app", "elsewhere", {"app": "other"})
INTERNET = Endpoint("client", address="203.0.113.7")
METADATA = Endpoint("cloud-metadata", address="169.254.169.254")
OUTSIDERS = (PROMETHEUS, MODEL_SERVER, STRANGER, NEIGHBOUR, INTERNET)


def _secret_value(key: str) -> str:
    (value,) = [s.obj["stringData"][key] for s in of_kind("Secret") if key in s.obj["stringData"]]
    return str(value)


def _postgres() -> tuple[Endpoint, int]:
    url = urlsplit(_secret_value("MODELGW_DATABASE_URL"))
    return Endpoint(f"postgres {url.hostname}"), url.port or 5432


def _redis_nodes() -> list[tuple[Endpoint, int]]:
    settings = RedisSettings(url=_secret_value("MODELGW_REDIS_URL"))
    return [(Endpoint(f"redis {host}"), port) for host, port in settings.nodes()]


def _named(role_name: str) -> list[str]:
    return [name for name, r in ROLE.items() if r == role_name]


def _edge_port(name: str) -> int:
    """Envoy's listener, as `modelgw envoy-config` renders it for this pod."""
    render = containers(WORKLOADS[name])[0]
    port = EdgeConfig.from_env(environment(render)).port
    assert PODS[name].ports["http"] == port
    return port


def _mcp_port(name: str) -> int:
    """The MCP server's listener, as `modelgw mcp` reads it for this pod."""
    (container,) = containers(WORKLOADS[name], init=False)
    port = MCPConfig.from_env(environment(container)).port
    assert PODS[name].ports["http"] == port
    return port


def _jwks_port() -> int:
    url = urlsplit(named("ConfigMap", "modelgw-server-config").obj["data"]["MODELGW_JWT_JWKS_URL"])
    return url.port or {"https": 443, "http": 80}[url.scheme]


def _metrics_port(name: str) -> int:
    process = name if ROLE[name] == "server" else ROLE[name]
    (container,) = containers(WORKLOADS[name], init=False)
    port = GatewayConfig.from_env(environment(container)).metrics_ports[process]
    assert port == METRICS_PORTS[process]
    return port


# -- the pods are who the policies think they are --------------------------------


def test_every_pod_carries_the_role_its_command_gives() -> None:
    for workload in workloads():
        assert pod_labels(workload).get(ROLE_LABEL) == role(workload), workload.name
    assert {"server", "edge", "mcp", "worker", "scheduler"} <= set(ROLE.values())


def test_every_policy_selects_some_pod_and_every_pod_is_isolated_both_ways() -> None:
    for policy in of_kind("NetworkPolicy"):
        selector = policy.obj["spec"]["podSelector"]
        assert any(selects(selector, pod.labels) for pod in PODS.values()), policy.name
    for pod in [*PODS.values(), STRANGER]:
        assert CLUSTER.isolated(pod, "Ingress"), pod.name
        assert CLUSTER.isolated(pod, "Egress"), pod.name


# -- ingress ------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_only_the_edge_calls_a_server_s_grpc_port(service: str) -> None:
    server, port = PODS[service], SERVICE_PORTS[service]
    for name, pod in PODS.items():
        allowed = CLUSTER.allows(pod, server, port)
        assert allowed == (ROLE[name] == "edge"), f"{name} -> {service}:{port}: {allowed}"
    for outsider in OUTSIDERS:
        assert not CLUSTER.allows(outsider, server, port), f"{outsider.name} -> {service}"


def test_clients_reach_the_edge_and_nothing_else() -> None:
    for edge in _named("edge"):
        for client in (INTERNET, NEIGHBOUR, PROMETHEUS):
            assert CLUSTER.allows(client, PODS[edge], _edge_port(edge)), client.name
        # A pod of the namespace without a role has no egress at all.
        assert not CLUSTER.allows(STRANGER, PODS[edge], _edge_port(edge))
    for name, pod in PODS.items():
        if ROLE[name] == "edge":
            continue
        for port in [*SERVICE_PORTS.values(), *pod.ports.values()]:
            assert not CLUSTER.allows(INTERNET, pod, port), f"internet -> {name}:{port}"
            assert not CLUSTER.allows(STRANGER, pod, port), f"stranger -> {name}:{port}"


def test_metrics_are_scraped_from_the_labelled_namespace_only() -> None:
    scraped = [n for n in PODS if ROLE[n] in ("server", "worker", "scheduler")]
    assert scraped
    for name in scraped:
        port = _metrics_port(name)
        assert PODS[name].ports["metrics"] == port, name
        assert CLUSTER.allows(PROMETHEUS, PODS[name], port), name
        # (A pod may always reach itself: not a question for the policies.)
        for other in (NEIGHBOUR, STRANGER, *(PODS[n] for n in PODS if n != name)):
            assert not CLUSTER.allows(other, PODS[name], port), f"{other.name} -> {name}:{port}"
    for service, port in SERVICE_PORTS.items():
        assert not CLUSTER.allows(PROMETHEUS, PODS[service], port), service


# -- egress ---------------------------------------------------------------------


def test_only_the_servers_reach_postgresql() -> None:
    postgres, port = _postgres()
    for name, pod in PODS.items():
        allowed = CLUSTER.allows(pod, postgres, port)
        # The servers, and the audit shipper, which reads the registry's outbox.
        assert allowed == (ROLE[name] in ("server", "audit")), f"{name} -> PostgreSQL:{port}: {allowed}"
    assert not CLUSTER.allows(STRANGER, postgres, port)


def test_the_servers_workers_and_scheduler_reach_every_redis_node() -> None:
    nodes = _redis_nodes()
    assert nodes
    for redis, port in nodes:
        for name, pod in PODS.items():
            allowed = CLUSTER.allows(pod, redis, port)
            expected = ROLE[name] in ("server", "worker", "scheduler", "audit")
            assert allowed == expected, f"{name} -> {redis.name}:{port}: {allowed}"
        assert not CLUSTER.allows(STRANGER, redis, port)


def test_every_pod_resolves_names() -> None:
    for name, pod in PODS.items():
        for protocol in ("UDP", "TCP"):
            assert CLUSTER.allows(pod, DNS, DNS_PORT, protocol), f"{name} {protocol}"


@pytest.mark.parametrize("kind", ["worker", "scheduler"])
def test_workers_and_scheduler_reach_no_server_no_edge_no_outside_host(kind: str) -> None:
    names = _named(kind)
    assert names
    for name in names:
        pod = PODS[name]
        for service, port in SERVICE_PORTS.items():
            assert not CLUSTER.allows(pod, PODS[service], port), f"{name} -> {service}"
        for edge in _named("edge"):
            assert not CLUSTER.allows(pod, PODS[edge], _edge_port(edge)), f"{name} -> edge"
        for port in (80, 443, 8080):
            assert not CLUSTER.allows(pod, INTERNET, port), f"{name} -> internet:{port}"
        assert not CLUSTER.allows(pod, METADATA, 80), f"{name} -> cloud metadata"
        assert not CLUSTER.allows(pod, UNLABELLED_MODEL_SERVER, OIP_PORT), name
        assert not CLUSTER.allows(pod, NEIGHBOUR, 443), name


def test_workers_reach_model_servers_in_the_labelled_namespaces() -> None:
    for name in _named("worker"):
        assert CLUSTER.allows(PODS[name], MODEL_SERVER, OIP_PORT), name
    for name in _named("scheduler") + _named("edge"):
        assert not CLUSTER.allows(PODS[name], MODEL_SERVER, OIP_PORT), name


def test_only_the_edge_calls_the_mcp_server() -> None:
    names = _named("mcp")
    assert names
    for mcp in names:
        port = _mcp_port(mcp)
        for name, pod in PODS.items():
            allowed = CLUSTER.allows(pod, PODS[mcp], port)
            assert allowed == (ROLE[name] == "edge"), f"{name} -> {mcp}:{port}: {allowed}"
        for outsider in OUTSIDERS:
            assert not CLUSTER.allows(outsider, PODS[mcp], port), f"{outsider.name} -> {mcp}"


def test_the_mcp_server_reaches_the_edge_and_the_jwks_port_only() -> None:
    postgres, pg_port = _postgres()
    for mcp in _named("mcp"):
        pod = PODS[mcp]
        for edge in _named("edge"):
            assert CLUSTER.allows(pod, PODS[edge], _edge_port(edge)), edge
        # Its own verifier fetches the identity provider's keys.
        assert CLUSTER.allows(pod, INTERNET, _jwks_port())
        assert not CLUSTER.allows(pod, postgres, pg_port)
        for redis, port in _redis_nodes():
            assert not CLUSTER.allows(pod, redis, port), redis.name
        for service, port in SERVICE_PORTS.items():
            assert not CLUSTER.allows(pod, PODS[service], port), service
        for name in PODS:
            if ROLE[name] == "edge":
                continue
            for port in PODS[name].ports.values():
                assert not CLUSTER.allows(pod, PODS[name], port), f"{mcp} -> {name}:{port}"
        for port in (80, 8080, 6379, 5432):
            assert not CLUSTER.allows(pod, INTERNET, port), f"{mcp} -> internet:{port}"
        assert not CLUSTER.allows(pod, METADATA, 80), "cloud metadata"
        assert not CLUSTER.allows(pod, MODEL_SERVER, OIP_PORT)
        assert not CLUSTER.allows(pod, NEIGHBOUR, 80)


def test_the_edge_reaches_the_servers_and_the_mcp_server_and_nothing_else() -> None:
    postgres, pg_port = _postgres()
    for edge in _named("edge"):
        pod = PODS[edge]
        for service, port in SERVICE_PORTS.items():
            assert CLUSTER.allows(pod, PODS[service], port), service
        for mcp in _named("mcp"):
            assert CLUSTER.allows(pod, PODS[mcp], _mcp_port(mcp)), mcp
        assert not CLUSTER.allows(pod, postgres, pg_port)
        for redis, port in _redis_nodes():
            assert not CLUSTER.allows(pod, redis, port), redis.name
        for name in _named("worker") + _named("scheduler"):
            assert not CLUSTER.allows(pod, PODS[name], _metrics_port(name)), name
        for port in (80, 443):
            assert not CLUSTER.allows(pod, INTERNET, port)
        assert not CLUSTER.allows(pod, METADATA, 80)


# -- the reader of the policies --------------------------------------------------


def test_the_reader_follows_the_networkpolicy_rules() -> None:
    """Kubernetes' documented semantics, on small made-up policies."""
    labels = {"ns": {"kubernetes.io/metadata.name": "ns"}, "other": {"team": "a"}}
    a = Endpoint("a", "ns", {"app": "a"}, {"web": 80})
    b = Endpoint("b", "ns", {"app": "b"})
    c = Endpoint("c", "other", {"app": "b"})
    open_cluster = Cluster("ns", [], labels)
    assert open_cluster.allows(b, a, 80)
    deny = {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    assert not Cluster("ns", [deny], labels).allows(b, a, 80)
    from_b = {"spec": {"podSelector": {"matchLabels": {"app": "a"}}, "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": "web"}]},
    ]}}
    cluster = Cluster("ns", [deny, from_b], labels)
    assert cluster.allows(b, a, 80)
    assert not cluster.allows(b, a, 81)
    assert not cluster.allows(b, a, 80, "UDP")
    assert not cluster.allows(c, a, 80), "a podSelector alone means the policy's namespace"
    # namespaceSelector and podSelector in one peer: both must match.
    team = {"spec": {"podSelector": {}, "ingress": [{"from": [{
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]},
    }]}]}}
    cluster = Cluster("ns", [team], labels)
    assert cluster.allows(c, a, 80)
    assert not cluster.allows(b, a, 80)
    # Egress: a range, and an ipBlock with an exception.
    out = {"spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
         "ports": [{"port": 6000, "endPort": 6999}]},
    ]}}
    cluster = Cluster("ns", [out], labels)
    assert cluster.allows(a, Endpoint("x", address="10.2.0.1"), 6379)
    assert not cluster.allows(a, Endpoint("x", address="10.1.0.1"), 6379)
    assert not cluster.allows(a, Endpoint("x", address="10.2.0.1"), 7000)
    assert cluster.allows(a, Endpoint("by name"), 6379), "a name may resolve anywhere"
