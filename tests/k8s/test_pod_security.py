"""Every pod of the kustomization is confined: the image's non-root user, a
read-only root filesystem with a writable volume wherever a process writes, no
privilege, no capability, the RuntimeDefault seccomp profile, no service-account
token. Workers run registered models' code, so they hold no database URL, no
token settings and no Secret beyond Redis's."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.config import AuditConfig
from cli.main import _parser
from gateway.config import GatewayConfig
from tests.k8s._manifests import (
    Manifest,
    Obj,
    containers,
    environment,
    image_user,
    named,
    pod_spec,
    role,
    secrets_referenced,
    workloads,
)

WORKLOADS = {w.name: w for w in workloads()}
# Fields a container inherits from its pod's securityContext unless it sets its own.
INHERITED = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
WRITABLE_VOLUMES = {"emptyDir", "persistentVolumeClaim", "ephemeral"}
# What a worker may read from a Secret: Redis, for itself and for KEDA's trigger.
WORKER_SECRET_KEYS = {"MODELGW_REDIS_URL", "REDIS_CLUSTER_ADDRESSES"}
# Settings that open the database or mint or check tokens.
PRIVILEGED_PREFIXES = ("MODELGW_DATABASE_", "MODELGW_JWT_")


def _of_role(kind: str) -> list[str]:
    names = [w.name for w in workloads() if role(w) == kind]
    assert names, f"no {kind} in the kustomization"
    return names


def _effective(workload: Manifest, container: Obj) -> Obj:
    pod = pod_spec(workload).get("securityContext", {})
    return {**{k: pod[k] for k in INHERITED if k in pod}, **container.get("securityContext", {})}


def test_there_are_workloads_to_check() -> None:
    assert {"server", "edge", "mcp", "worker", "scheduler"} <= {role(w) for w in workloads()}


# -- security contexts ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_pod_runs_as_the_image_s_non_root_user(name: str) -> None:
    spec = pod_spec(WORKLOADS[name])
    uid, gid = image_user()
    assert uid != 0 and gid != 0
    context = spec["securityContext"]
    assert context["runAsNonRoot"] is True
    assert type(context["runAsUser"]) is int and context["runAsUser"] == uid
    assert type(context["runAsGroup"]) is int and context["runAsGroup"] == gid
    # The emptyDirs the processes write to belong to this group.
    assert context["fsGroup"] == gid
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(field), field
    assert not [v["name"] for v in spec.get("volumes", []) if "hostPath" in v]


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_container_is_confined(name: str) -> None:
    workload = WORKLOADS[name]
    uid, gid = image_user()
    for container in containers(workload):
        where = f"{name}/{container['name']}"
        context = _effective(workload, container)
        assert context.get("runAsNonRoot") is True, where
        assert (context.get("runAsUser"), context.get("runAsGroup")) == (uid, gid), where
        assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("capabilities") == {"drop": ["ALL"]}, where
        assert not context.get("privileged"), where


# -- what the processes write ----------------------------------------------------------


def _writable_mounts(workload: Manifest, container: Obj) -> list[Path]:
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    claims = {t["metadata"]["name"] for t in workload.obj["spec"].get("volumeClaimTemplates", [])}
    return [
        Path(m["mountPath"])
        for m in container.get("volumeMounts", [])
        if not m.get("readOnly")
        and (m["name"] in claims or WRITABLE_VOLUMES & set(volumes.get(m["name"], {})))
    ]


def _written_paths(container: Obj) -> list[Path]:
    """Where the container's process writes, as the code decides it from the environment."""
    env = environment(container)
    command = container["command"]
    paths = [Path(env.get("TMPDIR") or "/tmp")]  # tempfile: prefork's metrics, keys' temp files
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        paths.append(Path(env["PROMETHEUS_MULTIPROC_DIR"]))
    if command[0] == "modelgw":
        assert env.get("MODELGW_HOME"), f"{container['name']}: MODELGW_HOME must be set"
        config = GatewayConfig.from_env(env)
        paths.append(config.home)
        if _parser().parse_args(command[1:]).command == "audit":
            paths.append(AuditConfig.from_env(env, config.home).spool_dir)
    if command[0] == "python" and command[1].endswith("/upstreams.py"):
        paths.append(Path(command[2]).parent)  # it rewrites the bootstrap in place
    return paths


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_path_a_process_writes_is_a_writable_volume(name: str) -> None:
    workload = WORKLOADS[name]
    for container in containers(workload):
        mounts = _writable_mounts(workload, container)
        for path in _written_paths(container):
            assert any(path == m or m in path.parents for m in mounts), (
                f"{name}/{container['name']} writes {path}; writable mounts: {mounts}"
            )


# -- secrets ----------------------------------------------------------------------


def _secret_keys(name: str) -> set[str]:
    return set(named("Secret", name).obj["stringData"])


@pytest.mark.parametrize("name", _of_role("worker"))
def test_worker_holds_no_database_or_signing_secret(name: str) -> None:
    workload = WORKLOADS[name]
    for secret in secrets_referenced(workload):
        keys = _secret_keys(secret)
        assert keys <= WORKER_SECRET_KEYS, f"{name} can read {secret}: {sorted(keys)}"
    for container in containers(workload):
        held = [k for k in environment(container) if k.startswith(PRIVILEGED_PREFIXES)]
        assert not held, f"{name}/{container['name']} gets {held}"
    for volume in pod_spec(workload).get("volumes", []):
        assert not {"secret", "projected", "csi"} & set(volume), f"{name}: {volume['name']}"
    assert pod_spec(workload)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", _of_role("worker"))
def test_worker_settings_load_without_the_database_url_or_a_signing_key(name: str) -> None:
    (container,) = containers(WORKLOADS[name])
    env = environment(container)
    config = GatewayConfig.from_env(env)  # what `modelgw worker` reads; no ConfigError
    assert config.redis.cluster
    assert "MODELGW_DATABASE_URL" not in env
    home_only = {k: v for k, v in env.items() if k == "MODELGW_HOME"}
    assert config.database_url == GatewayConfig.from_env(home_only).database_url, "the default"
    assert config.auth.jwks_url is None
    assert "MODELGW_JWT_SIGNING_KEY" not in env


def test_only_the_servers_and_the_audit_shipper_can_read_the_database_url() -> None:
    holding = {
        w.name
        for w in workloads()
        if any("MODELGW_DATABASE_URL" in _secret_keys(s) for s in secrets_referenced(w))
        or any("MODELGW_DATABASE_URL" in environment(c) for c in containers(w))
    }
    assert holding == {*_of_role("server"), *_of_role("audit")}


def test_only_the_admin_server_can_log_in_as_the_sql_console() -> None:
    holding = {
        w.name
        for w in workloads()
        if any("MODELGW_QUERY_DATABASE_URL" in _secret_keys(s) for s in secrets_referenced(w))
        or any("MODELGW_QUERY_DATABASE_URL" in environment(c) for c in containers(w))
    }
    assert holding == {"admin"}


def test_the_edge_and_the_mcp_server_hold_no_secret() -> None:
    for name in _of_role("edge") + _of_role("mcp"):
        assert secrets_referenced(WORKLOADS[name]) == set(), name
