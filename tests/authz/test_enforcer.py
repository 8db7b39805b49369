"""AccessPolicy's decision cache, on a database-less policy."""

from __future__ import annotations

from authz import AccessPolicy, Action, Decision, PolicySnapshot, Principal
from authz.grants import Grant


class CountingSnapshot(PolicySnapshot):
    """A real snapshot that counts how often a decision reaches Casbin."""

    calls = 0

    def decide(self, principal: Principal, action: Action, model: str | None) -> Decision:
        self.calls += 1
        return super().decide(principal, action, model)


def test_a_repeated_question_skips_casbin() -> None:
    snapshot = CountingSnapshot([Grant("ann", "reader", "m")])
    policy = AccessPolicy(snapshot)
    for _ in range(3):
        assert policy.decide(Principal("ann"), Action.RUN, "m") is Decision.ALLOW
    assert snapshot.calls == 1


def test_the_cache_key_includes_the_superuser_flag() -> None:
    policy = AccessPolicy(PolicySnapshot())
    assert policy.decide(Principal("ann"), Action.READ, "m") is Decision.HIDDEN
    assert policy.decide(Principal("ann", superuser=True), Action.READ, "m") is Decision.ALLOW
    assert policy.decide(Principal("ann"), Action.READ, "m") is Decision.HIDDEN


def test_installing_a_policy_invalidates_every_cached_decision() -> None:
    policy = AccessPolicy(PolicySnapshot([Grant("ann", "reader", "m")]))
    ann = Principal("ann")
    assert policy.decide(ann, Action.RUN, "m") is Decision.ALLOW
    assert policy.decide(ann, Action.UPDATE, "m") is Decision.FORBIDDEN
    policy.install(PolicySnapshot([Grant("ann", "owner", "m2")]))
    assert policy.decide(ann, Action.RUN, "m") is Decision.HIDDEN
    assert policy.decide(ann, Action.UPDATE, "m2") is Decision.ALLOW
    assert policy.readable_models(ann) == {"m2"}
    assert policy.access_of("m2").owners == ("ann",)
