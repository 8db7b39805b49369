"""loadtest.settle: the busy share read from /proc/stat samples, and the wait for a
quiet second, against scripted samples and the machine's own /proc/stat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtest.settle import CpuTimes, parse_cpu_line, read_cpu_times, settle


def test_a_proc_stat_line_splits_into_busy_and_idle_ticks() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    times = parse_cpu_line("cpu  100 5 20 800 30 1 2 3 40 0")
    assert times == CpuTimes(busy=100 + 5 + 20 + 1 + 2 + 3, idle=800 + 30)
    assert parse_cpu_line("cpu 1 0 1 8 0 0 0") == CpuTimes(busy=2, idle=8)  # no steal field


def test_the_busy_share_is_of_the_ticks_between_two_samples() -> None:
    earlier, later = CpuTimes(busy=100, idle=900), CpuTimes(busy=130, idle=970)
    assert later.busy_share_since(earlier) == pytest.approx(0.3)
    assert earlier.busy_share_since(earlier) == 0.0  # no tick passed


def _samples(*busy_per_second: int) -> Iterator[CpuTimes]:
    busy = idle = 0
    yield CpuTimes(busy, idle)
    for share in busy_per_second:  # percent of 200 ticks (2 cores, 100 Hz)
        busy, idle = busy + 2 * share, idle + 2 * (100 - share)
        yield CpuTimes(busy, idle)


def test_it_waits_until_a_second_is_quiet() -> None:
    samples, slept = _samples(90, 60, 10, 0), []
    settled = settle(30, sample=lambda: next(samples), sleep=slept.append)
    assert (settled.waited_s, settled.busy_share, len(slept)) == (3.0, pytest.approx(0.1), 3)


def test_a_machine_that_stays_busy_is_waited_for_at_most_the_limit() -> None:
    samples = _samples(*[95] * 10)
    settled = settle(4, sample=lambda: next(samples), sleep=lambda _: None)
    assert (settled.waited_s, settled.busy_share) == (4.0, pytest.approx(0.95))
    assert settled.figures() == {"settle_waited_s": 4.0, "busy_before": 0.95}


def test_no_wait_when_the_limit_is_zero() -> None:
    settled = settle(0, sample=lambda: CpuTimes(0, 0), sleep=pytest.fail)
    assert (settled.waited_s, settled.busy_share) == (0.0, 0.0)


def test_this_machine_counts_ticks() -> None:
    times = read_cpu_times()
    assert times.busy > 0 and times.idle > 0
