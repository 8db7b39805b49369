"""GatewayConfig.from_env: the database, the SQL console's limits, the timing of worker
presence and the models' limits."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, GatewayConfig
from gateway.registry.limits import LimitValues

CONSOLE = "postgresql://modelgw_query@db:5432/modelgw"


def test_the_default_database_url_names_the_mesh_s_password_file() -> None:
    config = GatewayConfig.from_env({"MODELGW_HOME": "/srv/mgw home"})
    assert config.database_url == (
        "postgresql://modelgw@127.0.0.1:55432/modelgw"
        "?passfile=/srv/mgw%20home/postgres/secrets/modelgw.pgpass"
    )
    assert config.admin.query_database_url is None  # the console is off unless configured


def test_the_console_needs_a_role_of_its_own() -> None:
    env = {"MODELGW_DATABASE_URL": "postgresql://modelgw@db:5432/modelgw"}
    assert GatewayConfig.from_env({**env, "MODELGW_QUERY_DATABASE_URL": CONSOLE}).admin.query_database_url == CONSOLE
    for url, complaint in (
        ("postgresql://modelgw@db:5432/modelgw", "a role of its own"),
        ("postgresql://db:5432/modelgw", "naming its role"),
        ("modelgw_query@db", "postgresql://"),
    ):
        with pytest.raises(ConfigError, match=complaint):
            GatewayConfig.from_env({**env, "MODELGW_QUERY_DATABASE_URL": url})


def test_console_limits() -> None:
    config = GatewayConfig.from_env({})
    assert (config.admin.query_timeout_s, config.admin.query_max_bytes) == (5.0, 4 * 1024 * 1024)
    # A smaller message size brings the default cap down with it.
    assert GatewayConfig.from_env({"MODELGW_MAX_MESSAGE_BYTES": "65536"}).admin.query_max_bytes == 32768
    for env, complaint in (
        ({"MODELGW_QUERY_MAX_BYTES": str(16 * 1024 * 1024)}, "below MODELGW_MAX_MESSAGE_BYTES"),
        ({"MODELGW_QUERY_MAX_BYTES": "100"}, "at least 1024"),
        ({"MODELGW_QUERY_TIMEOUT": "0"}, "must be positive"),
    ):
        with pytest.raises(ConfigError, match=complaint):
            GatewayConfig.from_env(env)



def test_worker_presence_and_the_no_worker_warning() -> None:
    config = GatewayConfig.from_env({})
    assert (config.queue.presence_s, config.no_worker_warning_s) == (5.0, 30.0)
    assert config.admin.worker_live_ms == 15_000  # three announcements
    quick = GatewayConfig.from_env(
        {"MODELGW_WORKER_PRESENCE_SECONDS": "0.5", "MODELGW_NO_WORKER_WARNING_SECONDS": "1"}
    )
    assert (quick.queue.live_s, quick.admin.worker_live_ms, quick.no_worker_warning_s) == (1.5, 1500, 1.0)
    assert GatewayConfig.from_env({"MODELGW_NO_WORKER_WARNING_SECONDS": "0"}).no_worker_warning_s == 0
    for env, complaint in (
        ({"MODELGW_WORKER_PRESENCE_SECONDS": "0"}, "must be positive"),
        ({"MODELGW_NO_WORKER_WARNING_SECONDS": "9"}, "at least twice MODELGW_WORKER_PRESENCE_SECONDS"),
    ):
        with pytest.raises(ConfigError, match=complaint):
            GatewayConfig.from_env(env)


def test_model_limits_and_their_caps() -> None:
    limits = GatewayConfig.from_env({}).model_limits
    assert limits.defaults == LimitValues(100_000, 1_000_000, 0.0)
    assert limits.caps == limits.defaults  # owners may lower a limit; superusers raise the cap
    raised = GatewayConfig.from_env({"MODELGW_MODEL_MAX_QUEUED_CAP": "500000"}).model_limits
    assert (raised.defaults.max_queued_jobs, raised.caps.max_queued_jobs) == (100_000, 500_000)
    for env, complaint in (
        ({"MODELGW_MODEL_MAX_QUEUED_CAP": "10"}, "MODELGW_MODEL_MAX_QUEUED_CAP=10 is below MODELGW_MODEL_MAX_QUEUED=100000"),
        ({"MODELGW_MODEL_USER_JOBS_PER_SECOND_CAP": "5"}, "is below MODELGW_MODEL_USER_JOBS_PER_SECOND=0 \\(0 is no limit\\)"),
        ({"MODELGW_MODEL_MAX_QUEUED_RECORDS": "50"}, "below MODELGW_MAX_RECORDS=10000"),
    ):
        with pytest.raises(ConfigError, match=complaint):
            GatewayConfig.from_env(env)
