"""QueueSettings.from_env and redis_settings: what servers, workers and the scheduler
all read the same way."""

from __future__ import annotations

import pytest

from scheduler.settings import QueueSettings, redis_settings
from settings import SettingsError


def test_defaults_are_the_dataclass_s() -> None:
    assert QueueSettings.from_env({}) == QueueSettings()
    assert redis_settings({}).url == "redis://127.0.0.1:56379/0"


def test_variables() -> None:
    settings = QueueSettings.from_env(
        {
            "MODELGW_JOB_TTL": "120",
            "MODELGW_DELIVERY_LIMIT": "5",
            "MODELGW_LEASE_SECONDS": "2.5",
            "MODELGW_AUDIT_INLINE_BYTES": "0",
            "MODELGW_WORKER_PRESENCE_SECONDS": "0.5",
        }
    )
    assert settings == QueueSettings(120, 5, 2500, 0, 0.5)
    assert settings.live_s == 1.5
    redis = redis_settings({"MODELGW_REDIS_POOL_MAX": "8", "MODELGW_REDIS_TIMEOUT": "1"})
    assert (redis.max_connections, redis.socket_timeout_s) == (8, 1.0)


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"MODELGW_JOB_TTL": "59"}, "MODELGW_JOB_TTL='59' must be at least 60"),
        ({"MODELGW_DELIVERY_LIMIT": "0"}, "must be at least 1"),
        ({"MODELGW_LEASE_SECONDS": "soon"}, "MODELGW_LEASE_SECONDS='soon' is not a number"),
        ({"MODELGW_WORKER_PRESENCE_SECONDS": "0"}, "must be positive"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        QueueSettings.from_env(env)
