"""Renders the workers of one model version: a Deployment whose pods serve that
version alone (MODELGW_WORKER_MODELS=model@version) and the KEDA ScaledObject that
scales it on that version's queue, from zero.

    python -m k8s.versioned_worker rdkit.logp 1.2.0 --concurrency 16 > FILE
    python -m k8s.versioned_worker --regenerate k8s/versions/*.yaml

The first line of a rendered file is the command that printed it; --regenerate
reruns each file's own command and rewrites the file (tests/k8s fails on a file
that differs from what its command prints). See k8s/README.md, "Workers per version".
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scheduler import keys
from settings.process import METRICS_PORTS
from workers.settings import MODELS_ENV

COMMAND = "python -m k8s.versioned_worker"
HEADER = f"# Rendered by: {COMMAND} "
MAX_NAME = 63  # a DNS-1123 label: also the longest label value
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
MODEL_LABEL = "model-gateway/model"
VERSION_LABEL = "model-gateway/version"
Obj = dict[str, Any]


@dataclass(frozen=True)
class VersionedWorker:
    """One version's worker group: what it runs and how large it grows."""

    model: str
    version: str
    image: str = "modelgw"
    concurrency: int = 16
    model_processes: int | None = None
    cpu: str = "1"
    memory: str = "512Mi"
    memory_limit: str = "2Gi"
    max_replicas: int = 10
    drain_grace: int = 30

    @property
    def name(self) -> str:
        return resource_name(self.model, self.version)


def resource_name(model: str, version: str) -> str:
    """`worker-<model>-v<version>-<hash>`, a DNS-1123 label. Dots, '+' and '_' become
    '-', so different versions can share a slug ('1.1.0', '1-1-0'): the hash of the
    exact `model@version` keeps their names apart."""
    digest = hashlib.sha256(f"{model}@{version}".encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", f"{model}-v{version}".lower()).strip("-")
    slug = slug[: MAX_NAME - len("worker--") - len(digest)].rstrip("-")
    return f"worker-{slug}-{digest}"


def label_value(text: str) -> str:
    """text as a Kubernetes label value: '+' (semver build metadata) becomes '_'.
    The exact text is kept in the annotation of the same key."""
    value = text.replace("+", "_")
    if len(value) > MAX_NAME or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(f"{text!r} cannot be a label value (at most 63 of [-A-Za-z0-9_.])")
    return value


def _identity(worker: VersionedWorker) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations naming the worker group's model and version."""
    labels = {MODEL_LABEL: label_value(worker.model), VERSION_LABEL: label_value(worker.version)}
    return labels, {MODEL_LABEL: worker.model, VERSION_LABEL: worker.version}


def _selector(worker: VersionedWorker) -> dict[str, str]:
    return {"app.kubernetes.io/name": "modelgw", "app.kubernetes.io/component": worker.name}


def _command(worker: VersionedWorker) -> list[str]:
    # No --models: it would replace MODELGW_WORKER_MODELS, which names the version.
    command = ["modelgw", "worker", "--concurrency", str(worker.concurrency)]
    if worker.model_processes is not None:
        command += ["--model-processes", str(worker.model_processes)]
    return [*command, "--drain-grace", str(worker.drain_grace)]


def _container(worker: VersionedWorker) -> Obj:
    return {
        "name": "worker",
        "image": worker.image,
        "command": _command(worker),
        "env": [{"name": MODELS_ENV, "value": f"{worker.model}@{worker.version}"}],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORTS["worker"], "protocol": "TCP"}],
        "envFrom": [
            {"configMapRef": {"name": "modelgw-config"}},
            {"secretRef": {"name": "modelgw-redis"}},
        ],
        "resources": {
            "requests": {"cpu": worker.cpu, "memory": worker.memory},
            "limits": {"memory": worker.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "home", "mountPath": "/var/lib/modelgw"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _pod_spec(worker: VersionedWorker) -> Obj:
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        # Outlasts --drain-grace, as in worker-rdkit.yaml.
        "terminationGracePeriodSeconds": worker.drain_grace + 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(worker)],
        "volumes": [
            {"name": "home", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }


def deployment(worker: VersionedWorker) -> Obj:
    """The version's workers; no replicas, the ScaledObject owns the count."""
    labels, annotations = _identity(worker)
    port = str(METRICS_PORTS["worker"])
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": port}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": worker.name,
            "labels": {**_selector(worker), **labels},
            "annotations": annotations,
        },
        "spec": {
            "revisionHistoryLimit": 5,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "selector": {"matchLabels": _selector(worker)},
            "template": {
                "metadata": {
                    "annotations": {**scrape, "prometheus.io/path": "/metrics", **annotations},
                    "labels": {**_selector(worker), "model-gateway/role": "worker", **labels},
                },
                "spec": _pod_spec(worker),
            },
        },
    }


