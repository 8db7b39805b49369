"""Every AdminService RPC: superusers get an answer, everyone else PERMISSION_DENIED."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from modelgateway.v1 import admin_pb2 as A
from modelgateway.v1 import admin_pb2_grpc
from tests.harness import Mesh

from .conftest import admin_stub

Stub = admin_pb2_grpc.AdminServiceStub

# Calls that change nothing even for a superuser (a dry run; a reset without
# confirmation), so the superuser column can run them against the session mesh.
CALLS: dict[str, tuple[Callable[[Stub, Any], Any], grpc.StatusCode]] = {
    "RefreshModelDatabase": (
        lambda s, md: s.RefreshModelDatabase(A.RefreshModelDatabaseRequest(dry_run=True), metadata=md),
        grpc.StatusCode.OK,
    ),
    "ResetModelDatabase": (
        lambda s, md: s.ResetModelDatabase(A.ResetModelDatabaseRequest(confirm="no"), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "QueryModelDatabase": (
        lambda s, md: s.QueryModelDatabase(A.QueryModelDatabaseRequest(sql="SELECT 1 AS one"), metadata=md),
        grpc.StatusCode.OK,
    ),
    "GetJobStats": (
        lambda s, md: s.GetJobStats(A.GetJobStatsRequest(), metadata=md),
        grpc.StatusCode.OK,
    ),
    "WatchJobStats": (
        lambda s, md: next(iter(s.WatchJobStats(A.WatchJobStatsRequest(interval_seconds=1), metadata=md))),
        grpc.StatusCode.OK,
    ),
}


def _code(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_every_admin_rpc_is_covered() -> None:
    methods = A.DESCRIPTOR.services_by_name["AdminService"].methods_by_name
    assert set(methods) == set(CALLS)


@pytest.mark.parametrize("rpc", sorted(CALLS))
def test_superuser_only(mesh: Mesh, rpc: str) -> None:
    call, superuser_code = CALLS[rpc]
    stub = admin_stub(mesh)
    assert _code(lambda: call(stub, mesh.metadata("root", superuser=True))) == superuser_code
    for user in ("olga", "rita"):
        assert _code(lambda u=user: call(stub, mesh.metadata(u))) == grpc.StatusCode.PERMISSION_DENIED
    assert _code(lambda: call(stub, ())) == grpc.StatusCode.UNAUTHENTICATED
