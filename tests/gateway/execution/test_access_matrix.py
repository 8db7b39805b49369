"""Every role against every ExecutionService RPC, as one table.

A private model with an owner and two readers; one reader (the submitter) has
submitted a job, which no worker serves, so it stays QUEUED. Roles: superuser;
the owner; the submitter; the other reader; a stranger; a stranger once the
model is public; the submitter once their grant is revoked (a job is seen by
its submitter only while they may read its model, which is what keeps a
private child of a public consensus private); and strangers named like roles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from modelgateway.v1 import execution_pb2, execution_pb2_grpc, model_pb2, registry_pb2
from tests.harness import Mesh, matrix_cases, unique_name

from .conftest import register_backend

OK, NF = "OK", grpc.StatusCode.NOT_FOUND
ROLES = ("superuser", "owner", "submitter", "reader", "stranger", "public", "revoked")
HOSTILE_NAMES = ("owner", "reader", "role:owner", "group:everyone", "user:", "*:")
E = execution_pb2
Stub = execution_pb2_grpc.ExecutionServiceStub


@dataclass
class Scene:
    model: str
    owner: str
    submitter: str
    reader: str
    job_id: str


def _record() -> struct_pb2.Struct:
    record = struct_pb2.Struct()
    record.update({"n": 1})
    return record


class JobRefused(grpc.RpcError):
    """A google.rpc.Status of one item of a call (a SubmitJobs job, a WatchJobs
    entry), raised as the call's own refusal would be."""

    def __init__(self, status: Any) -> None:
        super().__init__(status.message)
        self.status = status

    def code(self) -> grpc.StatusCode:
        return next(c for c in grpc.StatusCode if c.value[0] == self.status.code)

    def details(self) -> str:
        return str(self.status.message)


EntryError = JobRefused  # a WatchJobs entry's error, raised as the call's would be


def _one_of_a_batch(s: Stub, c: Scene, md: Any) -> Any:
    """SubmitJobs of one job: the call succeeds, the job's result says what SubmitJob would."""
    request = E.SubmitJobsRequest(jobs=[E.SubmitJobRequest(model=c.model, records=[_record()])])
    [result] = s.SubmitJobs(request, metadata=md).results
    if result.HasField("error"):
        raise JobRefused(result.error)
    return result


def _only_entry(stream: Any) -> Any:
    (entry,) = next(iter(stream)).jobs
    if entry.HasField("error"):
        raise EntryError(entry.error)
    return entry


Call = Callable[[Stub, Scene, Any], Any]
MATRIX: dict[str, tuple[Call, tuple[Any, ...]]] = {
    "SubmitJob": (
        lambda s, c, md: s.SubmitJob(E.SubmitJobRequest(model=c.model, records=[_record()]), metadata=md),
        (OK, OK, OK, OK, NF, OK, NF),
    ),
    # The right to run is decided per job, with SubmitJob's answers.
    "SubmitJobs": (_one_of_a_batch, (OK, OK, OK, OK, NF, OK, NF)),
    "GetJob": (
        lambda s, c, md: s.GetJob(E.GetJobRequest(id=c.job_id), metadata=md),
        (OK, OK, OK, NF, NF, NF, NF),
    ),
    "WatchJob": (
        lambda s, c, md: next(iter(s.WatchJob(E.WatchJobRequest(id=c.job_id), metadata=md, timeout=10))),
        (OK, OK, OK, NF, NF, NF, NF),
    ),
    # Decided per job: the job's own entry stands for the call's status.
    "WatchJobs": (
        lambda s, c, md: _only_entry(s.WatchJobs(E.WatchJobsRequest(ids=[c.job_id]), metadata=md, timeout=10)),
        (OK, OK, OK, NF, NF, NF, NF),
    ),
    "CancelJob": (
        lambda s, c, md: s.CancelJob(E.CancelJobRequest(id=c.job_id), metadata=md),
        (OK, OK, OK, NF, NF, NF, NF),
    ),
    "ListJobs": (
        lambda s, c, md: s.ListJobs(E.ListJobsRequest(model=c.model), metadata=md),
        (OK, OK, OK, OK, NF, OK, NF),
    ),
}
# Who finds the submitter's job in ListJobs of the model, among those it answers.
LISTS_THE_JOB = {"superuser", "owner", "submitter"}

CASES = matrix_cases(MATRIX, ROLES, HOSTILE_NAMES)


@pytest.fixture
def scene(mesh: Mesh) -> Scene:
    return make_scene(mesh)


