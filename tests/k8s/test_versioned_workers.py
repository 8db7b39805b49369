"""k8s/versions/: one worker group per model version, rendered by k8s/versioned_worker.py.

The committed files are what their own first line prints (so they cannot drift);
each Deployment serves its version alone and each ScaledObject watches that
version's queue. Every other check in tests/k8s reads these files too
(_manifests.manifests() lists both kustomizations)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.main import _parser as modelgw_parser
from k8s.versioned_worker import (
    MODEL_LABEL,
    VERSION_LABEL,
    VersionedWorker,
    deployment,
    file_arguments,
    label_value,
    main,
    parse,
    render,
    resource_name,
)
from scheduler import keys
from tests.k8s._manifests import (
    VERSIONS,
    Manifest,
    containers,
    environment,
    kustomization,
    manifests,
    of_kind,
    pod_labels,
    pod_spec,
)
from workers.settings import MODELS_ENV

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
# The registry's grammar (gateway/registry/validation.py) for a version.
VERSION = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}"


def _files() -> list[Path]:
    return sorted(p for p in VERSIONS.glob("*.yaml") if p.name != "kustomization.yaml")


def _deployments() -> list[Manifest]:
    return [m for m in of_kind("Deployment") if m.file.startswith("versions/")]


def _served(workload: Manifest) -> tuple[str, str]:
    """(model, version) from the worker's MODELGW_WORKER_MODELS."""
    (container,) = containers(workload)
    model, at, version = environment(container)[MODELS_ENV].partition("@")
    assert at and model and version, f"{workload.name}: serves {model}{at}{version}"
    return model, version


def _scaled_object(workload: Manifest) -> Manifest:
    (scaled,) = [
        s for s in of_kind("ScaledObject") if s.obj["spec"]["scaleTargetRef"]["name"] == workload.name
    ]
    return scaled


