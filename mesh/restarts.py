"""When the mesh restarts a child that died, and when it gives up on it.

A child's n-th crash within `window` seconds is followed by a restart after
`first` * 2**(n-1) seconds, at most `longest`; its `give_up_after`-th crash within
the window stops the mesh instead: a child that cannot stay up is a fault to
report, not to hide. Pure logic: the supervisor passes the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    """The backoff between restarts and the crash rate that stops the mesh."""

    first: float = 0.5
    longest: float = 10.0
    give_up_after: int = 5
    window: float = 60.0

    def delay(self, crashes: int) -> float:
        """Seconds to wait before restarting a child that crashed `crashes` times
        within the window (this crash included)."""
        return float(min(self.first * 2 ** max(crashes - 1, 0), self.longest))


@dataclass
class CrashHistory:
    """One child's recent crashes."""

    policy: RestartPolicy
    times: list[float] = field(default_factory=list)

    def crashed(self, now: float) -> float | None:
        """Record a crash at `now` (monotonic seconds): the delay before restarting
        the child, or None when it crashed too often and the mesh should stop."""
        self.times = [t for t in self.times if now - t < self.policy.window] + [now]
        if len(self.times) >= self.policy.give_up_after:
            return None
        return self.policy.delay(len(self.times))

    @property
    def recent(self) -> int:
        """Crashes within the window, as of the last one recorded."""
        return len(self.times)
