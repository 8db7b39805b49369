"""Gateway configuration, read once from MODELGW_* environment variables.

Every setting has a safe default for the local mesh; a malformed value fails
loudly at start rather than being guessed at. The README's configuration table
mirrors this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from backendspec import BackendPolicy
from gateway.registry.limits import LimitValues, PlatformLimits
from scheduler.admission import UserRates
from scheduler.connection import RedisSettings
from scheduler.settings import QueueSettings, redis_settings
from settings import SettingsError, process
from settings.env import Env, number, optional_whole, whole
from settings.process import METRICS_PORTS as METRICS_PORTS
from settings.process import local_database_url as local_database_url

SERVICE_PORTS = {"registry": 50051, "execution": 50052, "admin": 50053}

# Set by the prefork parent (gateway.prefork) to each child's index, 0 to N-1.
PREFORK_CHILD_ENV = "MODELGW_PREFORK_CHILD"
# Set by the prefork parent to the file descriptor of each child's line to it.
PREFORK_LINE_ENV = "MODELGW_PREFORK_LINE"

# The model catalog in the repository (catalog/models.yaml), read by the admin RPCs.
DEFAULT_CATALOG = Path(__file__).resolve().parents[1] / "catalog" / "models.yaml"

# Every setting raises SettingsError now; the old name stays for its importers.
ConfigError = SettingsError


@dataclass(frozen=True)
class AuthConfig:
    """How bearer tokens are verified."""

    # Production: verify against an identity provider's JWKS.
    jwks_url: str | None
    issuer: str
    audience: str
    # Local default: a signing key created under MODELGW_HOME on first start.
    signing_key_path: Path
    # Name of the boolean token claim that makes a user a superuser.
    superuser_claim: str
    # The longest lifetime (exp - iat) a token may claim, and the most
    # `modelgw token create` signs: a leaked token must not be good forever.
    max_ttl_s: int

    @classmethod
    def from_env(cls, env: Env, home: Path) -> AuthConfig:
        """The MODELGW_JWT_* settings."""
        return cls(
            jwks_url=env.get("MODELGW_JWT_JWKS_URL") or None,
            issuer=env.get("MODELGW_JWT_ISSUER", "modelgw-local"),
            audience=env.get("MODELGW_JWT_AUDIENCE", "modelgw"),
            signing_key_path=Path(
                env.get("MODELGW_JWT_SIGNING_KEY") or home / "keys" / "jwt-signing-key.pem"
            ),
            superuser_claim=env.get("MODELGW_JWT_SUPERUSER_CLAIM", "superuser"),
            max_ttl_s=whole(env, "MODELGW_JWT_MAX_TTL", 86_400, minimum=1),
        )


@dataclass(frozen=True)
class AdminConfig:
    """The admin server's model catalog, SQL console and worker liveness."""

    catalog_path: Path
    # The SQL console's own role (QueryModelDatabase); None: the console is off.
    query_database_url: str | None
    query_timeout_s: float
    query_max_rows: int
    # Most bytes of rows one console reply carries.
    query_max_bytes: int
    # A worker that announced itself more recently than this counts as live.
    worker_live_ms: int
    # Seconds between two passes of the rollout controller over the active rollouts.
    rollout_tick_s: float

    @classmethod
    def from_env(
        cls,
        env: Env,
        *,
        worker_live_s: float,
        database_url: str,
        max_message_bytes: int,
    ) -> AdminConfig:
        """The admin server's settings; the console's role must differ from the gateway's."""
        return cls(
            catalog_path=Path(env.get("MODELGW_CATALOG") or DEFAULT_CATALOG).absolute(),
            query_database_url=_query_database_url(env, database_url),
            query_timeout_s=number(env, "MODELGW_QUERY_TIMEOUT", 5.0, positive=True),
            query_max_rows=whole(env, "MODELGW_QUERY_MAX_ROWS", 10_000, minimum=1),
            query_max_bytes=_query_max_bytes(env, max_message_bytes),
            worker_live_ms=int(worker_live_s * 1000),
            rollout_tick_s=number(env, "MODELGW_ROLLOUT_TICK_SECONDS", 1.0, positive=True),
        )


def _query_database_url(env: Env, database_url: str) -> str | None:
    url = env.get("MODELGW_QUERY_DATABASE_URL") or None
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.username:
        raise SettingsError(
            "MODELGW_QUERY_DATABASE_URL must be a postgresql:// URL naming its role, "
            "e.g. postgresql://modelgw_query@db:5432/modelgw"
        )
    if parts.username == urlsplit(database_url).username:
        raise SettingsError(
            f"MODELGW_QUERY_DATABASE_URL logs in as {parts.username!r}, the role of "
            "MODELGW_DATABASE_URL: the SQL console needs a role of its own (modelgw_query)"
        )
    return url


