"""The subprocess backend, running a real script (tool.py) with the test's Python."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from backendspec import BackendPolicy
from mesh.process import is_alive
from workers.backends import (
    BackendError,
    RecordOutcome,
    SubprocessBackend,
)

TOOL = str(Path(__file__).with_name("tool.py"))
# The operator's allow-list these tests run under.
POLICY = BackendPolicy(commands=(sys.executable, "/nonexistent/tool"))


def backend() -> SubprocessBackend:
    return SubprocessBackend(POLICY)


def command(*args: str) -> dict[str, object]:
    return {"command": [sys.executable, TOOL, *args]}


async def test_results_align_and_one_record_fails_alone() -> None:
    outcomes = await backend().run(
        [{"smiles": "CCO"}, {"name": "no smiles"}, {"smiles": "c1ccccc1"}], command("length")
    )
    assert outcomes == [
        RecordOutcome(output={"length": 3}),
        RecordOutcome(error="no smiles"),
        RecordOutcome(output={"length": 8}),
    ]


async def test_env_is_passed() -> None:
    config = {**command("env"), "env": {"FORCE_FIELD": "mmff94"}}
    (outcome,) = await backend().run([{"name": "FORCE_FIELD"}], config)
    assert outcome.output is not None and outcome.output["value"] == "mmff94"


async def test_non_zero_exit_is_a_model_error_with_the_stderr_tail() -> None:
    with pytest.raises(BackendError) as caught:
        await backend().run([{"smiles": "C"}], command("fail"))
    assert caught.value.reason == "model_error"
    assert "exited with 3" in caught.value.message
    assert "fatal: force field not found" in caught.value.message


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [("garbage", "stdout is not JSON"), ("short", "returned 1 results for 2 records")],
)
async def test_bad_stdout_is_invalid_output(mode: str, fragment: str) -> None:
    with pytest.raises(BackendError) as caught:
        await backend().run([{"smiles": "C"}, {"smiles": "N"}], command(mode))
    assert caught.value.reason == "invalid_output"
    assert fragment in caught.value.message


async def test_missing_program_is_a_model_error() -> None:
    with pytest.raises(BackendError) as caught:
        await backend().run([{}], {"command": ["/nonexistent/tool"]})
    assert caught.value.reason == "model_error"
    assert "cannot start '/nonexistent/tool'" in caught.value.message


async def test_cancellation_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    task = asyncio.create_task(backend().run([{}], command("hang", str(pidfile))))
    for _ in range(200):
        if pidfile.exists():
            break
        await asyncio.sleep(0.02)
    child, grandchild = (int(pid) for pid in pidfile.read_text().split())
    assert is_alive(child) and is_alive(grandchild)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not is_alive(child) and not is_alive(grandchild):
            break
        await asyncio.sleep(0.02)
    assert not is_alive(child), "the tool outlived the cancelled run"
    assert not is_alive(grandchild), "a process the tool started outlived the cancelled run"


async def test_a_command_outside_the_allow_list_is_never_started(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(BackendError) as caught:
        await SubprocessBackend(BackendPolicy(commands=("/usr/bin/true",))).run(
            [{}], command("touch", str(marker))
        )
    assert caught.value.reason == "backend_not_allowed"
    assert "MODELGW_ALLOWED_COMMANDS (/usr/bin/true)" in caught.value.message
    assert not marker.exists()


async def test_a_stored_version_breaking_the_sandbox_rules_is_not_run(tmp_path: Path) -> None:
    """Versions stored before the rules (a cwd, an LD_PRELOAD) fail; they never run."""
    marker = tmp_path / "ran"
    for extra in ({"cwd": "/"}, {"env": {"LD_PRELOAD": "/tmp/evil.so"}}):
        with pytest.raises(BackendError) as caught:
            await backend().run([{}], {**command("touch", str(marker)), **extra})
        assert caught.value.reason == "backend_not_allowed"
    assert not marker.exists()
