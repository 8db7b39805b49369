"""What one worker process runs, and within which limits.

Read from MODELGW_WORKER_* variables (WorkerSettings.from_env); a worker's
command-line flags replace them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from backendspec import BackendPolicy
from scheduler.keys import ALL_VERSIONS
from settings import SettingsError
from settings.env import Env, items, number, optional_whole, whole
from workers.backends import SubprocessLimits

MODELS_ENV = "MODELGW_WORKER_MODELS"
CONCURRENCY_ENV = "MODELGW_WORKER_CONCURRENCY"
MODEL_PROCESSES_ENV = "MODELGW_WORKER_MODEL_PROCESSES"
DRAIN_GRACE_ENV = "MODELGW_WORKER_DRAIN_GRACE"
DISCOVERY_ENV = "MODELGW_WORKER_DISCOVERY_SECONDS"


def served_entry(entry: str) -> tuple[str, str]:
    """(model, version) of one served entry; SettingsError if it is malformed."""
    model, at, version = entry.partition("@")
    if not model or (at and not version) or "@" in version or version == ALL_VERSIONS:
        raise SettingsError(
            f"a worker serves 'model' (every version) or 'model@version', not {entry!r}"
        )
    return model, version if at else ALL_VERSIONS


@dataclass(frozen=True)
class WorkerSettings:
    """A worker's models, how many jobs it runs at once, and its allow-list and limits."""

    models: tuple[str, ...]
    concurrency: int = 16
    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    drain_grace_s: float = 30.0
    block_ms: int = 1000
    cancel_poll_s: float = 1.0
    consensus: bool = False
    """Also run consensus jobs, of every consensus model, found as they appear."""
    discovery_s: float = 2.0
    """Seconds between two looks for new version queues (and consensus models); a
    submission that makes a queue also announces it (keys.QUEUES_CHANNEL)."""
    policy: BackendPolicy = field(default_factory=BackendPolicy)
    """The python callables and commands this worker runs; a job outside fails at once."""
    limits: SubprocessLimits = field(default_factory=SubprocessLimits)
    """The ceiling of every model subprocess's resource limits."""
    model_processes: int | None = None
    """Python model processes, each running one batch at a time; None: the concurrency."""

    @property
    def served(self) -> tuple[tuple[str, str], ...]:
        """(model, version) per entry of `models`: `model@version` serves one
        version, a bare `model` every version (version keys.ALL_VERSIONS)."""
        return tuple(served_entry(entry) for entry in self.models)

    def __post_init__(self) -> None:
        for entry in self.models:
            served_entry(entry)
        if self.concurrency < 1:
            raise SettingsError(f"a worker's concurrency is at least 1, not {self.concurrency}")
        if self.model_processes is not None and self.model_processes < 1:
            raise SettingsError(
                f"a worker's model processes are at least 1, not {self.model_processes}"
            )

    @classmethod
    def from_env(
        cls,
        env: Env | None = None,
        *,
        models: Sequence[str] | None = None,
        extra_models: Sequence[str] = (),
        concurrency: int | None = None,
        model_processes: int | None = None,
        drain_grace_s: float | None = None,
        consensus: bool = False,
        allow_callables: str | None = None,
        allow_commands: str | None = None,
        limits: SubprocessLimits | None = None,
    ) -> WorkerSettings:
        """The settings from MODELGW_WORKER_*, the allow-list's and the sandbox's
        variables; each argument not None (a worker's flag) replaces its variable.

        `extra_models` are added after the others (the built-in models); `limits`
        replaces SubprocessLimits.from_env(env).
        """
        env = os.environ if env is None else env
        named = models if models is not None else items(env, MODELS_ENV) or ()
        return cls(
            models=(*named, *(m for m in extra_models if m not in named)),
            concurrency=concurrency or whole(env, CONCURRENCY_ENV, 16, minimum=1),
            model_processes=model_processes or optional_whole(env, MODEL_PROCESSES_ENV, minimum=1),
            drain_grace_s=(
                number(env, DRAIN_GRACE_ENV, 30.0) if drain_grace_s is None else drain_grace_s
            ),
            consensus=consensus,
            discovery_s=number(env, DISCOVERY_ENV, 2.0, positive=True),
            policy=BackendPolicy.from_env(env, callables=allow_callables, commands=allow_commands),
            limits=SubprocessLimits.from_env(env) if limits is None else limits,
        )