def _query_max_bytes(env: Env, max_message_bytes: int) -> int:
    # 4 MiB is also what gRPC clients and grpcurl accept by default.
    default = min(4 * 1024 * 1024, max_message_bytes // 2)
    value = whole(env, "MODELGW_QUERY_MAX_BYTES", default, minimum=1024)
    if value >= max_message_bytes:
        raise SettingsError(
            f"MODELGW_QUERY_MAX_BYTES={value} must be below MODELGW_MAX_MESSAGE_BYTES "
            f"({max_message_bytes}), or the reply could not be sent"
        )
    return value


def _no_worker_warning_s(env: Env, presence_s: float) -> float:
    value = number(env, "MODELGW_NO_WORKER_WARNING_SECONDS", 30.0)
    if 0 < value < 2 * presence_s:
        # Between two announcements of a live worker the warning would come and go.
        raise SettingsError(
            f"MODELGW_NO_WORKER_WARNING_SECONDS={value:g} must be 0 (no warning) or at "
            f"least twice MODELGW_WORKER_PRESENCE_SECONDS ({presence_s:g})"
        )
    return value


def _user_rates(env: Env, max_records: int) -> UserRates:
    rates = UserRates(
        jobs_per_s=number(env, "MODELGW_USER_JOBS_PER_SECOND", 200.0),
        jobs_burst=whole(env, "MODELGW_USER_JOBS_BURST", 2_000, minimum=1),
        records_per_s=number(env, "MODELGW_USER_RECORDS_PER_SECOND", 20_000.0),
        records_burst=whole(env, "MODELGW_USER_RECORDS_BURST", 100_000, minimum=1),
    )
    if rates.records_per_s and rates.records_burst < max_records:
        raise SettingsError(
            f"MODELGW_USER_RECORDS_BURST={rates.records_burst} is below "
            f"MODELGW_MAX_RECORDS={max_records}: a job of that many records could never run"
        )
    return rates


def _model_limits(env: Env, max_records: int) -> PlatformLimits:
    """Every model's limits unless its owners set their own, and the caps on
    what they may set; each cap defaults to its limit, so owners may lower a
    limit but only a superuser may let a model go above the default."""
    jobs = whole(env, "MODELGW_MODEL_MAX_QUEUED", 100_000)
    records = whole(env, "MODELGW_MODEL_MAX_QUEUED_RECORDS", 1_000_000)
    rate = number(env, "MODELGW_MODEL_USER_JOBS_PER_SECOND", 0.0)
    limits = PlatformLimits(
        defaults=LimitValues(jobs, records, rate),
        caps=LimitValues(
            whole(env, "MODELGW_MODEL_MAX_QUEUED_CAP", jobs),
            whole(env, "MODELGW_MODEL_MAX_QUEUED_RECORDS_CAP", records),
            number(env, "MODELGW_MODEL_USER_JOBS_PER_SECOND_CAP", rate),
        ),
    )
    for name, default, cap in (
        ("MODELGW_MODEL_MAX_QUEUED", jobs, limits.caps.max_queued_jobs),
        ("MODELGW_MODEL_MAX_QUEUED_RECORDS", records, limits.caps.max_queued_records),
        ("MODELGW_MODEL_USER_JOBS_PER_SECOND", rate, limits.caps.user_jobs_per_second),
    ):
        if cap and (not default or default > cap):
            raise SettingsError(
                f"{name}_CAP={cap:g} is below {name}={default:g} (0 is no limit): "
                "the cap must be at least the default"
            )
    for name, most in (
        ("MODELGW_MODEL_MAX_QUEUED_RECORDS", records),
        ("MODELGW_MODEL_MAX_QUEUED_RECORDS_CAP", limits.caps.max_queued_records),
    ):
        if most and most < max_records:
            raise SettingsError(
                f"{name}={most} is below MODELGW_MAX_RECORDS={max_records}: "
                "a job of that many records could never be queued"
            )
    return limits


@dataclass(frozen=True)
class GatewayConfig:
    """Settings of one gateway server process."""

    home: Path
    host: str
    ports: Mapping[str, int]
    database_url: str
    database_pool_min: int
    database_pool_max: int
    database_timeout_s: float
    redis: RedisSettings
    queue: QueueSettings
    max_records: int
    # What one user may submit, across every model.
    user_rates: UserRates
    # What a model's queue may hold and each user may submit to it, unless its
    # owners set their own; the caps on what they may set.
    model_limits: PlatformLimits
    watch_heartbeat_s: float
    # A QUEUED job warns that it may wait forever when no worker serving its model
    # announced itself for this long; 0 turns the warning off.
    no_worker_warning_s: float
    queue_place_fresh_s: float
    """How long a QUEUED job's place, once read, answers its GetJob and WatchJob."""
    finished_reply_fresh_s: float
    """How long a finished job's GetJob reply, once built, answers from memory."""
    resolution_cache_s: float
    auth: AuthConfig
    max_message_bytes: int
    max_concurrent_rpcs: int
    max_pending_requests: int
    # Seconds a call may wait before the server picks it up; then it is cancelled.
    max_unrequested_s: int
    shutdown_grace_s: float
    # Server processes sharing one port (SO_REUSEPORT), run by gateway.prefork.
    server_processes: int
    # Which of them this process is: set by gateway.prefork in its children's
    # environment (MODELGW_PREFORK_CHILD), never by hand; None in a lone server.
    prefork_child: int | None
    # The child's end of its line to the prefork parent (gateway.recycling), a
    # file descriptor the parent passes; None in a lone server.
    prefork_line: int | None
    # A prefork child holding no stream that has grown by more than this many MB
    # of resident memory since it started serving asks to be replaced; 0: never.
    recycle_growth_mb: int
    log_level: str
    metrics_ports: Mapping[str, int]
    admin: AdminConfig
    # The python callables and commands a version may name (MODELGW_ALLOWED_*): the
    # registry refuses others, as the workers would.
    backends: BackendPolicy

    @classmethod
    def from_env(cls, env: Env | None = None) -> GatewayConfig:
        """Every MODELGW_* setting a server reads; fails loudly on a bad value."""
        env = os.environ if env is None else env
        root = process.home(env)
        url = process.database_url(env, root)
        queue = QueueSettings.from_env(env)
        max_message_bytes = whole(env, "MODELGW_MAX_MESSAGE_BYTES", 16 * 1024 * 1024, minimum=1024)
        max_records = whole(env, "MODELGW_MAX_RECORDS", 10_000, minimum=1)
        return cls(
            home=root,
            host=process.host(env),
            ports={
                name: whole(env, f"MODELGW_{name.upper()}_PORT", default, minimum=0)
                for name, default in SERVICE_PORTS.items()
            },
            database_url=url,
            database_pool_min=whole(env, "MODELGW_DATABASE_POOL_MIN", 2, minimum=1),
            database_pool_max=whole(env, "MODELGW_DATABASE_POOL_MAX", 20, minimum=1),
            database_timeout_s=process.database_timeout_s(env),
            redis=redis_settings(env),
            queue=queue,
            max_records=max_records,
            user_rates=_user_rates(env, max_records),
            model_limits=_model_limits(env, max_records),
            watch_heartbeat_s=number(env, "MODELGW_WATCH_HEARTBEAT", 10.0),
            no_worker_warning_s=_no_worker_warning_s(env, queue.presence_s),
            queue_place_fresh_s=number(env, "MODELGW_QUEUE_PLACE_SECONDS", 1.0),
            finished_reply_fresh_s=number(env, "MODELGW_FINISHED_REPLY_SECONDS", 600.0),
            resolution_cache_s=number(env, "MODELGW_RESOLUTION_CACHE", 1.0),
            auth=AuthConfig.from_env(env, root),
            max_message_bytes=max_message_bytes,
            max_concurrent_rpcs=whole(env, "MODELGW_MAX_CONCURRENT_RPCS", 200_000, minimum=1),
            max_pending_requests=whole(env, "MODELGW_MAX_PENDING_REQUESTS", 200_000, minimum=1),
            max_unrequested_s=whole(env, "MODELGW_MAX_UNREQUESTED_SECONDS", 300, minimum=1),
            shutdown_grace_s=number(env, "MODELGW_SHUTDOWN_GRACE", 10.0),
            server_processes=whole(env, "MODELGW_SERVER_PROCESSES", 1, minimum=1),
            prefork_child=optional_whole(env, PREFORK_CHILD_ENV),
            prefork_line=optional_whole(env, PREFORK_LINE_ENV),
            recycle_growth_mb=whole(env, "MODELGW_RECYCLE_GROWTH_MB", 512),
            log_level=process.log_level(env),
            metrics_ports=process.metrics_ports(env),
            admin=AdminConfig.from_env(
                env,
                worker_live_s=queue.live_s,
                database_url=url,
                max_message_bytes=max_message_bytes,
            ),
            backends=BackendPolicy.from_env(env),
        )

    def address(self, service: str) -> str:
        """host:port the named server listens on."""
        return f"{self.host}:{self.ports[service]}"
