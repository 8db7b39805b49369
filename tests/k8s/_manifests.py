"""Loads k8s/ as kustomize would see it, for the manifest tests (no cluster needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from cli.main import _parser

K8S = Path(__file__).resolve().parents[2] / "k8s"
# Applied beside K8S (`kubectl apply -k k8s/versions/`): the workers per model version.
VERSIONS = K8S / "versions"
KUSTOMIZATIONS = (K8S, VERSIONS)
Obj = dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    file: str
    obj: Obj

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


def image_user() -> tuple[int, int]:
    """The numeric user and group k8s/Dockerfile runs as (its `USER uid:gid`)."""
    text = (K8S / "Dockerfile").read_text(encoding="utf-8")
    found = re.findall(r"^USER (\d+):(\d+)$", text, re.MULTILINE)
    assert len(found) == 1, f"one numeric USER uid:gid line, found {found}"
    return int(found[0][0]), int(found[0][1])


def kustomization(directory: Path = K8S) -> Obj:
    data: Obj = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    return data


@cache
def manifests() -> tuple[Manifest, ...]:
    """Every object of every resource file the two kustomizations list, in order:
    k8s/ then k8s/versions/ (files named relative to k8s/), deployed together."""
    out = []
    for directory in KUSTOMIZATIONS:
        for file in kustomization(directory)["resources"]:
            path = directory / file
            for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if obj is not None:
                    out.append(Manifest(str(path.relative_to(K8S)), obj))
    return tuple(out)


def of_kind(kind: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind == kind]


def named(kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(kind) if m.name == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def generated_config_maps() -> set[str]:
    return {g["name"] for g in kustomization().get("configMapGenerator", [])}


# The kinds that run pods, and where each keeps its pod template.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def workloads() -> list[Manifest]:
    """Every object of the kustomization that runs pods."""
    return [m for m in manifests() if m.kind in WORKLOAD_KINDS]


def pod_template(workload: Manifest) -> Obj:
    spec: Obj = workload.obj["spec"]
    if workload.kind == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: Obj = spec["template"]
    return template


def pod_spec(workload: Manifest) -> Obj:
    spec: Obj = pod_template(workload)["spec"]
    return spec


def pod_labels(workload: Manifest) -> dict[str, str]:
    labels: dict[str, str] = pod_template(workload)["metadata"]["labels"]
    return labels


def containers(workload: Manifest, *, init: bool = True) -> list[Obj]:
    spec = pod_spec(workload)
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def all_containers() -> Iterator[tuple[Manifest, Obj]]:
    for workload in workloads():
        for container in containers(workload):
            yield workload, container


def env_sources(container: Obj) -> dict[str, set[str]]:
    """{'ConfigMap': names, 'Secret': names} the container's envFrom refers to."""
    out: dict[str, set[str]] = {"ConfigMap": set(), "Secret": set()}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            out["ConfigMap"].add(source["configMapRef"]["name"])
        if "secretRef" in source:
            out["Secret"].add(source["secretRef"]["name"])
    return out


def environment(container: Obj) -> dict[str, str]:
    """The variables the container gets from its ConfigMaps and Secrets, then env."""
    env: dict[str, str] = {}
    refs = env_sources(container)
    for name in sorted(refs["ConfigMap"]):
        env.update(named("ConfigMap", name).obj["data"])
    for name in sorted(refs["Secret"]):
        env.update(named("Secret", name).obj["stringData"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        source = var.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[var["name"]] = named("ConfigMap", ref["name"]).obj["data"][ref["key"]]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[var["name"]] = named("Secret", ref["name"]).obj["stringData"][ref["key"]]
    return env


def secrets_referenced(workload: Manifest) -> set[str]:
    """Every Secret the workload's pods can read: through env, envFrom or a volume."""
    names: set[str] = set()
    for container in containers(workload):
        names |= env_sources(container)["Secret"]
        for var in container.get("env", []):
            if "secretKeyRef" in var.get("valueFrom", {}):
                names.add(var["valueFrom"]["secretKeyRef"]["name"])
    for volume in pod_spec(workload).get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


# The model-gateway/role label a pod must carry, by the `modelgw` subcommand its
# main container runs (Envoy's pods are the edge).
ROLES = {
    "serve": "server",
    "mcp": "mcp",
    "worker": "worker",
    "scheduler": "scheduler",
    "audit": "audit",
}


def role(workload: Manifest) -> str:
    """What the workload's pods are, read from what their first container runs."""
    command = containers(workload, init=False)[0]["command"]
    if command[0] == "envoy":
        return "edge"
    assert command[0] == "modelgw", f"{workload.name}: runs {command[0]}"
    return ROLES[_parser().parse_args(command[1:]).command]


def option(command: list[str], flag: str) -> str:
    """The value after flag in an argv list."""
    return command[command.index(flag) + 1]


def prestop_sleep_seconds(container: Obj) -> float:
    """The seconds a `sleep N` preStop hook waits (0 without one)."""
    hook = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    if not hook:
        return 0.0
    if hook[0] == "sleep":
        return float(hook[1])
    # The edge's Python hook ends with time.sleep(N).
    script = hook[-1]
    marker = "time.sleep("
    return float(script[script.index(marker) + len(marker) :].split(")")[0])
