"""Consensus models end to end: Algorithm 1 from YAML, verification, jobs that
fan out to child models on real workers, nested consensus, cancellation, and
deletion of a model that a consensus model uses."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, Lipinski

from modelgateway.v1 import execution_pb2, job_pb2, model_pb2, registry_pb2
from tests.harness import spawn_modelgw, stop_process, unique_name

from .conftest import Jobs, _register, rpc_error, wait_visible_to_execution

pytestmark = pytest.mark.usefixtures("builtin_worker", "scheduler_process")
S, F, C = job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def algorithm_1(name: str, a: str = "rdkit.logp", b: str = "rdkit.esol") -> str:
    return f'''"{name}":
  CHILDMODELS:
    CHILDMODEL1:
      BACKEND: ChildModel1_Backend
      NAME: "{a}"
    CHILDMODEL2:
      BACKEND: ChildModel2_Backend
      NAME: "{b}"
  FORMULA: >
    "ChildModel1 <= 0 ?
    ChildModel1+ChildModel2 :
    ChildModel1*ChildModel2"
'''


def by_hand(smiles: str) -> float:
    """The paper's piecewise formula over logP and ESOL, from RDKit directly."""
    mol = Chem.MolFromSmiles(smiles)
    logp, mw = Crippen.MolLogP(mol), Descriptors.MolWt(mol)
    rb = Lipinski.NumRotatableBonds(mol)
    aromatic = sum(1 for atom in mol.GetAtoms() if atom.GetIsAromatic()) / mol.GetNumHeavyAtoms()
    esol = 0.16 - 0.63 * logp - 0.0062 * mw + 0.066 * rb - 0.74 * aromatic
    return logp + esol if logp <= 0 else logp * esol


def su(jobs: Jobs) -> Any:
    return jobs.mesh.metadata("root", superuser=True)


def run(jobs: Jobs, model: str, smiles: list[str], user: str = "alice") -> job_pb2.Job:
    records = []
    for s in smiles:
        record = struct_pb2.Struct()
        record.update({"smiles": s})
        records.append(record)
    job = jobs.stub().SubmitJob(
        execution_pb2.SubmitJobRequest(model=model, records=records), metadata=jobs.mesh.metadata(user)
    ).job
    return jobs.wait(job.id, user=user, timeout_s=60)


def test_algorithm_1_from_yaml_runs_both_branches_as_worked_out_by_hand(jobs: Jobs) -> None:
    name = unique_name("paper")
    imported = jobs.mesh.registry().ImportConsensusModel(
        registry_pb2.ImportConsensusModelRequest(yaml=algorithm_1(name)), metadata=su(jobs)
    )
    assert imported.version.backend.kind == "consensus"
    assert [c["alias"] for c in imported.version.backend.config["children"]] == ["CHILDMODEL1", "CHILDMODEL2"]
    jobs.mesh.registry().SetVisibility(
        registry_pb2.SetVisibilityRequest(name=name, visibility=model_pb2.VISIBILITY_PUBLIC), metadata=su(jobs)
    )
    request = registry_pb2.VerifyConsensusModelRequest(name=name, yaml=algorithm_1(name))
    request.sample.update({"ChildModel1": -2, "ChildModel2": 3})
    report = jobs.mesh.registry().VerifyConsensusModel(request, metadata=jobs.mesh.metadata("alice"))
    assert report.ok and report.has_sample_value and report.sample_value == 1.0
    assert dict(report.child_versions) == {"CHILDMODEL1": "1.0.0", "CHILDMODEL2": "1.0.0"}

    caffeine = run(jobs, name, [CAFFEINE])
    assert caffeine.status == S, caffeine.error.message
    output = caffeine.results[0].output
    assert output["consensus"] == pytest.approx(by_hand(CAFFEINE), abs=1e-3)  # logP < 0: A + B
    assert output["children"]["CHILDMODEL1"]["model"] == "rdkit.logp"
    assert output["children"]["CHILDMODEL1"]["version"] == "1.0.0"

    batch = run(jobs, name, [CAFFEINE, IBUPROFEN, ASPIRIN, "not-a-smiles"])
    assert batch.status == S
    values = [r.output["consensus"] for r in batch.results[:3]]
    assert values == pytest.approx([by_hand(s) for s in (CAFFEINE, IBUPROFEN, ASPIRIN)], abs=1e-3)
    assert by_hand(IBUPROFEN) == pytest.approx(values[1], abs=1e-3) and Crippen.MolLogP(Chem.MolFromSmiles(IBUPROFEN)) > 0
    assert "invalid SMILES" in batch.results[3].error  # a failed child record fails only that record
    assert {c.alias: c.status for c in batch.children} == {"CHILDMODEL1": S, "CHILDMODEL2": S}


