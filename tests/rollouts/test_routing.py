"""The traffic split at submission (rollouts.routing): pure logic, no servers."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from rollouts.routing import RolloutRoute, Route, bucket, choose

ROLLOUT = RolloutRoute("r-1", baseline="1.0", candidate="2.0", percent=10.0)


def test_a_named_version_is_pinned_whatever_the_rollout() -> None:
    assert choose("1.5", "1.0", ROLLOUT, "key").version == "1.5"
    assert choose("1.5", "1.0", ROLLOUT).route is Route.PINNED


def test_without_a_rollout_the_default_runs() -> None:
    choice = choose("", "1.0", None, "key")
    assert (choice.version, choice.route, choice.rollout_id) == ("1.0", Route.DEFAULT, "")


def test_unkeyed_draws_give_the_candidate_its_share() -> None:
    draw = random.Random(7)
    picks = [choose("", "1.0", ROLLOUT, draw=draw) for _ in range(20_000)]
    share = sum(p.version == "2.0" for p in picks) / len(picks)
    assert abs(share - 0.10) < 0.01
    assert {(p.route, p.rollout_id) for p in picks} == {(Route.ROLLOUT, "r-1")}


def test_keys_spread_like_draws() -> None:
    share = sum(choose("", "1.0", ROLLOUT, f"mol-{i}").version == "2.0" for i in range(20_000))
    assert abs(share / 20_000 - 0.10) < 0.01


@given(st.text(min_size=1, max_size=128), st.floats(min_value=0, max_value=100))
def test_a_key_always_gets_the_same_version(key: str, percent: float) -> None:
    rollout = RolloutRoute("r-1", "1.0", "2.0", percent)
    assert len({choose("", "1.0", rollout, key).version for _ in range(5)}) == 1


@given(st.text(min_size=1), st.floats(0, 100), st.floats(0, 100))
def test_a_growing_share_never_moves_a_key_back_to_the_baseline(
    key: str, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    at_low = choose("", "1.0", RolloutRoute("r", "1.0", "2.0", low), key).version
    at_high = choose("", "1.0", RolloutRoute("r", "1.0", "2.0", high), key).version
    assert not (at_low == "2.0" and at_high == "1.0")


def test_the_ends_of_the_split() -> None:
    none = RolloutRoute("r", "1.0", "2.0", 0.0)
    every = RolloutRoute("r", "1.0", "2.0", 100.0)
    keys = [f"k{i}" for i in range(1000)]
    assert {choose("", "1.0", none, k).version for k in keys} == {"1.0"}
    assert {choose("", "1.0", every, k).version for k in keys} == {"2.0"}
    assert all(0 <= bucket("r", k) < 100 for k in keys)


def test_each_rollout_splits_keys_afresh() -> None:
    keys = [f"user-{i}" for i in range(2000)]
    first = {k for k in keys if bucket("r-1", k) < 10}
    second = {k for k in keys if bucket("r-2", k) < 10}
    assert first != second  # not the same unlucky callers every time
