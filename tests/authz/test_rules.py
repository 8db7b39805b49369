"""The Casbin model and fixed p-lines against in-memory grants: no servers."""

from __future__ import annotations

import pytest

from authz import GLOBAL_ACTIONS, Action, Decision, ModelAccess, PolicySnapshot, Principal
from authz.grants import Grant

A, D = Decision.ALLOW, Decision.FORBIDDEN
MODEL_ACTIONS = [a for a in Action if a not in GLOBAL_ACTIONS]

# What a holder of each standing may do on the model "m"; missing actions are FORBIDDEN.
EXPECTED: dict[str, dict[Action, Decision]] = {
    "owner": {a: A for a in MODEL_ACTIONS if a is not Action.MANAGE_OWNERS},
    "reader": {Action.READ: A, Action.RUN: A},
    "public": {Action.READ: A, Action.RUN: A},
    "owner+reader": {a: A for a in MODEL_ACTIONS if a is not Action.MANAGE_OWNERS},
    "superuser": {a: A for a in MODEL_ACTIONS},
    "nobody": {a: Decision.HIDDEN for a in MODEL_ACTIONS},
}

GRANTS = [
    Grant("olga", "owner", "m"),
    Grant("rita", "reader", "m"),
    Grant("both", "owner", "m"),
    Grant("both", "reader", "m"),
    Grant("*", "reader", "pub"),
    Grant("olga", "owner", "pub"),
    Grant("other", "owner", "elsewhere"),
]

CALLERS = {
    "owner": (Principal("olga"), "m"),
    "reader": (Principal("rita"), "m"),
    "public": (Principal("stranger"), "pub"),
    "owner+reader": (Principal("both"), "m"),
    "superuser": (Principal("root", superuser=True), "unregistered"),
    "nobody": (Principal("other"), "m"),
}


@pytest.fixture(scope="module")
def snapshot() -> PolicySnapshot:
    return PolicySnapshot(GRANTS)


@pytest.mark.parametrize("action", MODEL_ACTIONS)
@pytest.mark.parametrize("standing", EXPECTED)
def test_model_action_matrix(snapshot: PolicySnapshot, standing: str, action: Action) -> None:
    principal, model = CALLERS[standing]
    assert snapshot.decide(principal, action, model) is EXPECTED[standing].get(action, D)


@pytest.mark.parametrize("action", sorted(GLOBAL_ACTIONS))
@pytest.mark.parametrize("standing", EXPECTED)
def test_global_actions_are_superuser_only(
    snapshot: PolicySnapshot, standing: str, action: Action
) -> None:
    principal, _ = CALLERS[standing]
    expected = A if principal.superuser else D
    assert snapshot.decide(principal, action, None) is expected


def test_a_public_model_admits_every_user_but_only_to_read_and_run(
    snapshot: PolicySnapshot,
) -> None:
    for user in ("stranger", "rita", ""):
        assert snapshot.decide(Principal(user), Action.RUN, "pub") is A
        assert snapshot.decide(Principal(user), Action.UPDATE, "pub") is D
    assert snapshot.decide(Principal("olga"), Action.UPDATE, "pub") is A


def test_the_superuser_flag_is_what_counts_not_the_name(snapshot: PolicySnapshot) -> None:
    assert snapshot.decide(Principal("root"), Action.ADMIN, None) is D
    assert snapshot.decide(Principal("root"), Action.READ, "m") is Decision.HIDDEN


def test_unknown_models_and_users_are_hidden(snapshot: PolicySnapshot) -> None:
    assert snapshot.decide(Principal("olga"), Action.READ, "nope") is Decision.HIDDEN
    assert snapshot.decide(Principal("ghost"), Action.DELETE, "m") is Decision.HIDDEN


def test_model_and_global_actions_are_not_mixed_up(snapshot: PolicySnapshot) -> None:
    with pytest.raises(ValueError, match="global"):
        snapshot.decide(Principal("root", superuser=True), Action.ADMIN, "m")
    with pytest.raises(ValueError, match="one model"):
        snapshot.decide(Principal("olga"), Action.READ, None)


def test_readable_models(snapshot: PolicySnapshot) -> None:
    assert snapshot.readable_models(Principal("olga")) == {"m", "pub"}
    assert snapshot.readable_models(Principal("rita")) == {"m", "pub"}
    assert snapshot.readable_models(Principal("stranger")) == {"pub"}
    assert snapshot.readable_models(Principal("other")) == {"elsewhere", "pub"}
    assert snapshot.readable_models(Principal("olga", superuser=True)) is None


def test_readable_models_agree_with_decide(snapshot: PolicySnapshot) -> None:
    models = {g.model for g in GRANTS} | {"unregistered"}
    for user in {g.user for g in GRANTS} | {"stranger"}:
        principal = Principal(user)
        readable = {m for m in models if snapshot.decide(principal, Action.READ, m) is A}
        assert snapshot.readable_models(principal) == readable


def test_access_of(snapshot: PolicySnapshot) -> None:
    assert snapshot.access_of("m") == ModelAccess(False, ("both", "olga"), ("both", "rita"))
    assert snapshot.access_of("pub") == ModelAccess(True, ("olga",), ())
    assert snapshot.access_of("nope") == ModelAccess(False, (), ())


def test_an_empty_policy_allows_only_superusers() -> None:
    empty = PolicySnapshot()
    assert empty.decide(Principal("a"), Action.READ, "m") is Decision.HIDDEN
    assert empty.decide(Principal("a", superuser=True), Action.DELETE, "m") is A
    assert empty.readable_models(Principal("a")) == frozenset()


# Names a hostile user might pick: every role, the public wildcard, and the
# namespace separators the Casbin lines use.
HOSTILE_NAMES = [
    "owner", "reader", "role:owner", "role:reader", "group:everyone", "user:olga",
    "everyone", "superuser", "user:", "role:", ":", "owner:", "*:", "user:*",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("action", MODEL_ACTIONS)
def test_a_user_named_like_a_role_holds_nothing(
    snapshot: PolicySnapshot, name: str, action: Action
) -> None:
    assert snapshot.decide(Principal(name), action, "m") is Decision.HIDDEN


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_granting_a_user_named_like_a_role_grants_only_that_user(name: str) -> None:
    snapshot = PolicySnapshot([*GRANTS, Grant(name, "owner", "pub"), Grant(name, "owner", "m")])
    assert snapshot.decide(Principal(name), Action.DELETE, "pub") is Decision.ALLOW
    # A public reader and the model's reader stay readers.
    assert snapshot.decide(Principal("stranger"), Action.UPDATE, "pub") is Decision.FORBIDDEN
    assert snapshot.decide(Principal("rita"), Action.UPDATE, "m") is Decision.FORBIDDEN
    assert snapshot.decide(Principal("nobody-else"), Action.READ, "m") is Decision.HIDDEN
    assert snapshot.access_of("pub").owners == tuple(sorted({"olga", name}))
