"""The admin server hosts RolloutService beside AdminService: ready by its own name,
and listed by reflection, so probes and grpcurl find it."""

from __future__ import annotations

import time

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.harness import Mesh


def test_rollout_service_is_ready_and_reflected(mesh: Mesh) -> None:
    health = health_pb2_grpc.HealthStub(mesh.channel("admin"))
    request = health_pb2.HealthCheckRequest(service="modelgateway.v1.RolloutService")
    deadline = time.monotonic() + 5  # readiness follows the stores' first probe
    while health.Check(request, timeout=5).status != health_pb2.HealthCheckResponse.SERVING:
        assert time.monotonic() < deadline, "RolloutService not ready"
        time.sleep(0.1)
    stub = reflection_pb2_grpc.ServerReflectionStub(mesh.channel("admin"))
    [reply] = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for s in reply.list_services_response.service}
    assert {"modelgateway.v1.AdminService", "modelgateway.v1.RolloutService"} <= names
