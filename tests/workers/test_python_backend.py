"""The python backend, calling real functions imported by path, in its model processes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from backendspec import BackendPolicy
from tests.workers.conftest import MakeBackend
from workers.backends import BackendError
from workers.backends._frames import FrameError, decode
from workers.backends.python_process import _parse_reply, child_env, describe_exit

MODULE = "tests.workers.callables"
# The operator's allow-list these tests run under: the test package's models.
POLICY = BackendPolicy(callables=("tests.workers",))


def config(function: str) -> dict[str, str]:
    return {"callable": f"{MODULE}:{function}"}


async def test_sync_callable_runs_in_a_model_process_and_aligns_outcomes(
    python_backend: MakeBackend,
) -> None:
    outcomes = await python_backend(POLICY).run(
        [{"smiles": "CCO"}, {"smiles": "c1ccccc1"}], config("lengths")
    )
    assert [o.output["length"] for o in outcomes if o.output] == [3, 8]
    assert all(o.output and o.output["pid"] != os.getpid() for o in outcomes)


async def test_async_callable_is_awaited_in_a_model_process(python_backend: MakeBackend) -> None:
    (outcome,) = await python_backend(POLICY).run([{"smiles": "CCO"}], config("async_lengths"))
    assert outcome.output is not None and outcome.output["length"] == 3
    assert outcome.output["pid"] != os.getpid()


async def test_record_error_fails_only_its_record(python_backend: MakeBackend) -> None:
    outcomes = await python_backend(POLICY).run(
        [{"smiles": "C"}, {"smiles": ""}, {"smiles": "CC"}], config("lengths")
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].output is None and outcomes[1].error == "no smiles in {'smiles': ''}"


async def test_a_raising_callable_is_a_model_error(python_backend: MakeBackend) -> None:
    with pytest.raises(BackendError) as caught:
        await python_backend(POLICY).run([{"smiles": "C"}], config("raises"))
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
async def test_malformed_results_are_invalid_output(
    function: str, fragment: str, python_backend: MakeBackend
) -> None:
    with pytest.raises(BackendError) as caught:
        await python_backend(POLICY).run([{"smiles": "C"}, {"smiles": "N"}], config(function))
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
async def test_unloadable_callable_is_a_model_error(
    path: str, fragment: str, python_backend: MakeBackend
) -> None:
    with pytest.raises(BackendError) as caught:
        await python_backend(POLICY).run([{}], {"callable": path})
    assert caught.value.reason == "model_error"
    assert fragment in caught.value.message


async def test_callable_is_imported_once_and_serves_many_batches(
    python_backend: MakeBackend,
) -> None:
    backend = python_backend(POLICY, 1)
    first = (await backend.run([{"smiles": "C"}], config("lengths")))[0].output
    second = (await backend.run([{"smiles": "C"}], config("lengths")))[0].output
    assert first and second and first["pid"] == second["pid"]
    assert second["calls"] == first["calls"] + 1, "the module kept its state"


async def test_cancellation_propagates_and_kills_the_model_process(
    python_backend: MakeBackend,
) -> None:
    backend = python_backend(POLICY, 1)
    task = asyncio.create_task(backend.run([{}], config("hangs")))
    await asyncio.sleep(0.5)
    (child,) = backend.pool.processes
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(child.wait(), timeout=5)
    assert not child.alive
    (outcome,) = await backend.run([{"smiles": "C"}], config("lengths"))
    assert outcome.output and outcome.output["pid"] != child.pid


async def test_killing_a_model_process_kills_what_the_model_started(
    python_backend: MakeBackend, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    task = asyncio.create_task(
        python_backend(POLICY, 1).run([{"pid_file": str(pid_file)}], config("spawns_and_hangs"))
    )
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.025)
    sleeper = int(pid_file.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):
        if _state(sleeper) == "Z":
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"the model's own child {sleeper} outlived its model process")


def _state(pid: int) -> str:
    """A zombie ('Z') is dead, waiting for its (init) parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:  # gone, or exiting as it was read (ESRCH)
        return "Z"


@pytest.mark.parametrize(
    ("function", "fragment"),
    [
        ("exits", "the model raised SystemExit: 2"),
        ("interrupted", "the model raised KeyboardInterrupt"),
        ("aborts", "was killed by signal SIGABRT (6) while running the batch"),
    ],
)
async def test_a_model_ending_its_process_fails_its_batch_alone(
    function: str, fragment: str, python_backend: MakeBackend
) -> None:
    backend = python_backend(POLICY, 2)
    healthy = asyncio.create_task(backend.run([{"smiles": "CC"}], config("async_lengths")))
    with pytest.raises(BackendError) as caught:
        await backend.run([{}], config(function))
    assert (caught.value.reason, caught.value.retryable) == ("model_crashed", False)
    assert fragment in caught.value.message
    assert (await healthy)[0].ok
    (outcome,) = await backend.run([{"smiles": "C"}], config("lengths"))
    assert outcome.ok, "the pool serves the next batch"


async def test_a_pool_of_one_queues_batches(python_backend: MakeBackend) -> None:
    backend = python_backend(POLICY, 1)
    runs = [backend.run([{"smiles": "C" * n}], config("async_lengths")) for n in (1, 2, 3)]
    outcomes = await asyncio.gather(*runs)
    assert [o[0].output["length"] for o in outcomes if o[0].output] == [1, 2, 3]
    assert len({o[0].output["pid"] for o in outcomes if o[0].output}) == 1