# -- the committed files --------------------------------------------------------------


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_committed_file_is_what_its_command_prints(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    worker = parse(file_arguments(text))
    assert text == render(worker), f"python -m k8s.versioned_worker --regenerate k8s/versions/{path.name}"
    assert path.name == f"{worker.name}.yaml"


def test_versions_kustomization_lists_every_file_and_there_are_two_versions() -> None:
    assert sorted(kustomization(VERSIONS)["resources"]) == [p.name for p in _files()]
    served = {_served(d) for d in _deployments()}
    assert len(served) == len(_deployments()) >= 2
    assert len({model for model, _ in served}) == 1, "the example is two versions of one model"


def test_regenerate_rewrites_a_drifted_file(tmp_path: Path) -> None:
    (original, *_) = _files()
    text = original.read_text(encoding="utf-8")
    drifted = tmp_path / original.name
    drifted.write_text(text.replace("streamLength: '16'", "streamLength: '99'"), encoding="utf-8")
    assert main(["--regenerate", str(drifted)]) == 0
    assert drifted.read_text(encoding="utf-8") == text


# -- what they say ---------------------------------------------------------------------


def test_each_deployment_serves_one_version_alone() -> None:
    assert _deployments()
    for workload in _deployments():
        model, version = _served(workload)
        (container,) = containers(workload)
        args = modelgw_parser().parse_args(container["command"][1:])
        # --models would replace MODELGW_WORKER_MODELS; --builtins would add every version.
        assert (args.command, args.models, args.builtins, args.consensus) == ("worker", None, False, False)
        assert workload.obj["metadata"]["annotations"] == {MODEL_LABEL: model, VERSION_LABEL: version}
        labels = pod_labels(workload)
        assert labels[MODEL_LABEL] == label_value(model)
        assert labels[VERSION_LABEL] == label_value(version)
        assert labels["model-gateway/role"] == "worker"
        assert pod_spec(workload)["terminationGracePeriodSeconds"] > args.drain_grace + 5


def test_each_selector_matches_its_pod_labels_and_no_other_deployment_s() -> None:
    for workload in _deployments():
        selector = workload.obj["spec"]["selector"]["matchLabels"].items()
        assert selector <= pod_labels(workload).items()
        others = [d.name for d in of_kind("Deployment") if selector <= pod_labels(d).items()]
        assert others == [workload.name]


def test_each_scaled_object_watches_its_version_s_queue_from_zero() -> None:
    for workload in _deployments():
        model, version = _served(workload)
        (container,) = containers(workload)
        spec = _scaled_object(workload).obj["spec"]
        (trigger,) = spec["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "redis-cluster-streams"
        assert meta["stream"] == keys.queue(model, version) != keys.queue(model)
        # The stream the workers read through keys.GROUP; KEDA would read XPENDING or
        # the group's lag if consumerGroup were set, XLEN only without (worker-rdkit.yaml).
        assert keys.GROUP == "workers"
        assert not {"consumerGroup", "lagCount", "pendingEntriesCount"} & set(meta)
        concurrency = modelgw_parser().parse_args(container["command"][1:]).concurrency
        assert int(meta["streamLength"]) == concurrency
        assert meta["addressesFromEnv"] in environment(container)
        assert spec["minReplicaCount"] == 0, "a drained version scales to zero"
        assert spec["maxReplicaCount"] >= 1 and spec["cooldownPeriod"] > 0


def test_example_queue_names() -> None:
    """The streams written in k8s/versions/, spelled out for a reader of this test."""
    assert keys.queue("rdkit.logp", "1.0.0") == "{mg:cee8}:queue:rdkit.logp@1.0.0"
    assert keys.queue("rdkit.logp", "1.2.0") == "{mg:cee8}:queue:rdkit.logp@1.2.0"


def test_every_name_is_a_dns_label_and_every_label_value_valid() -> None:
    for m in manifests():
        assert len(m.name) <= 63 and DNS_LABEL.fullmatch(m.name), f"{m.file}: {m.name}"
        labels = dict(m.obj["metadata"].get("labels", {}))
        if m.kind in ("Deployment", "StatefulSet"):
            labels |= pod_labels(m)
        for key, value in labels.items():
            assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), f"{m.name}: {key}={value}"


# -- the renderer ----------------------------------------------------------------------


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,2}", fullmatch=True),
    st.from_regex(VERSION, fullmatch=True),
)
def test_any_version_gets_a_dns_label_name(model: str, version: str) -> None:
    name = resource_name(model, version)
    assert len(name) <= 63 and DNS_LABEL.fullmatch(name), name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("rdkit.logp", "1.1.0"), ("rdkit.logp", "1-1-0")),
        (("rdkit.logp", "1.1.0+a"), ("rdkit.logp", "1.1.0.a")),
        (("rdkit.mol-weight", "1.0.0"), ("rdkit.mol.weight", "1.0.0")),
        (("rdkit.logp", "1" * 60 + "a"), ("rdkit.logp", "1" * 60 + "b")),
    ],
)
def test_versions_with_one_slug_get_different_names(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    assert resource_name(*a) != resource_name(*b)


def test_build_metadata_reaches_the_queue_and_the_annotation_exactly() -> None:
    worker = VersionedWorker("rdkit.logp", "1.2.0+build.7")
    rendered = deployment(worker)
    assert rendered["metadata"]["name"].startswith("worker-rdkit-logp-v1-2-0-build-7-")
    assert rendered["metadata"]["labels"][VERSION_LABEL] == "1.2.0_build.7"
    assert rendered["metadata"]["annotations"][VERSION_LABEL] == "1.2.0+build.7"
    env = rendered["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": MODELS_ENV, "value": "rdkit.logp@1.2.0+build.7"}]
    assert keys.queue("rdkit.logp", "1.2.0+build.7") in render(worker)


def test_rendered_deployment_passes_the_kubernetes_schema() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    worker = VersionedWorker("rdkit.logp", "2.0.0-rc.1+x", model_processes=2)
    kubernetes_validate.validate(deployment(worker), "1.37.0", strict=True)


def test_a_version_too_long_for_a_label_value_is_refused() -> None:
    with pytest.raises(ValueError, match="label value"):
        label_value("1" * 64)


@pytest.mark.parametrize(
    "argv",
    [[], ["rdkit.logp"], ["rdkit.logp", "1.0.0", "--concurrency", "0"], ["x", "1", "--regenerate", "f"]],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv)


def test_printed_manifests_are_the_rendered_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rdkit.logp", "1.2.0", "--model-processes", "2"]) == 0
    expected = render(VersionedWorker("rdkit.logp", "1.2.0", model_processes=2))
    assert capsys.readouterr().out == expected