def test_make_up_demo_consensus_models(jobs: Jobs) -> None:
    paper = run(jobs, "demo.paper-consensus", [CAFFEINE])
    assert paper.results[0].output["consensus"] == pytest.approx(by_hand(CAFFEINE), abs=1e-3)
    score = run(jobs, "demo.drug-likeness", [CAFFEINE]).results[0].output["score"]
    qed = run(jobs, "rdkit.qed", [CAFFEINE]).results[0].output["qed"]
    assert score == pytest.approx((2 * qed + 1 + 1) / 4, abs=1e-6)


def test_verification_reports_each_problem_with_its_location(jobs: Jobs) -> None:
    registry = jobs.mesh.registry()
    private = unique_name("private")
    _register(jobs.mesh, private, "workers.builtin.demo:echo", {"type": "object"}, {})
    registry.SetVisibility(registry_pb2.SetVisibilityRequest(name=private, visibility=model_pb2.VISIBILITY_PRIVATE), metadata=su(jobs))

    def problems(definition: dict[str, Any], name: str = "under-test", user: str = "alice") -> list[tuple[str, str]]:
        request = registry_pb2.VerifyConsensusModelRequest(name=name)
        request.definition.update(definition)
        reply = registry.VerifyConsensusModel(request, metadata=jobs.mesh.metadata(user, superuser=user == "root"))
        assert reply.ok == (not reply.problems)
        return [(p.kind, p.location) for p in reply.problems]

    def children(*pairs: tuple[str, str]) -> list[dict[str, str]]:
        return [{"alias": alias, "model": model} for alias, model in pairs]

    two = children(("A", "rdkit.logp"), ("B", "rdkit.tpsa"))
    assert problems({"children": two, "formula": "A <= 0 ? A+B : A*B"}) == []
    assert problems({"children": two, "formula": "A <= 0 ? A+ : A*B"}) == [("syntax_error", "formula:1:13")]  # the ":" where an operand belongs
    assert ("unknown_alias", "formula:1:5") in problems({"children": two, "formula": "A + C + B"})
    assert problems({"children": two, "formula": "A * 2"}) == [("unused_child", "children.B")]
    missing = problems({"children": children(("A", "rdkit.logp"), ("B", "no-such-model")), "formula": "A+B"}, user="root")
    assert missing == [("missing_child_model", "children.B.model")]
    hidden = problems({"children": children(("A", "rdkit.logp"), ("B", private)), "formula": "A+B"})
    assert [kind for kind, _ in hidden] == ["child_not_readable"]
    # a cycle: X uses Y, and verifying Y as a consensus of X
    x = unique_name("cyc-x")
    registry.ImportConsensusModel(registry_pb2.ImportConsensusModelRequest(yaml=algorithm_1(x, "rdkit.logp", "rdkit.esol")), metadata=su(jobs))
    cyclic = problems({"children": children(("A", x), ("B", "rdkit.logp")), "formula": "A+B"}, name=x, user="root")
    assert [kind for kind, _ in cyclic] == ["cycle"] and x in cyclic[0][1]
    refused = rpc_error(lambda: registry.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=x, version=_consensus_version("2", children(("A", x), ("B", "rdkit.logp")), "A+B")),
        metadata=su(jobs),
    ))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT and "cycle" in refused.details()


def _consensus_version(version: str, children: list[dict[str, str]], formula: str) -> model_pb2.ModelVersion:
    message = model_pb2.ModelVersion(version=version)
    message.backend.kind = "consensus"
    message.backend.config.update({"children": children, "formula": formula})
    return message


