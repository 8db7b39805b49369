"""What one worker process runs, and within which limits."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from backendspec import BackendPolicy
from settings import SettingsError
from workers.backends import SubprocessLimits


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
    policy: BackendPolicy = field(default_factory=BackendPolicy)
    """The python callables and commands this worker runs; a job outside fails at once."""
    limits: SubprocessLimits = field(default_factory=SubprocessLimits)
    """The ceiling of every model subprocess's resource limits."""
    model_processes: int | None = None
    """Python model processes, each running one batch at a time; None: the concurrency."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise SettingsError(f"a worker's concurrency is at least 1, not {self.concurrency}")
        if self.model_processes is not None and self.model_processes < 1:
            raise SettingsError(
                f"a worker's model processes are at least 1, not {self.model_processes}"
            )