def scaled_object(worker: VersionedWorker) -> Obj:
    """Scales the version's workers on its stream's length, from and to zero."""
    labels, annotations = _identity(worker)
    trigger = {
        # XLEN, as worker-rdkit.yaml explains: the workers delete what they finish,
        # so it counts jobs waiting plus running. A consumerGroup would switch KEDA
        # to XPENDING or lag, which cannot wake a version at zero or reads nil.
        "addressesFromEnv": "REDIS_CLUSTER_ADDRESSES",
        "stream": keys.queue(worker.model, worker.version),
        "streamLength": str(worker.concurrency),
    }
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": worker.name, "labels": labels, "annotations": annotations},
        "spec": {
            "scaleTargetRef": {"name": worker.name},
            "pollingInterval": 10,
            "minReplicaCount": 0,
            "maxReplicaCount": worker.max_replicas,
            "cooldownPeriod": 300,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 120,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
                        }
                    }
                }
            },
            "triggers": [{"type": "redis-cluster-streams", "metadata": trigger}],
        },
    }


def arguments(worker: VersionedWorker) -> list[str]:
    """The command-line arguments that render worker (every option spelled out)."""
    out = [worker.model, worker.version, "--image", worker.image]
    out += ["--concurrency", str(worker.concurrency)]
    if worker.model_processes is not None:
        out += ["--model-processes", str(worker.model_processes)]
    out += ["--cpu", worker.cpu, "--memory", worker.memory, "--memory-limit", worker.memory_limit]
    return [
        *out,
        "--max-replicas",
        str(worker.max_replicas),
        "--drain-grace",
        str(worker.drain_grace),
    ]


def render(worker: VersionedWorker) -> str:
    """The two manifests as one YAML file, headed by the command that renders it."""
    header = [
        HEADER + shlex.join(arguments(worker)),
        "# Do not edit: change the command above and rerun it (or --regenerate this file).",
        f"# Workers for version {worker.version} of {worker.model} alone, and their",
        "# ScaledObject: from zero on the version's queue, back to zero once it is drained.",
    ]
    docs = [deployment(worker), scaled_object(worker)]
    return "\n".join(header) + "\n" + yaml.safe_dump_all(docs, sort_keys=False, width=100)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("version", nargs="?")
    parser.add_argument("--image", default="modelgw", help="kustomize's image name by default")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs a worker runs at once")
    parser.add_argument("--model-processes", type=int, help="python model processes per worker")
    parser.add_argument("--cpu", default="1", help="CPU request per worker")
    parser.add_argument("--memory", default="512Mi", help="memory request per worker")
    parser.add_argument("--memory-limit", default="2Gi", help="memory limit per worker")
    parser.add_argument("--max-replicas", type=int, default=10)
    parser.add_argument("--drain-grace", type=int, default=30, help="seconds on SIGTERM")
    parser.add_argument(
        "--regenerate", nargs="+", type=Path, metavar="FILE", help="rerun each file's command"
    )
    return parser


def parse(argv: Sequence[str]) -> VersionedWorker:
    """The worker group the arguments describe (SystemExit on bad ones)."""
    args = _parser().parse_args(argv)
    if args.model is None or args.version is None or args.regenerate:
        _parser().error("give MODEL VERSION (without --regenerate)")
    for value in (args.concurrency, args.max_replicas, args.drain_grace, args.model_processes):
        if value is not None and value < 1:
            _parser().error("counts and the drain grace are at least 1")
    fields = {k: v for k, v in vars(args).items() if k != "regenerate"}
    return VersionedWorker(**fields)


def file_arguments(text: str) -> list[str]:
    """The arguments in a rendered file's first line."""
    first = text.split("\n", 1)[0]
    if not first.startswith(HEADER):
        raise ValueError(f"not rendered by {COMMAND}: {first!r}")
    return shlex.split(first[len(HEADER) :])


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    files = _parser().parse_args(argv).regenerate
    if not files:
        sys.stdout.write(render(parse(argv)))
        return 0
    for file in files:
        worker = parse(file_arguments(file.read_text(encoding="utf-8")))
        file.write_text(render(worker), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
