"""The subprocess sandbox, seen from inside real model processes (tool.py): what
environment, working directory and resource limits a command gets."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from backendspec import BackendPolicy
from workers.backends import BackendError, SubprocessBackend

TOOL = str(Path(__file__).with_name("tool.py"))

# What a worker's environment holds in production that no model may see.
WORKER_SECRETS = {
    "MODELGW_DATABASE_URL": "postgresql://modelgw:hunter2@db/modelgw",
    "MODELGW_REDIS_URL": "redis://:hunter2@redis:6379/0",
    "MODELGW_JWT_SIGNING_KEY": "/srv/modelgw/keys/jwt-signing-key.pem",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "DATABASE_URL": "postgresql://app:hunter2@db/app",
    "PYTHONPATH": "/srv/injected",
    "LD_PRELOAD": "/srv/injected.so",
}
SANDBOX_NAMES = {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR"}


def backend() -> SubprocessBackend:
    return SubprocessBackend(BackendPolicy(commands=(sys.executable,)))


def command(*args: str, **extra: Any) -> dict[str, Any]:
    return {"command": [sys.executable, TOOL, *args], **extra}


async def run_one(config: dict[str, Any], sandbox: SubprocessBackend | None = None) -> Any:
    (outcome,) = await (sandbox or backend()).run([{}], config)
    assert outcome.output is not None, outcome.error
    return outcome.output


def _gone(path: str) -> bool:
    return not Path(path).exists()


@pytest.fixture
def worker_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in WORKER_SECRETS.items():
        monkeypatch.setenv(name, value)
    return WORKER_SECRETS


async def test_the_environment_holds_none_of_the_worker_s_secrets(
    worker_secrets: dict[str, str],
) -> None:
    seen = (await run_one(command("environ")))["environ"]
    assert set(seen) == SANDBOX_NAMES
    text = repr(seen)
    for value in worker_secrets.values():
        assert value not in text
    assert seen["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert seen["HOME"] == seen["TMPDIR"]


async def test_owner_env_is_added_to_the_scrubbed_environment(
    worker_secrets: dict[str, str],
) -> None:
    seen = (await run_one(command("environ", env={"FORCE_FIELD": "mmff94"})))["environ"]
    assert set(seen) == SANDBOX_NAMES | {"FORCE_FIELD"}
    assert seen["FORCE_FIELD"] == "mmff94"


async def test_each_run_gets_a_fresh_private_working_directory_removed_after() -> None:
    first = await run_one(command("environ"))
    second = await run_one(command("environ"))
    assert first["cwd"] != second["cwd"]
    for seen in (first, second):
        assert seen["cwd_entries"] == []
        assert seen["cwd_mode"] == 0o700
        assert seen["environ"]["HOME"] == seen["environ"]["TMPDIR"] == seen["cwd"]
        assert seen["cwd"] != os.getcwd()
        assert _gone(seen["cwd"]), "the run's directory outlived the run"


async def test_an_allocation_beyond_the_memory_limit_is_a_model_error_naming_it() -> None:
    config = command("allocate", "512", limits={"memory_mb": 128})
    with pytest.raises(BackendError) as caught:
        await run_one(config)
    assert caught.value.reason == "model_error"
    assert "MemoryError" in caught.value.message
    assert "128 MB" in caught.value.message
    assert "MODELGW_SUBPROCESS_MEMORY_MB" in caught.value.message


async def test_a_cpu_burner_is_killed_by_its_cpu_limit() -> None:
    config = command("burn", limits={"cpu_seconds": 1})
    with pytest.raises(BackendError) as caught:
        await asyncio.wait_for(run_one(config), timeout=30)
    assert caught.value.reason == "model_error"
    assert "SIGXCPU" in caught.value.message
    assert "CPU limit of 1 s" in caught.value.message
    assert "MODELGW_SUBPROCESS_CPU_SECONDS" in caught.value.message


async def test_a_file_beyond_the_file_size_limit_is_a_model_error_naming_it() -> None:
    config = command("write", "64", limits={"file_mb": 16})
    with pytest.raises(BackendError) as caught:
        await run_one(config)
    assert caught.value.reason == "model_error"
    assert "file size limit of 16 MB" in caught.value.message


async def test_limits_in_force_no_core_files_and_a_version_lowers_never_raises() -> None:
    mb = 1024 * 1024
    worker_default = (await run_one(command("limits")))
    assert worker_default["as"] == [2048 * mb, 2048 * mb]
    assert worker_default["core"] == [0, 0]
    assert worker_default["cpu"][0] == 300
    lowered = await run_one(command("limits", limits={"memory_mb": 256, "cpu_seconds": 7}))
    assert lowered["as"] == [256 * mb, 256 * mb]
    assert lowered["cpu"][0] == 7
    raised = await run_one(command("limits", limits={"memory_mb": 999_999}))
    assert raised["as"] == [2048 * mb, 2048 * mb], "a version may not raise the worker's limit"

