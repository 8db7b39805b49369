"""SubmitJob follows a model's default version soon after it changes, though the
execution server answers from a cached resolution in the meantime."""

from __future__ import annotations

import time

from modelgateway.v1 import model_pb2, registry_pb2
from tests.execution.conftest import Jobs, _register


def test_a_new_default_version_is_used_within_seconds(jobs: Jobs) -> None:
    name = jobs.model("moving-default")
    _register(jobs.mesh, name, "workers.builtin.demo:echo", {"type": "object"}, {})
    su = jobs.mesh.metadata("root", superuser=True)
    registry = jobs.mesh.registry()
    suffix = "moving-default"
    assert jobs.submit(suffix, [{"x": 1}]).version == "1.0.0"

    version = model_pb2.ModelVersion(version="2.0.0")
    version.backend.kind = "python"
    version.backend.config.update({"callable": "workers.builtin.demo:echo"})
    version.input_schema.update({"type": "object"})
    registry.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=name, version=version), metadata=su
    )
    registry.SetDefaultVersion(
        registry_pb2.SetDefaultVersionRequest(name=name, version="2.0.0"), metadata=su
    )
    changed = time.monotonic()
    # MODELGW_RESOLUTION_CACHE is 1 s: the first call after it starts the refresh,
    # and a call shortly after runs the new default.
    seen = []
    while time.monotonic() - changed < 5:
        seen.append(jobs.submit(suffix, [{"x": 1}]).version)
        if seen[-1] == "2.0.0":
            break
        time.sleep(0.05)
    assert seen[-1] == "2.0.0", seen
    assert time.monotonic() - changed < 3
    # Naming a version bypasses the resolution altogether.
    assert jobs.submit(suffix, [{"x": 1}], version="1.0.0").version == "1.0.0"