def _consensus_model(jobs: Jobs, children: list[dict[str, str]], formula: str) -> str:
    name = unique_name("cons")
    registry = jobs.mesh.registry()
    registry.CreateModel(registry_pb2.CreateModelRequest(model=model_pb2.Model(name=name)), metadata=su(jobs))
    registry.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=name, version=_consensus_version("1", children, formula)), metadata=su(jobs)
    )
    registry.SetVisibility(registry_pb2.SetVisibilityRequest(name=name, visibility=model_pb2.VISIBILITY_PUBLIC), metadata=su(jobs))
    wait_visible_to_execution(jobs.mesh, name)
    return name


def test_nested_consensus_and_watch_shows_the_children(jobs: Jobs) -> None:
    nested = _consensus_model(
        jobs, [{"alias": "P", "model": "demo.paper-consensus"}, {"alias": "Q", "model": "rdkit.qed"}], "P + 10 * Q"
    )
    job = jobs.stub().SubmitJob(
        execution_pb2.SubmitJobRequest(model=nested, records=[_smiles(CAFFEINE)]), metadata=jobs.mesh.metadata("alice")
    ).job
    seen_children = []
    for message in jobs.stub().WatchJob(execution_pb2.WatchJobRequest(id=job.id), metadata=jobs.mesh.metadata("alice"), timeout=60):
        if message.job.children:
            seen_children.append({c.alias: (c.job_id, c.status) for c in message.job.children})
    assert seen_children and all(job_id for job_id, _ in seen_children[-1].values())
    assert {status for _, status in seen_children[-1].values()} == {S}
    done = jobs.get(job.id)
    qed = run(jobs, "rdkit.qed", [CAFFEINE]).results[0].output["qed"]
    assert done.results[0].output["consensus"] == pytest.approx(by_hand(CAFFEINE) + 10 * qed, abs=1e-3)
    child = jobs.get(done.children[0].job_id)
    assert child.parent_id == job.id and child.model == "demo.paper-consensus"


def test_a_failed_child_fails_the_parent_and_cancel_reaches_the_children(jobs: Jobs) -> None:
    failing = jobs.model("fail")  # served by the session's workers; a numeric output schema added
    jobs.mesh.registry().CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=failing, version=_numeric_version()), metadata=su(jobs)
    )
    parent = _consensus_model(jobs, [{"alias": "A", "model": "rdkit.logp"}, {"alias": "B", "model": failing}], "A + B")
    failed = run(jobs, parent, [CAFFEINE])
    assert failed.status == F and "child B" in failed.error.message and "blew up on purpose" in failed.error.message

    sleepy = _consensus_model(jobs, [{"alias": "A", "model": "demo.sleep", "output": "slept"}, {"alias": "B", "model": "demo.sleep", "output": "slept"}], "A + B")
    record = struct_pb2.Struct()
    record.update({"seconds": 30})
    job = jobs.stub().SubmitJob(execution_pb2.SubmitJobRequest(model=sleepy, records=[record]), metadata=jobs.mesh.metadata("alice")).job
    deadline = time.monotonic() + 20
    while not jobs.get(job.id).children or not jobs.get(job.id).children[0].job_id:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    jobs.stub().CancelJob(execution_pb2.CancelJobRequest(id=job.id), metadata=jobs.mesh.metadata("alice"))
    sleeping_child = jobs.get(job.id).children[0].job_id
    deadline = time.monotonic() + 15
    while jobs.get(sleeping_child).status != C:
        assert time.monotonic() < deadline, "the child was not cancelled"
        time.sleep(0.2)
    assert jobs.get(job.id).status == C


def _numeric_version() -> model_pb2.ModelVersion:
    version = model_pb2.ModelVersion(version="2.0.0")
    version.backend.kind = "python"
    version.backend.config.update({"callable": "tests.gateway.execution.callables:fail"})
    version.output_schema.update({"type": "object", "properties": {"x": {"type": "number"}}})
    return version


def _smiles(smiles: str) -> struct_pb2.Struct:
    record = struct_pb2.Struct()
    record.update({"smiles": smiles})
    return record


