"""Jobs over REST through Envoy: submit, watch as newline-delimited JSON, fetch,
cancel and their errors, with curl as a user would."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest

from scheduler import keys
from scheduler.connection import RedisSettings, connect
from tests.harness import unique_name

from .conftest import Edge

pytestmark = pytest.mark.usefixtures("edge", "builtin_worker")
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"


def curl(edge: Edge, method: str, path: str, token: str, body: Any = None) -> Any:
    args = ["curl", "-sS", "-X", method, edge.url + path, "-H", f"authorization: Bearer {token}"]
    if body is not None:
        args += ["-H", "content-type: application/json", "-d", json.dumps(body)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


def watch(edge: Edge, job_id: str, token: str) -> list[dict[str, Any]]:
    """The whole NDJSON watch stream, read with curl -N until the server ends it."""
    result = subprocess.run(
        ["curl", "-sS", "-N", edge.url + f"/v1/jobs/{job_id}:watch", "-H", f"authorization: Bearer {token}"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_curl_alone_creates_a_model_runs_caffeine_watches_and_fetches(edge: Edge) -> None:
    admin = edge.mesh.token("root", superuser=True)
    alice = edge.mesh.token("alice")
    name = unique_name("curl")
    created = curl(
        edge, "POST", "/v1/models", admin, {"name": name, "description": "made with curl"}
    )
    assert created["model"]["name"] == name

    job = curl(
        edge, "POST", "/v1/jobs", alice, {"model": "rdkit.logp", "records": [{"smiles": CAFFEINE}]}
    )["job"]
    assert job["status"] == "JOB_STATUS_QUEUED" and job["version"] == "1.0.0"
    events = watch(edge, job["id"], alice)
    statuses = [e["job"]["status"] for e in events if e.get("job")]
    assert statuses[-1] == "JOB_STATUS_SUCCEEDED"
    fetched = curl(edge, "GET", f"/v1/jobs/{job['id']}", alice)["job"]
    assert fetched["results"][0]["output"] == {"logp": -1.0293}


def test_watch_stream_carries_every_event_through_the_final_one(edge: Edge) -> None:
    alice = edge.mesh.token("alice")
    job = curl(
        edge, "POST", "/v1/jobs", alice, {"model": "demo.sleep", "records": [{"seconds": 2.5}]}
    )["job"]
    events = watch(edge, job["id"], alice)
    statuses = [e["job"]["status"] for e in events if e.get("job")]
    assert statuses[0] in ("JOB_STATUS_QUEUED", "JOB_STATUS_RUNNING")
    assert "JOB_STATUS_RUNNING" in statuses and statuses[-1] == "JOB_STATUS_SUCCEEDED"
    assert any(e.get("heartbeat") for e in events), "heartbeats keep an idle stream alive"
    assert events[-1]["job"]["results"][0]["output"] == {"slept": 2.5}


def test_a_failure_after_the_stream_started_is_a_final_event(edge: Edge) -> None:
    admin = edge.mesh.token("root", superuser=True)
    name = unique_name("nowork")  # a public model no worker serves: its job stays queued
    curl(edge, "POST", "/v1/models", admin, {"name": name})
    curl(edge, "POST", f"/v1/models/{name}/versions", admin, {
        "version": "1", "backend": {"kind": "python", "config": {"callable": "workers.builtin.demo:echo"}},
    })  # fmt: skip
    job = curl(edge, "POST", "/v1/jobs", admin, {"model": name, "records": [{"x": 1}]})["job"]
    stream = subprocess.Popen(
        ["curl", "-sS", "-N", edge.url + f"/v1/jobs/{job['id']}:watch", "-H", f"authorization: Bearer {admin}"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert stream.stdout is not None
    first = json.loads(stream.stdout.readline())
    assert first["job"]["status"] == "JOB_STATUS_QUEUED"
    asyncio.run(_expire(edge.mesh.env["MODELGW_REDIS_URL"], job["id"], name))
    rest = [json.loads(line) for line in stream.stdout if line.strip()]
    stream.wait(timeout=10)
    assert rest[-1]["error"]["code"] == 5 and "expired" in rest[-1]["error"]["message"]


async def _expire(redis_url: str, job_id: str, model: str) -> None:
    """Makes the job vanish as its TTL would, and announces a change."""
    client = connect(RedisSettings(redis_url))
    try:
        await client.delete(keys.job(job_id, keys.shard_of_model(model)))
        await client.publish(keys.EVENTS_CHANNEL, f"{job_id} QUEUED")
    finally:
        await client.aclose()


def test_job_route_errors_are_json(edge: Edge) -> None:
    alice, eve = edge.bearer("alice"), edge.bearer("eve")
    status, body = edge.call("GET", "/v1/jobs/not-a-uuid", headers=alice)
    assert (status, body["code"]) == (400, 3) and "not a job UUID" in body["message"]
    status, body = edge.call("GET", "/v1/jobs/" + keys.new_job_id("x"), headers=alice)
    assert (status, body["code"]) == (404, 5)
    status, body = edge.call(
        "POST", "/v1/jobs", {"model": "rdkit.logp", "records": [{"smiles": 42}]}, headers=alice
    )
    assert status == 400 and "records[0]" in body["message"] and "/smiles" in body["message"]
    status, body = edge.call(
        "POST", "/v1/jobs", {"model": "demo.sleep", "records": [{"seconds": 30}]}, headers=alice
    )
    assert status == 200
    job_id = body["job"]["id"]
    status, body = edge.call("POST", f"/v1/jobs/{job_id}:cancel", {}, headers=eve)
    assert (status, body["code"]) == (404, 5)
    status, body = edge.call("POST", f"/v1/jobs/{job_id}:cancel", {}, headers=alice)
    assert status == 200 and body["job"]["status"] == "JOB_STATUS_CANCELLED"
    status, body = edge.call("GET", "/v1/jobs?page_size=5", headers=alice)
    assert status == 200 and job_id in [j["id"] for j in body["jobs"]]
    status, body = edge.call(
        "GET", "/v1/jobs?status=JOB_STATUS_CANCELLED&page_size=1000", headers=alice
    )
    assert status == 200 and job_id in [j["id"] for j in body["jobs"]]


def test_batch_submit_over_rest_answers_each_job(edge: Edge) -> None:
    alice = edge.mesh.token("alice")
    body = {"jobs": [
        {"model": "rdkit.logp", "records": [{"smiles": CAFFEINE}]},
        {"model": "rdkit.logp", "records": [{"smiles": 5}]},
        {"model": "no-such-model", "records": [{}]},
        {"model": "demo.echo", "records": [{"i": 1}], "idempotency_key": unique_name("rest")},
    ]}  # fmt: skip
    results = curl(edge, "POST", "/v1/jobs:batchSubmit", alice, body)["results"]
    assert [("job" in r, "error" in r) for r in results] == [
        (True, False),
        (False, True),
        (False, True),
        (True, False),
    ]
    assert not any(r["deduplicated"] for r in results)
    assert results[1]["error"]["code"] == 3 and "records[0]" in results[1]["error"]["message"]
    violation = results[1]["error"]["details"][0]
    assert (
        violation["@type"].endswith("BadRequest")
        and violation["field_violations"][0]["field"] == "records[0]/smiles"
    )
    assert results[2]["error"]["code"] == 5 and "not found" in results[2]["error"]["message"]
    first = results[0]["job"]
    assert first["status"] == "JOB_STATUS_QUEUED" and first["model"] == "rdkit.logp"
    events = watch(edge, first["id"], alice)
    assert [e["job"]["status"] for e in events if e.get("job")][-1] == "JOB_STATUS_SUCCEEDED"
    status, refused = edge.call(
        "POST", "/v1/jobs:batchSubmit", {"jobs": []}, headers=edge.bearer("alice")
    )
    assert status == 400 and "jobs is required" in refused["message"]


def watch_many(edge: Edge, token: str, ids: list[str], *, post: bool = False) -> list[Any]:
    """The whole NDJSON stream of WatchJobs: GET with repeated ids, or POST with a body."""
    args = ["curl", "-sS", "-N", "-H", f"authorization: Bearer {token}"]
    if post:
        body = json.dumps({"ids": ids})
        args += ["-X", "POST", "-H", "content-type: application/json", "-d", body]
        args.append(edge.url + "/v1/jobs:watch")
    else:
        args.append(edge.url + "/v1/jobs:watch?" + "&".join(f"ids={i}" for i in ids))
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("post", [False, True], ids=["get", "post"])
def test_watch_many_jobs_over_rest(edge: Edge, post: bool) -> None:
    alice = edge.mesh.token("alice")
    submitted = [
        curl(edge, "POST", "/v1/jobs", alice, {"model": "demo.echo", "records": [{"n": n}]})["job"]["id"]
        for n in range(3)
    ]  # fmt: skip
    unknown = keys.new_job_id("demo.echo")
    events = watch_many(edge, alice, [*submitted, unknown], post=post)
    entries = [e for event in events for e in event.get("jobs", [])]
    assert {e["id"] for e in entries[:4]} == {*submitted, unknown}  # the first states
    (missing,) = [e for e in entries if "error" in e]
    assert missing["id"] == unknown and missing["error"]["code"] == 5
    for job_id in submitted:
        statuses = [e["job"]["status"] for e in entries if e["id"] == job_id]
        assert statuses[-1] == "JOB_STATUS_SUCCEEDED", statuses
    status, body = edge.call("GET", "/v1/jobs:watch?ids=not-a-job", headers=edge.bearer("alice"))
    assert (status, body["code"]) == (400, 3) and "ids[0] 'not-a-job'" in body["message"]
