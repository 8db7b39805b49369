"""The restart backoff and the crash rate that stops the mesh: pure logic."""

from __future__ import annotations

import signal

from mesh.process import exit_reason
from mesh.restarts import CrashHistory, RestartPolicy


def test_the_delay_doubles_up_to_the_longest() -> None:
    policy = RestartPolicy(first=0.5, longest=10)
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_a_child_is_given_up_on_at_the_threshold_within_the_window() -> None:
    history = CrashHistory(RestartPolicy(first=0.5, give_up_after=5, window=60))
    assert [history.crashed(t) for t in (0, 1, 2, 3)] == [0.5, 1, 2, 4]
    assert history.crashed(4) is None
    assert history.recent == 5


def test_crashes_older_than_the_window_are_forgotten() -> None:
    history = CrashHistory(RestartPolicy(first=0.5, give_up_after=3, window=60))
    assert history.crashed(0) == 0.5
    assert history.crashed(30) == 1
    # The first crash is out of the window: two recent ones, and the backoff follows.
    assert history.crashed(61) == 1
    assert history.crashed(200) == 0.5
    assert history.recent == 1


def test_exit_reasons_name_the_code_or_the_signal() -> None:
    assert exit_reason(3) == "exited with code 3"
    assert exit_reason(-signal.SIGKILL) == "was killed by SIGKILL"
    assert exit_reason(-200) == "was killed by signal 200"