async def test_waiting_batches_grow_the_pool_up_to_its_size(python_backend: MakeBackend) -> None:
    backend = python_backend(POLICY, 4)
    started = time.monotonic()
    outcomes = await asyncio.gather(*(backend.run([{}], config("naps")) for _ in range(6)))
    elapsed = time.monotonic() - started
    pids = {o[0].output["pid"] for o in outcomes if o[0].output}
    assert len(pids) == 4 == len(backend.pool.processes), "four at once, then two"
    assert 2 <= elapsed < 4.5, elapsed


async def test_a_burst_of_fast_batches_needs_few_processes(python_backend: MakeBackend) -> None:
    backend = python_backend(POLICY, 16)
    await backend.run([{"smiles": "C"}], config("async_lengths"))
    runs = [backend.run([{"smiles": "C"}], config("async_lengths")) for _ in range(200)]
    assert all(o[0].ok for o in await asyncio.gather(*runs))
    assert len(backend.pool.processes) < 16


async def test_batches_started_together_share_one_frame(python_backend: MakeBackend) -> None:
    backend = python_backend(POLICY, 1)
    backend.pool.frame_budget_s = 60.0  # however slow this machine is today
    await backend.run([{"smiles": "C"}], config("lengths"))  # imported
    before = (await backend.run([{"smiles": "C"}], config("lengths")))[0].output
    (child,) = backend.pool.processes
    frames = child.frames
    runs = [backend.run([{"smiles": "C" * n}], config("lengths")) for n in range(1, 11)]
    outcomes = await asyncio.gather(*runs)
    assert child.frames == frames + 1, "ten batches, one frame"
    assert [o[0].output["length"] for o in outcomes if o[0].output] == list(range(1, 11))
    calls = [o[0].output["calls"] for o in outcomes if o[0].output]
    assert calls == list(range(before["calls"] + 1, before["calls"] + 11)), "in order, one child"


async def test_a_crash_in_a_shared_frame_fails_only_the_batch_that_crashed(
    python_backend: MakeBackend,
) -> None:
    backend = python_backend(POLICY, 1)
    backend.pool.frame_budget_s = 60.0
    for _ in range(2):  # imported, then its run time is known: its batches share frames
        await backend.run([{}], config("exits_on_poison"))
    (child,) = backend.pool.processes
    frames = child.frames
    records = [[{}], [{}], [{"poison": True}], [{}], [{}]]
    runs = [backend.run(r, config("exits_on_poison")) for r in records]
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    assert child.frames == frames + 1 and not child.alive, "all five were in its last frame"
    crashed = outcomes[2]
    assert isinstance(crashed, BackendError) and crashed.reason == "model_crashed", crashed
    assert "exited with code 3" in crashed.message
    assert all(isinstance(o, list) and o[0].ok for i, o in enumerate(outcomes) if i != 2)


async def test_cancelling_a_batch_in_a_shared_frame_runs_the_others(
    python_backend: MakeBackend,
) -> None:
    backend = python_backend(POLICY, 1)
    backend.pool.frame_budget_s = 60.0
    for _ in range(2):
        await backend.run([{}], config("hangs_on_flag"))
    (child,) = backend.pool.processes
    frames = child.frames
    records: list[dict[str, object]] = [{}, {"hang": True}, {}]
    runs = [asyncio.ensure_future(backend.run([r], config("hangs_on_flag"))) for r in records]
    await asyncio.sleep(0.5)
    assert child.frames == frames + 1, "the three share a frame"
    runs[1].cancel()
    first, third = await asyncio.wait_for(asyncio.gather(runs[0], runs[2]), timeout=10)
    assert first[0].ok and third[0].ok, "run again in a new process"
    assert runs[1].cancelled() and not child.alive


async def test_empty_batch(python_backend: MakeBackend) -> None:
    assert await python_backend(POLICY).run([], config("lengths")) == []


def test_model_processes_get_no_modelgw_settings() -> None:
    env = {"PATH": "/bin", "MODELGW_REDIS_URL": "redis://:secret@r", "LANG": "C.UTF-8"}
    assert child_env(env) == {"PATH": "/bin", "LANG": "C.UTF-8"}


def test_exit_descriptions() -> None:
    assert describe_exit(7) == "exited with code 7"
    assert describe_exit(-11) == "was killed by signal SIGSEGV (11)"


@pytest.mark.parametrize(
    "reply",
    [
        [],
        {"outcomes": [{"output": {}}]},
        {"outcomes": [1, 2]},
        {"outcomes": [{"output": 1}, {"error": "x"}]},
        {"outcomes": [{"output": {}, "error": "x"}, {"error": "x"}]},
        {"failure": {"reason": "anything", "message": "x"}},
    ],
)
def test_a_malformed_reply_of_a_model_process_is_refused(reply: object) -> None:
    with pytest.raises((TypeError, ValueError, KeyError)):
        _parse_reply(reply, 2)


def test_a_model_process_reply_is_strict_json() -> None:
    with pytest.raises(FrameError):
        decode(b'{"outcomes": [{"output": {"v": NaN}}]}')


async def test_warming_starts_a_process_per_core_before_any_batch(
    python_backend: MakeBackend,
) -> None:
    backend = python_backend(POLICY, 8)
    backend.pool.warm()
    expected = min(8, os.cpu_count() or 1)
    for _ in range(200):
        if len(backend.pool.processes) == expected:
            break
        await asyncio.sleep(0.025)
    assert len(backend.pool.processes) == expected
    warm = {child.pid for child in backend.pool.processes}
    (outcome,) = await backend.run([{"smiles": "C"}], config("lengths"))
    assert outcome.output and outcome.output["pid"] in warm
