"""What every `modelgw` process reads alike: its data directory, the address it
binds, its log level, its Prometheus port and the registry database it may use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from settings.env import Env, choice, number, whole

# Every process's Prometheus port, MODELGW_<NAME>_METRICS_PORT; 0 disables it.
METRICS_PORTS = {
    "registry": 9461,
    "execution": 9462,
    "admin": 9463,
    "scheduler": 9464,
    "worker": 9465,
    "audit": 9466,
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def home(env: Env) -> Path:
    """MODELGW_HOME, absolute: the data directory."""
    return Path(env.get("MODELGW_HOME", ".modelgw")).absolute()


def host(env: Env) -> str:
    """MODELGW_HOST: the address the servers and every metrics endpoint bind."""
    return env.get("MODELGW_HOST", "127.0.0.1")


def log_level(env: Env) -> str:
    """MODELGW_LOG_LEVEL, upper-cased."""
    return choice(env, "MODELGW_LOG_LEVEL", "INFO", LOG_LEVELS)


def metrics_ports(env: Env) -> Mapping[str, int]:
    """Every process's Prometheus port, by process name (METRICS_PORTS)."""
    return {
        name: whole(env, f"MODELGW_{name.upper()}_METRICS_PORT", default)
        for name, default in METRICS_PORTS.items()
    }


def local_database_url(home: Path) -> str:
    """The gateway role's DSN for `modelgw up`'s PostgreSQL on its default port,
    with the password file the mesh keeps under MODELGW_HOME (mesh.postgres)."""
    passfile = quote(str(home / "postgres" / "secrets" / "modelgw.pgpass"), safe="/")
    return f"postgresql://modelgw@127.0.0.1:55432/modelgw?passfile={passfile}"


def database_url(env: Env, home: Path) -> str:
    """MODELGW_DATABASE_URL, else the local mesh's database."""
    return env.get("MODELGW_DATABASE_URL") or local_database_url(home)


def database_timeout_s(env: Env) -> float:
    """MODELGW_DATABASE_TIMEOUT: seconds to wait for a pooled connection or a query."""
    return number(env, "MODELGW_DATABASE_TIMEOUT", 5.0)


@dataclass(frozen=True)
class ProcessSettings:
    """How one named process (METRICS_PORTS' names) logs and serves its metrics."""

    name: str
    host: str
    log_level: str
    metrics_port: int

    @classmethod
    def from_env(cls, env: Env, name: str) -> ProcessSettings:
        """MODELGW_HOST, MODELGW_LOG_LEVEL and MODELGW_<NAME>_METRICS_PORT."""
        port = whole(env, f"MODELGW_{name.upper()}_METRICS_PORT", METRICS_PORTS[name])
        return cls(name=name, host=host(env), log_level=log_level(env), metrics_port=port)
