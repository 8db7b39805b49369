"""The python backend, calling real functions imported by path."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.workers import callables
from workers.backends import BackendError, BackendPolicy, PythonBackend, RecordOutcome, backend_for

MODULE = "tests.workers.callables"
# The operator's allow-list these tests run under: the test package's models.
POLICY = BackendPolicy(callables=("tests.workers",))


def config(function: str) -> dict[str, str]:
    return {"callable": f"{MODULE}:{function}"}


async def test_sync_callable_runs_in_a_thread_and_aligns_outcomes() -> None:
    backend = PythonBackend(POLICY)
    outcomes = await backend.run([{"smiles": "CCO"}, {"smiles": "c1ccccc1"}], config("lengths"))
    assert [o.output["length"] for o in outcomes if o.output] == [3, 8]
    assert all(o.output and o.output["thread"] != threading.current_thread().name for o in outcomes)


async def test_async_callable_is_awaited_on_the_loop() -> None:
    outcomes = await PythonBackend(POLICY).run([{"smiles": "CCO"}], config("async_lengths"))
    assert outcomes == [
        RecordOutcome(output={"length": 3, "thread": threading.current_thread().name})
    ]


async def test_record_error_fails_only_its_record() -> None:
    outcomes = await PythonBackend(POLICY).run(
        [{"smiles": "C"}, {"smiles": ""}, {"smiles": "CC"}], config("lengths")
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].output is None and outcomes[1].error == "no smiles in {'smiles': ''}"


async def test_a_raising_callable_is_a_model_error() -> None:
    with pytest.raises(BackendError) as caught:
        await PythonBackend(POLICY).run([{"smiles": "C"}], config("raises"))
    assert caught.value.reason == "model_error"
    assert "weights file is corrupt" in caught.value.message
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("function", "fragment"),
    [
        ("one_short", "returned 1 results for 2 records"),
        ("not_a_dict", "output 0 is a int, not a JSON object"),
        ("not_json", "output 0 is not JSON-serialisable"),
        ("nan", "output 0 is not JSON-serialisable"),
        ("not_a_list", "returned a dict"),
    ],
)
async def test_malformed_results_are_invalid_output(function: str, fragment: str) -> None:
    with pytest.raises(BackendError) as caught:
        await PythonBackend(POLICY).run([{"smiles": "C"}, {"smiles": "N"}], config(function))
    assert caught.value.reason == "invalid_output"
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        (f"{MODULE}:missing", "has no attribute 'missing'"),
        ("tests.workers.nowhere:f", "No module named 'tests.workers.nowhere'"),
        (f"{MODULE}:NOT_CALLABLE", "not a callable"),
    ],
)
async def test_unloadable_callable_is_a_model_error(path: str, fragment: str) -> None:
    with pytest.raises(BackendError) as caught:
        await PythonBackend(POLICY).run([{}], {"callable": path})
    assert caught.value.reason == "model_error"
    assert fragment in caught.value.message


async def test_callable_is_imported_once_and_cached() -> None:
    backend = PythonBackend(POLICY)
    await backend.run([{"smiles": "C"}], config("lengths"))
    resolved = backend._functions[f"{MODULE}:lengths"]
    await backend.run([{"smiles": "C"}], config("lengths"))
    assert backend._functions[f"{MODULE}:lengths"] is resolved is callables.lengths


async def test_cancellation_propagates() -> None:
    task = asyncio.create_task(PythonBackend(POLICY).run([{}], config("slow")))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_empty_batch() -> None:
    assert await PythonBackend(POLICY).run([], config("lengths")) == []


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({}, "'callable' is required"),
        ({"callable": "no_colon"}, "'callable' 'no_colon' is not of the form"),
        ({"callable": "a.b:c", "extra": 1}, "unknown python backend config key 'extra'"),
        ({"callable": 7}, "'callable' is required"),
    ],
)
def test_check_config_names_the_key(cfg: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        backend_for("python").check_config(cfg)
    assert fragment in str(caught.value)


def test_check_config_accepts_a_callable_without_importing_it() -> None:
    backend_for("python").check_config({"callable": "somewhere.not_installed:predict"})


@pytest.mark.parametrize(
    "path", ["workers.builtin.chemistry:os.system", "a.b:Model.predict", "a.b:_private", "a.b:"]
)
def test_check_config_takes_one_public_name_after_the_colon(path: str) -> None:
    with pytest.raises(ValueError, match="one public name"):
        backend_for("python").check_config({"callable": path})
