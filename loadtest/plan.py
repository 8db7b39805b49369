"""The picklable description of one run, handed to every generator process."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field, replace
from typing import Any

# A record every scenario submits: the paper's caffeine SMILES.
RECORD: dict[str, Any] = {"smiles": "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"}


@dataclass(frozen=True)
class Share:
    """One generator process's part of a run: its clients and where they go."""

    scenario: str
    clients: int
    start_at: float  # wall clock (time.time()) at which the measured window opens
    duration_s: float
    target: str  # host:port for gRPC, a base URL for REST, a Redis URL for Celery
    tokens: tuple[str, ...] = ()
    model: str = "demo.echo"
    # Jobs to read back (get) or to watch (watch), per token index.
    job_ids: tuple[tuple[str, ...], ...] = ()
    drain_s: float = 10.0
    call_timeout_s: float = 120.0
    clients_per_channel: int = 100
    max_channels: int = 200
    poll_s: float = 0.02
    hold_timeout_s: float = 120.0
    first_client: int = 0
    # 0: every client calls in a closed loop for duration_s. N: every client makes
    # N calls (a burst), and duration_s is the time the burst gets to be answered.
    calls_per_client: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def split(self, processes: int) -> list[Share]:
        """This run divided between `processes` generator processes (at most one per client)."""
        count = max(1, min(processes, self.clients))
        shares, first = [], 0
        for index in range(count):
            clients = self.clients // count + (1 if index < self.clients % count else 0)
            shares.append(replace(self, clients=clients, first_client=first))
            first += clients
        return shares


def raise_file_limit() -> int:
    """Raises this process's open-file limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