@pytest.fixture(scope="module")
def shared_scene(mesh: Mesh) -> Scene:
    """A scene for the cases that change nothing in it: every refusal and every call
    but a cancellation, by any role but those that change the model (public, revoked)."""
    return make_scene(mesh)


def scene_for(request: pytest.FixtureRequest, rpc: str, role: str, expected: Any) -> Scene:
    changes = role in ("public", "revoked") or (rpc == "CancelJob" and expected == OK)
    scene: Scene = request.getfixturevalue("scene" if changes else "shared_scene")
    return scene


def make_scene(mesh: Mesh) -> Scene:
    name = unique_name("xm")
    register_backend(mesh, name, "python", {"callable": "workers.builtin.demo:echo"}, public=False)
    su = mesh.metadata("root", superuser=True)
    registry = mesh.registry()
    owner, submitter, reader = (f"{who}-{name}" for who in ("owner", "rita", "reid"))
    for user, role in ((owner, model_pb2.ACCESS_ROLE_OWNER), (submitter, model_pb2.ACCESS_ROLE_READER),
                       (reader, model_pb2.ACCESS_ROLE_READER)):
        registry.GrantAccess(registry_pb2.GrantAccessRequest(name=name, user=user, role=role), metadata=su)
    job = Stub(mesh.channel("execution")).SubmitJob(
        E.SubmitJobRequest(model=name, records=[_record()]), metadata=mesh.metadata(submitter)
    ).job
    return Scene(name, owner, submitter, reader, job.id)


def caller_metadata(mesh: Mesh, scene: Scene, role: str) -> Any:
    su = mesh.metadata("root", superuser=True)
    registry = mesh.registry()
    users = {"owner": scene.owner, "submitter": scene.submitter, "reader": scene.reader}
    if role == "superuser":
        return su
    if role in users:
        return mesh.metadata(users[role])
    if role.startswith("named:"):
        return mesh.metadata(role.removeprefix("named:"))
    if role == "public":
        registry.SetVisibility(
            registry_pb2.SetVisibilityRequest(name=scene.model, visibility=model_pb2.VISIBILITY_PUBLIC),
            metadata=su,
        )
    if role == "revoked":
        registry.RevokeAccess(
            registry_pb2.RevokeAccessRequest(name=scene.model, user=scene.submitter, role=model_pb2.ACCESS_ROLE_READER),
            metadata=su,
        )
        _until_hidden(mesh, scene)
        return mesh.metadata(scene.submitter)
    return mesh.metadata(f"stranger-{scene.model}")


def _until_hidden(mesh: Mesh, scene: Scene, timeout_s: float = 5.0) -> None:
    """A revocation reaches the execution server by NOTIFY, within milliseconds."""
    stub, md = Stub(mesh.channel("execution")), mesh.metadata(scene.submitter)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            stub.ListJobs(E.ListJobsRequest(model=scene.model), metadata=md)
        except grpc.RpcError as error:
            assert error.code() == NF
            return
        assert time.monotonic() < deadline, "the revocation did not reach the execution server"
        time.sleep(0.02)


@pytest.mark.parametrize(("rpc", "role", "expected"), CASES)
def test_role_against_rpc(
    mesh: Mesh, request: pytest.FixtureRequest, rpc: str, role: str, expected: Any
) -> None:
    call, _ = MATRIX[rpc]
    scene = scene_for(request, rpc, role, expected)
    metadata = caller_metadata(mesh, scene, role)
    stub = Stub(mesh.channel("execution"))
    if expected != OK:
        with pytest.raises(grpc.RpcError) as failure:
            call(stub, scene, metadata)
        assert failure.value.code() == expected, failure.value.details()
        return
    reply = call(stub, scene, metadata)
    if rpc == "ListJobs":
        assert (scene.job_id in {j.id for j in reply.jobs}) == (role in LISTS_THE_JOB)


def test_every_rpc_is_in_the_matrix() -> None:
    methods = E.DESCRIPTOR.services_by_name["ExecutionService"].methods_by_name
    assert set(MATRIX) == set(methods)


def test_own_jobs_list_only_models_one_may_still_read(mesh: Mesh, scene: Scene) -> None:
    stub, md = Stub(mesh.channel("execution")), mesh.metadata(scene.submitter)
    assert scene.job_id in {j.id for j in stub.ListJobs(E.ListJobsRequest(), metadata=md).jobs}
    caller_metadata(mesh, scene, "revoked")
    assert scene.job_id not in {j.id for j in stub.ListJobs(E.ListJobsRequest(), metadata=md).jobs}
