"""Loads k8s/ as kustomize would see it, for the manifest tests (no cluster needed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "k8s"
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


def kustomization() -> Obj:
    data: Obj = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    return data


@cache
def manifests() -> tuple[Manifest, ...]:
    """Every object of every resource file kustomization.yaml lists, in order."""
    out = []
    for file in kustomization()["resources"]:
        for obj in yaml.safe_load_all((K8S / file).read_text(encoding="utf-8")):
            if obj is not None:
                out.append(Manifest(file, obj))
    return tuple(out)


def of_kind(kind: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind == kind]


def named(kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(kind) if m.name == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def generated_config_maps() -> set[str]:
    return {g["name"] for g in kustomization().get("configMapGenerator", [])}


def pod_spec(deployment: Manifest) -> Obj:
    spec: Obj = deployment.obj["spec"]["template"]["spec"]
    return spec


def containers(deployment: Manifest, *, init: bool = True) -> list[Obj]:
    spec = pod_spec(deployment)
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def all_containers() -> Iterator[tuple[Manifest, Obj]]:
    for deployment in of_kind("Deployment"):
        for container in containers(deployment):
            yield deployment, container


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
    return env


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
