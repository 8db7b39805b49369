"""modelgw.Client end to end: models, jobs, watch, cancel, many callers on one channel."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem import Crippen

import modelgw
from scheduler import keys
from tests.gateway.conftest import create_model
from tests.gateway.edge.conftest import Edge

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"


def logp(smiles: str) -> float:
    return float(Crippen.MolLogP(Chem.MolFromSmiles(smiles)))


def test_caffeine_logp_equals_rdkit_own(alice: modelgw.Client) -> None:
    job = alice.submit("rdkit.logp", [{"smiles": CAFFEINE}, {"smiles": "not a molecule"}])
    assert isinstance(job, modelgw.Job) and job.model == "rdkit.logp" and job.version
    results = job.result(timeout_s=60)
    assert results[0].output is not None
    assert results[0].output["logp"] == pytest.approx(logp(CAFFEINE), abs=1e-9)
    assert results[0].error is None
    assert results[1].output is None and results[1].error
    info = job.info()
    assert info.status == "SUCCEEDED" and info.done and info.record_count == 2
    assert info.created is not None and info.ended is not None and info.created <= info.ended
    assert job.status() == "SUCCEEDED"


def test_models_are_plain_dataclasses(alice: modelgw.Client) -> None:
    model = alice.get_model("rdkit.logp")
    assert model.name == "rdkit.logp" and model.resolved_version in model.versions
    assert "rdkit.logp" in {m.name for m in alice.list_models()}
    versions = alice.list_versions("rdkit.logp")
    assert [v.version for v in versions] == list(model.versions)
    current = alice.get_version("rdkit.logp")
    assert current.version == model.resolved_version
    assert current.input_schema["type"] == "object" and current.backend_kind == "python"


def test_submit_many_and_list_jobs(alice: modelgw.Client) -> None:
    batches = [[{"smiles": "C" * n}] for n in range(1, 4)]
    jobs = alice.submit_many("rdkit.logp", batches)
    assert len({j.id for j in jobs}) == 3
    for job, batch in zip(jobs, batches, strict=True):
        assert job.result(timeout_s=60)[0].output == {
            "logp": pytest.approx(logp(batch[0]["smiles"]))
        }
    listed = {j.id for j in alice.list_jobs(model="rdkit.logp", status="succeeded", limit=500)}
    assert {j.id for j in jobs} <= listed
    assert len(alice.list_jobs(limit=2)) <= 2
    assert alice.job(jobs[0].id).id == jobs[0].id


def test_submit_many_queues_the_good_jobs_and_raises_for_the_rest(alice: modelgw.Client) -> None:
    batches = [[{"smiles": "CCO"}], [{"smiles": 5}], [{"smiles": "CCC"}, {"smiles": "C"}]]
    with pytest.raises(modelgw.JobsRefused) as refused:
        alice.submit_many("rdkit.logp", batches)
    error = refused.value
    assert error.code.name == "INVALID_ARGUMENT" and "1 of 3 jobs were refused" in error.message
    assert [j is None for j in error.jobs] == [False, True, False]
    [(index, why)] = error.errors.items()
    assert index == 1 and isinstance(why, modelgw.InvalidInput)
    assert (why.record_index, why.field_path) == (0, "/smiles")
    assert [len(j.result(timeout_s=60)) for j in error.accepted] == [1, 2]
    with pytest.raises(modelgw.JobsRefused) as unknown:
        alice.submit_many("no-such-model", [[{"smiles": "C"}]])
    assert isinstance(unknown.value.errors[0], modelgw.NotFound) and unknown.value.jobs == [None]


def test_watch_yields_one_item_per_status_change(alice: modelgw.Client) -> None:
    job = alice.submit("rdkit.logp", [{"smiles": CAFFEINE}] * 200)
    seen = [info.status for info in job.watch()]
    assert seen[-1] == "SUCCEEDED"
    assert len(seen) == len(set(seen)) and set(seen) <= {"QUEUED", "RUNNING", "SUCCEEDED"}
    final = job.wait(timeout_s=5)
    assert len(final.results) == 200


def test_watch_many_and_wait_all_follow_many_jobs_on_one_stream(alice: modelgw.Client) -> None:
    jobs = alice.submit_many("rdkit.logp", [[{"smiles": "C" * n}] for n in range(1, 6)])
    seen: dict[str, list[str]] = {}
    for job, info in alice.watch_many(jobs, timeout_s=60):
        assert job in jobs and info.id == job.id
        seen.setdefault(job.id, []).append(info.status)
    assert set(seen) == {j.id for j in jobs}
    assert all(s[-1] == "SUCCEEDED" and len(s) == len(set(s)) for s in seen.values())
    # Ids do as well as handles, repeated or in capitals; finals come in the order given.
    ids = [jobs[2].id.upper(), jobs[0].id, jobs[2].id]
    finals = alice.wait_all(ids, timeout_s=30)
    assert [f.id for f in finals] == [jobs[2].id, jobs[0].id, jobs[2].id]
    assert finals[1].results[0].output == {"logp": pytest.approx(logp("C"))}
    with pytest.raises(modelgw.NotFound, match="not found"):
        alice.wait_all([jobs[0], keys.new_job_id("rdkit.logp")], timeout_s=30)


def test_wait_all_times_out_on_jobs_that_wait(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)  # no worker serves it: its jobs stay queued
    with modelgw.Client(gateway.address, gateway.mesh.token(fixture.reader)) as reader:
        job = reader.submit(fixture.name, [{"smiles": "C"}])
        with pytest.raises(TimeoutError, match="1 of 1 jobs did not finish"):
            reader.wait_all([job], timeout_s=0.3)
        reader.wait_all([job.cancel().id], timeout_s=10)


def test_cancel_a_queued_job_and_result_raises_job_failed(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)  # no worker serves it: its jobs stay queued
    with modelgw.Client(gateway.address, gateway.mesh.token(fixture.reader)) as reader:
        job = reader.submit(fixture.name, [{"smiles": "C"}])
        queued = job.info()
        assert queued.status == "QUEUED" and queued.jobs_ahead == 0
        with pytest.raises(TimeoutError):
            job.wait(timeout_s=1.5)
        assert job.cancel().status == "CANCELLED"
        with pytest.raises(modelgw.JobFailed) as failure:
            job.result(timeout_s=10)
        assert failure.value.job.status == "CANCELLED" and job.id in failure.value.message


def test_with_token_shares_the_channel_for_another_caller(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)
    with modelgw.Client(gateway.address, gateway.mesh.token("alice")) as alice:
        owner = alice.with_token(gateway.mesh.token(fixture.owner))
        assert owner.get_model(fixture.name).name == fixture.name
        with pytest.raises(modelgw.NotFound):
            alice.get_model(fixture.name)  # alice's own token is unchanged
        owner.close()  # leaves the shared channel open
        assert alice.get_model("rdkit.logp").name == "rdkit.logp"


def test_target_and_token_come_from_the_environment(
    gateway: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELGW_TARGET", gateway.address)
    monkeypatch.setenv("MODELGW_TOKEN", gateway.mesh.token("alice"))
    with modelgw.Client() as client:
        assert client.target == gateway.address
        assert client.get_model("rdkit.logp").name == "rdkit.logp"


@pytest.mark.parametrize(
    "records",
    [
        [{"smiles": float("nan")}],
        [{1: "x"}],
        [{"smiles": object()}],
        ["CCO"],
        {"smiles": "CCO"},
    ],
)
def test_hostile_records_are_refused_before_sending(alice: modelgw.Client, records: object) -> None:
    with pytest.raises(modelgw.InvalidInput):
        alice.submit("rdkit.logp", records)  # type: ignore[arg-type]


def test_hostile_arguments(alice: modelgw.Client) -> None:
    with pytest.raises(modelgw.InvalidInput):
        alice.list_jobs(status="DONE; DROP TABLE")
    with pytest.raises(modelgw.InvalidInput):
        alice.list_jobs(limit=0)
    with pytest.raises(modelgw.InvalidInput):
        modelgw.Client("127.0.0.1:1", "a\nb")
    with pytest.raises(modelgw.GatewayError):
        alice.get_model("x" * 100_000)
    with pytest.raises(modelgw.GatewayError):
        alice.job("../../etc/passwd")