def test_deleting_a_model_a_consensus_uses_is_refused_unless_forced(jobs: Jobs) -> None:
    child = unique_name("child")
    _register(jobs.mesh, child, "workers.builtin.demo:echo", {"type": "object"}, {})
    version = _numeric_version()
    version.version = "9"
    jobs.mesh.registry().CreateModelVersion(registry_pb2.CreateModelVersionRequest(model=child, version=version), metadata=su(jobs))
    parent = _consensus_model(jobs, [{"alias": "A", "model": child}, {"alias": "B", "model": "rdkit.logp"}], "A - B")
    refused = rpc_error(lambda: jobs.mesh.registry().DeleteModel(registry_pb2.DeleteModelRequest(name=child), metadata=su(jobs)))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION and parent in refused.details()
    denied = rpc_error(lambda: jobs.mesh.registry().DeleteModel(registry_pb2.DeleteModelRequest(name=child, force=True), metadata=jobs.mesh.metadata("alice")))
    assert denied.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
    jobs.mesh.registry().DeleteModel(registry_pb2.DeleteModelRequest(name=child, force=True), metadata=su(jobs))


def test_a_private_child_stays_private_through_a_public_consensus(jobs: Jobs) -> None:
    """The consensus publishes the child's value in its own result; the child's
    job stays readable only by readers of the child model (and its owners)."""
    secret = unique_name("secret")
    registry = jobs.mesh.registry()
    registry.CreateModel(registry_pb2.CreateModelRequest(model=model_pb2.Model(name=secret)), metadata=su(jobs))
    version = model_pb2.ModelVersion(version="1")
    version.backend.kind = "python"
    version.backend.config.update({"callable": "workers.builtin.demo:sleep"})
    version.input_schema.update({"type": "object"})
    version.output_schema.update({"type": "object", "properties": {"slept": {"type": "number"}}})
    registry.CreateModelVersion(registry_pb2.CreateModelVersionRequest(model=secret, version=version), metadata=su(jobs))
    registry.GrantAccess(
        registry_pb2.GrantAccessRequest(name=secret, user="carol", role=model_pb2.ACCESS_ROLE_OWNER), metadata=su(jobs)
    )
    worker = spawn_modelgw(jobs.mesh, ["worker", "--models", secret, "--drain-grace", "1"], f"worker-{secret}")
    try:
        parent = _consensus_model(
            jobs,
            [{"alias": "A", "model": secret, "output": "slept"}, {"alias": "B", "model": "demo.sleep", "output": "slept"}],
            "A + B",
        )
        record = struct_pb2.Struct()
        record.update({"seconds": 0})
        job = jobs.stub().SubmitJob(
            execution_pb2.SubmitJobRequest(model=parent, records=[record]), metadata=jobs.mesh.metadata("eve")
        ).job
        done = jobs.wait(job.id, user="eve", timeout_s=60)
    finally:
        stop_process(worker)
    assert done.status == S, done.error.message
    assert done.results[0].output["children"]["A"]["model"] == secret  # published by the consensus
    child_id = next(c.job_id for c in done.children if c.alias == "A")
    public_child_id = next(c.job_id for c in done.children if c.alias == "B")

    stranger = jobs.mesh.metadata("eve")
    for call in (
        lambda: jobs.stub().GetJob(execution_pb2.GetJobRequest(id=child_id), metadata=stranger),
        lambda: list(jobs.stub().WatchJob(execution_pb2.WatchJobRequest(id=child_id), metadata=stranger)),
        lambda: jobs.stub().CancelJob(execution_pb2.CancelJobRequest(id=child_id), metadata=stranger),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND
    listed = jobs.stub().ListJobs(execution_pb2.ListJobsRequest(page_size=1000), metadata=stranger).jobs
    assert {j.id for j in listed} >= {job.id, public_child_id}
    assert child_id not in {j.id for j in listed}
    assert all(j.model != secret for j in listed)
    # The child's owner and superusers still see the child job; a reader of the child does too.
    assert jobs.get(child_id, user="carol").parent_id == job.id
    registry.GrantAccess(
        registry_pb2.GrantAccessRequest(name=secret, user="eve", role=model_pb2.ACCESS_ROLE_READER), metadata=su(jobs)
    )
    wait_visible_to_execution_of(jobs, child_id, "eve")


def wait_visible_to_execution_of(jobs: Jobs, job_id: str, user: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            jobs.get(job_id, user=user)
            return
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert time.monotonic() < deadline, f"{user} cannot see job {job_id}"
            time.sleep(0.05)
