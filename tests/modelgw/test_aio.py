"""modelgw.AsyncClient: the same calls over grpc.aio."""

from __future__ import annotations

import asyncio

import pytest
from rdkit import Chem
from rdkit.Chem import Crippen

import modelgw
from tests.gateway.conftest import create_model
from tests.gateway.edge.conftest import Edge

SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"]


async def test_submit_many_in_one_call_and_results(gateway: Edge) -> None:
    async with modelgw.AsyncClient(gateway.address, gateway.mesh.token("alice")) as client:
        jobs = await client.submit_many("rdkit.logp", [[{"smiles": s}] for s in SMILES])
        assert all(isinstance(j, modelgw.AsyncJob) for j in jobs)
        results = await asyncio.gather(*(j.result(timeout_s=60) for j in jobs))
        for smiles, result in zip(SMILES, results, strict=True):
            expected = Crippen.MolLogP(Chem.MolFromSmiles(smiles))
            assert result[0].output == {"logp": pytest.approx(expected, abs=1e-9)}
        assert (await client.get_model("rdkit.logp")).name == "rdkit.logp"
        assert (await jobs[0].status()) == "SUCCEEDED"
        with pytest.raises(modelgw.JobsRefused) as refused:
            await client.submit_many("rdkit.logp", [[{"smiles": "C"}], [{"smiles": 1}]])
        [queued] = refused.value.accepted
        assert isinstance(queued, modelgw.AsyncJob) and refused.value.jobs == [queued, None]
        assert (await queued.result(timeout_s=60))[0].output is not None


async def test_async_watch_and_cancel(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)
    token = gateway.mesh.token(fixture.reader)
    async with modelgw.AsyncClient(gateway.address, token) as client:
        job = await client.submit(fixture.name, [{"smiles": "C"}])
        seen: list[str] = []

        async def follow() -> None:
            async for info in job.watch():
                seen.append(info.status)

        watching = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        assert (await job.cancel()).status == "CANCELLED"
        await asyncio.wait_for(watching, 10)
        assert seen == ["QUEUED", "CANCELLED"]
        with pytest.raises(modelgw.JobFailed):
            await job.result(timeout_s=5)


async def test_async_watch_many_and_wait_all(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)  # unserved: its jobs wait until cancelled
    async with modelgw.AsyncClient(gateway.address, gateway.mesh.token(fixture.reader)) as client:
        jobs = [await client.submit(fixture.name, [{"smiles": s}]) for s in SMILES]
        queued = asyncio.Event()
        seen: list[tuple[str, str]] = []

        async def follow() -> None:
            async for job, info in client.watch_many(jobs, timeout_s=30):
                seen.append((job.id, info.status))
                if len(seen) == len(jobs):
                    queued.set()

        watching = asyncio.create_task(follow())
        await asyncio.wait_for(queued.wait(), 10)
        for job in jobs:
            await job.cancel()
        await asyncio.wait_for(watching, 10)
        assert sorted(seen) == sorted((j.id, s) for j in jobs for s in ("QUEUED", "CANCELLED"))
        finals = await client.wait_all([j.id for j in reversed(jobs)], timeout_s=10)
        assert [f.id for f in finals] == [j.id for j in reversed(jobs)]
        assert {f.status for f in finals} == {"CANCELLED"}


async def test_async_errors_are_typed(gateway: Edge) -> None:
    async with modelgw.AsyncClient(gateway.address, "bad-token", retries=0) as client:
        with pytest.raises(modelgw.Unauthenticated):
            await client.list_models()
        other = client.with_token(gateway.mesh.token("alice"))
        with pytest.raises(modelgw.NotFound):
            await other.get_model("no.such-model")
        with pytest.raises(modelgw.InvalidInput):
            await other.submit("rdkit.logp", [{"smiles": float("inf")}])
