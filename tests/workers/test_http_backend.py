"""The http backend against a real Open Inference Protocol v2 server (oip_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backendspec import BackendSpecError
from mesh import free_port
from tests.workers.oip_server import Seen, running_oip_server
from workers.backends import BackendError, Backends, HttpBackend, RecordOutcome
from workers.backends.oip import build_inputs, infer_url

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"


@pytest.fixture
def oip() -> Iterator[tuple[str, Seen]]:
    with running_oip_server() as server:
        yield server


@pytest.fixture
async def backend() -> AsyncIterator[HttpBackend]:
    backend = HttpBackend()
    yield backend
    await backend.aclose()


def model(url: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"url": url, "model_name": name, **extra}


async def test_server_is_ready(oip: tuple[str, Seen]) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{oip[0]}/v2/health/ready")).status_code == 200


async def test_records_become_tensors_and_outputs_become_fields(
    oip: tuple[str, Seen], backend: HttpBackend
) -> None:
    url, seen = oip
    outcomes = await backend.run(
        [{"smiles": "CCO"}, {"smiles": CAFFEINE}], model(url, "smiles-length")
    )
    assert outcomes == [
        RecordOutcome(output={"length": 3, "length_col": 3}),
        RecordOutcome(output={"length": len(CAFFEINE), "length_col": len(CAFFEINE)}),
    ]
    assert seen.paths == ["/v2/models/smiles-length/infer"]
    (body,) = seen.bodies
    assert body["inputs"] == [
        {"name": "smiles", "shape": [2], "datatype": "BYTES", "data": ["CCO", CAFFEINE]}
    ]
    assert isinstance(body["id"], str) and body["id"]


async def test_model_version_is_in_the_path(oip: tuple[str, Seen], backend: HttpBackend) -> None:
    url, seen = oip
    outcomes = await backend.run(
        [{"smiles": "CCO"}], model(url, "smiles-length", model_version="2")
    )
    assert outcomes[0].output == {"length": 6, "length_col": 6}
    assert seen.paths == ["/v2/models/smiles-length/versions/2/infer"]


async def test_datatypes_are_inferred_per_field(
    oip: tuple[str, Seen], backend: HttpBackend
) -> None:
    url, seen = oip
    records = [
        {"smiles": "C", "flag": True, "count": 1, "dose": 0.5},
        {"smiles": "N", "flag": False, "count": 2, "dose": 2},
    ]
    outcomes = await backend.run(records, model(url, "mirror"))
    datatypes = {t["name"]: (t["datatype"], t["data"]) for t in seen.bodies[0]["inputs"]}
    assert datatypes == {
        "smiles": ("BYTES", ["C", "N"]),
        "flag": ("BOOL", [True, False]),
        "count": ("INT64", [1, 2]),
        "dose": ("FP64", [0.5, 2.0]),
    }
    assert outcomes[1].output == {
        "smiles_out": "N",
        "flag_out": False,
        "count_out": 2,
        "dose_out": 2.0,
        "pair": [1.0, -1.0],
    }


async def test_a_record_that_cannot_be_a_tensor_fails_alone(
    oip: tuple[str, Seen], backend: HttpBackend
) -> None:
    url, seen = oip
    records = [{"smiles": "C"}, {"smiles": ["C", "N"]}, {}, {"smiles": "CC"}]
    outcomes = await backend.run(records, model(url, "smiles-length"))
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert "field 'smiles' is a list" in (outcomes[1].error or "")
    assert "field 'smiles' is missing" in (outcomes[2].error or "")
    assert outcomes[3].output == {"length": 2, "length_col": 2}
    assert seen.bodies[0]["inputs"][0]["data"] == ["C", "CC"]


async def test_no_request_when_every_record_fails(
    oip: tuple[str, Seen], backend: HttpBackend
) -> None:
    url, seen = oip
    outcomes = await backend.run([{"smiles": None}], model(url, "smiles-length"))
    assert not outcomes[0].ok and seen.bodies == []


async def test_one_pooled_connection_is_reused(oip: tuple[str, Seen], backend: HttpBackend) -> None:
    url, seen = oip
    for _ in range(3):
        await backend.run([{"smiles": "C"}], model(url, "smiles-length"))
    assert len(set(seen.client_ports)) == 1


async def test_4xx_is_a_model_error_with_the_server_text(
    oip: tuple[str, Seen], backend: HttpBackend
) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.run([{"smiles": "C"}], model(oip[0], "reject"))
    assert caught.value.reason == "model_error" and not caught.value.retryable
    assert "400" in caught.value.message
    assert "input 'smiles' has unexpected datatype" in caught.value.message


async def test_unknown_model_is_a_model_error(oip: tuple[str, Seen], backend: HttpBackend) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.run([{"smiles": "C"}], model(oip[0], "nope"))
    assert caught.value.reason == "model_error"
    assert "model 'nope' is not found" in caught.value.message


async def test_5xx_is_retryable_unavailability(oip: tuple[str, Seen], backend: HttpBackend) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.run([{"smiles": "C"}], model(oip[0], "crash"))
    assert caught.value.reason == "backend_unavailable" and caught.value.retryable
    assert "CUDA out of memory" in caught.value.message


async def test_server_down_is_retryable_unavailability(backend: HttpBackend) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.run([{"smiles": "C"}], model(f"http://127.0.0.1:{free_port()}", "m"))
    assert caught.value.reason == "backend_unavailable" and caught.value.retryable
    assert "cannot reach" in caught.value.message


async def test_wrong_output_shape_is_invalid_output(
    oip: tuple[str, Seen], backend: HttpBackend
) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.run([{"smiles": "C"}], model(oip[0], "bad-shape"))
    assert caught.value.reason == "invalid_output"
    assert "has shape [2]" in caught.value.message


async def test_timeout_s_bounds_the_request(oip: tuple[str, Seen], backend: HttpBackend) -> None:
    with pytest.raises(BackendError) as caught:
        await backend.run([{"smiles": "C"}], model(oip[0], "slow", timeout_s=0.2))
    assert caught.value.reason == "timeout"


async def test_cancellation_aborts_the_request(oip: tuple[str, Seen], backend: HttpBackend) -> None:
    task = asyncio.create_task(backend.run([{"smiles": "C"}], model(oip[0], "slow")))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1)
    # The pool is still usable afterwards.
    outcomes = await backend.run([{"smiles": "C"}], model(oip[0], "smiles-length"))
    assert outcomes[0].ok


def test_infer_url_quotes_names() -> None:
    assert infer_url({"url": "http://h:8000/", "model_name": "a b", "model_version": "1/2"}) == (
        "http://h:8000/v2/models/a%20b/versions/1%2F2/infer"
    )


_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@given(
    st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), _scalars, max_size=3), max_size=8)
)
def test_build_inputs_partitions_records_into_rectangular_tensors(
    records: list[dict[str, Any]],
) -> None:
    inputs, sent, rejected = build_inputs(records)
    assert sorted([*sent, *rejected]) == list(range(len(records)))
    assert not set(sent) & set(rejected)
    for tensor in inputs:
        assert tensor["shape"] == [len(sent)] and len(tensor["data"]) == len(sent)
        assert tensor["datatype"] in {"BOOL", "INT64", "FP64", "BYTES"}


async def test_backends_share_one_http_backend_and_close_it(oip: tuple[str, Seen]) -> None:
    spec = {"kind": "http", "config": model(oip[0], "smiles-length")}
    async with Backends() as backends:
        http = backends.get("http")
        assert backends.get("http") is http
        outcomes = await backends.run(spec, [{"smiles": "CCO"}])
        assert outcomes[0].output == {"length": 3, "length_col": 3}
        client = http._client  # type: ignore[attr-defined]
        assert client is not None and not client.is_closed
    assert client.is_closed
    with pytest.raises(BackendSpecError, match="unknown backend kind 'consensus'"):
        await Backends().run({"kind": "consensus"}, [])
