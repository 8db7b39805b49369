"""The operator's allow-list as a worker applies it: the python backend resolving real
modules under it, and the subprocess limits a worker reads beside it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from backendspec import BackendPolicy
from settings import SettingsError
from tests.workers.conftest import MakeBackend
from workers.backends import BackendError, PythonBackend
from workers.backends.sandbox import SubprocessLimits


async def test_an_object_imported_into_an_allowed_module_is_refused(
    python_backend: MakeBackend,
) -> None:
    """tests.workers.callables imports subprocess.getoutput: allowed module, foreign object."""
    backend = python_backend(BackendPolicy(callables=("tests.workers",)))
    with pytest.raises(BackendError) as caught:
        await backend.run([{}], {"callable": "tests.workers.callables:getoutput"})
    assert caught.value.reason == "backend_not_allowed"
    assert "defined in module 'subprocess'" in caught.value.message


async def test_a_class_re_exported_by_a_built_in_module_is_refused(
    python_backend: MakeBackend,
) -> None:
    with pytest.raises(BackendError) as caught:
        await python_backend().run(
            [{}], {"callable": "workers.builtin.chemistry:FilterCatalog"}
        )
    assert caught.value.reason == "backend_not_allowed"
    assert "rdkit" in caught.value.message


async def test_a_callable_outside_the_list_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIPWIRE_MARKER", str(tmp_path / "imported"))
    monkeypatch.delitem(sys.modules, "tests.gateway.execution.tripwire", raising=False)
    with pytest.raises(BackendError) as caught:
        await PythonBackend().run([{}], {"callable": "tests.gateway.execution.tripwire:run"})
    assert caught.value.reason == "backend_not_allowed"
    assert "tests.gateway.execution.tripwire" not in sys.modules
    assert not (tmp_path / "imported").exists()


def test_subprocess_limits_come_from_the_environment_and_flags() -> None:
    assert SubprocessLimits.from_env({}) == SubprocessLimits(2048, None, 1024)
    env = {"MODELGW_SUBPROCESS_MEMORY_MB": "512", "MODELGW_SUBPROCESS_CPU_SECONDS": "60"}
    assert SubprocessLimits.from_env(env) == SubprocessLimits(512, 60, 1024)
    assert SubprocessLimits.from_env(env, memory_mb=64, file_mb=8) == SubprocessLimits(64, 60, 8)
    with pytest.raises(SettingsError, match="MODELGW_SUBPROCESS_MEMORY_MB='lots'"):
        SubprocessLimits.from_env({"MODELGW_SUBPROCESS_MEMORY_MB": "lots"})
    with pytest.raises(SettingsError, match="MODELGW_SUBPROCESS_CPU_SECONDS='0'"):
        SubprocessLimits.from_env({"MODELGW_SUBPROCESS_CPU_SECONDS": "0"})


def test_a_run_s_cpu_limit_defaults_to_its_job_timeout() -> None:
    limits = SubprocessLimits()
    assert limits.for_run({}, 12.5).cpu_seconds == 13
    assert limits.for_run({}, None).cpu_seconds == 300
    assert SubprocessLimits(cpu_seconds=30).for_run({}, 600).cpu_seconds == 30
    assert limits.for_run({"cpu_seconds": 5.0, "memory_mb": 9999}, 60) == limits.for_run(
        {"cpu_seconds": 5}, 60
    )
