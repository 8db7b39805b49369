"""k8s/Dockerfile carries what the manifests run. There is no container engine on
the development machine, so the image itself is not built by the tests."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tests.k8s._manifests import K8S, containers, image_user, of_kind, pod_spec, workloads

ROOT = K8S.parent
DOCKERFILE = (K8S / "Dockerfile").read_text(encoding="utf-8")


def _copied() -> set[str]:
    return {m.rstrip("/") for m in re.findall(r"^COPY (\S+)/ ", DOCKERFILE, re.MULTILINE)}


def test_image_copies_every_package_and_what_the_edge_reads() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    roots = {p.split(".")[0] for p in setuptools["packages"]} - set(setuptools["package-dir"])
    roots |= {Path(d).parts[0] for d in setuptools["package-dir"].values()}
    # The edge renders from envoy/envoy.template.yaml and protos/ beside gateway/.
    assert roots | {"envoy", "protos"} <= _copied()
    assert "pip install -e /app" in DOCKERFILE


def test_build_context_keeps_everything_the_image_copies() -> None:
    # BuildKit drops what <Dockerfile>.dockerignore matches before COPY runs: a
    # copied folder that matches fails the build.
    ignore = (K8S / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip().removeprefix("**/").rstrip("/") for line in ignore]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    for copied in _copied():
        matched = [p for p in patterns if fnmatch(copied, p)]
        assert not matched, f"COPY {copied}/ but the build context drops it ({matched})"


def test_image_user_is_the_pods_user() -> None:
    uid, gid = image_user()
    assert uid != 0 and gid != 0
    assert f"groupadd --gid {gid} modelgw" in DOCKERFILE
    assert re.search(rf"useradd --uid {uid} --gid {gid} ", DOCKERFILE)
    assert f"install -d -o {uid} -g {gid} /var/lib/modelgw" in DOCKERFILE
    for workload in workloads():
        context = pod_spec(workload)["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid), workload.name


def test_image_puts_envoy_on_the_path() -> None:
    assert "/usr/local/bin/envoy" in DOCKERFILE
    (edge,) = [d for d in of_kind("Deployment") if d.name == "edge"]
    assert containers(edge, init=False)[0]["command"][0] == "envoy"


def test_home_in_the_image_matches_the_config_map() -> None:
    (config,) = [m for m in of_kind("ConfigMap") if m.name == "modelgw-config"]
    home = config.obj["data"]["MODELGW_HOME"]
    assert f"ENV MODELGW_HOME={home}" in DOCKERFILE
