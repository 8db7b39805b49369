"""WorkerSettings.from_env: MODELGW_WORKER_* variables, and the flags that replace them."""

from __future__ import annotations

import pytest

from settings import SettingsError
from workers.backends.sandbox import SubprocessLimits
from workers.settings import WorkerSettings


def test_defaults() -> None:
    settings = WorkerSettings.from_env({})
    assert (settings.models, settings.concurrency, settings.model_processes) == ((), 16, None)
    assert (settings.drain_grace_s, settings.consensus) == (30.0, False)
    assert settings.policy.callables == ("workers.builtin",)
    assert settings.limits == SubprocessLimits()


def test_variables_and_the_flags_that_replace_them() -> None:
    env = {
        "MODELGW_WORKER_MODELS": "a, b",
        "MODELGW_WORKER_CONCURRENCY": "4",
        "MODELGW_WORKER_MODEL_PROCESSES": "2",
        "MODELGW_WORKER_DRAIN_GRACE": "5",
        "MODELGW_ALLOWED_CALLABLES": "tests.workers",
    }
    read = WorkerSettings.from_env(env, extra_models=("b", "c"))
    assert (read.models, read.concurrency, read.model_processes, read.drain_grace_s) == (
        ("a", "b", "c"), 4, 2, 5.0,
    )
    assert read.policy.callables == ("tests.workers",)
    flagged = WorkerSettings.from_env(
        env, models=(), concurrency=8, model_processes=1, drain_grace_s=0.0, allow_callables=""
    )
    assert (flagged.models, flagged.concurrency, flagged.model_processes) == ((), 8, 1)
    assert (flagged.drain_grace_s, flagged.policy.callables) == (0.0, ())


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"MODELGW_WORKER_CONCURRENCY": "0"}, "MODELGW_WORKER_CONCURRENCY='0' must be at least 1"),
        ({"MODELGW_WORKER_MODEL_PROCESSES": "many"}, "MODELGW_WORKER_MODEL_PROCESSES='many' is not a whole number"),
        ({"MODELGW_WORKER_DRAIN_GRACE": "-1"}, "MODELGW_WORKER_DRAIN_GRACE=-1.0 must not be negative"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        WorkerSettings.from_env(env)
