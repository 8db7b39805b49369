"""Which version a submission that names none gets, and why.

A submission that names a version runs it (`pinned`); otherwise, with no
rollout under way, the model's default (`default`); with one, a weighted
choice between the baseline and the candidate (`rollout`). The choice is
sticky when the caller gives a key (a routing key, else the idempotency
key): the same key always lands on the same side of the split for one
rollout, and as a rollout's share grows a key never moves back to the
baseline, because its bucket is fixed and only the threshold rises.
"""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass

BUCKETS = 1 << 32
"""A key's bucket is 32 bits of a hash: fine enough for shares of a hundredth of a percent."""


class Route(enum.StrEnum):
    """Why a job got its version; stored with the job and shown by GetJob."""

    PINNED = "pinned"
    """The caller named the version: rollouts never change it."""
    DEFAULT = "default"
    """The model's default version (else its latest), no rollout under way."""
    ROLLOUT = "rollout"
    """Chosen by the model's active rollout, baseline or candidate."""


@dataclass(frozen=True)
class RolloutRoute:
    """What submission needs of a model's active rollout."""

    rollout_id: str
    baseline: str
    candidate: str
    percent: float
    """The candidate's share of the traffic that names no version, 0 to 100."""


@dataclass(frozen=True)
class Choice:
    """The version a submission runs, why, and under which rollout (or '')."""

    version: str
    route: Route
    rollout_id: str = ""


def bucket(rollout_id: str, key: str) -> float:
    """Where a key falls in a rollout's split, in [0, 100): fixed for the rollout."""
    digest = hashlib.blake2b(f"{rollout_id}\x00{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") * 100.0 / BUCKETS


def choose(
    requested: str,
    resolved: str,
    rollout: RolloutRoute | None,
    key: str = "",
    draw: random.Random | None = None,
) -> Choice:
    """The version for a submission that requested `requested` ('' for none) of a
    model whose default (or latest) version is `resolved`."""
    if requested:
        return Choice(requested, Route.PINNED)
    if rollout is None:
        return Choice(resolved, Route.DEFAULT)
    point = bucket(rollout.rollout_id, key) if key else (draw or _DRAW).random() * 100.0
    version = rollout.candidate if point < rollout.percent else rollout.baseline
    return Choice(version, Route.ROLLOUT, rollout.rollout_id)


_DRAW = random.Random()
