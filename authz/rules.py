"""The policy at one instant: Casbin's verdicts plus the indexes derived from the same lines.

Everything here is pure and synchronous. A `PolicySnapshot` is built from the
per-model grants (Casbin g-lines) and the fixed role-to-action p-lines in
policy.csv, and is never mutated afterwards: a reload builds a new one and
swaps it in whole.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import casbin
from casbin.persist import Adapter, load_policy_line

from authz.actions import GLOBAL_ACTIONS, Action, Role
from authz.grants import EVERYONE, Grant, line_of, role_term, user_term
from authz.principal import Principal

__all__ = ["EVERYONE", "Decision", "Grant", "ModelAccess", "PolicySnapshot"]

GLOBAL_OBJECT = "*"
"""The Casbin object of the global actions, which concern no single model."""

_MODEL_TEXT = resources.files("authz").joinpath("model.conf").read_text()
_POLICY_TEXT = resources.files("authz").joinpath("policy.csv").read_text()


class Decision(enum.Enum):
    ALLOW = "allow"
    HIDDEN = "hidden"
    """The caller may not even read the model: answer NOT_FOUND so private names don't leak."""
    FORBIDDEN = "forbidden"
    """The caller may read the model (or it is a global action) but not do this."""


@dataclass(frozen=True, slots=True)
class ModelAccess:
    public: bool
    owners: tuple[str, ...]
    readers: tuple[str, ...]


NO_ACCESS = ModelAccess(public=False, owners=(), readers=())


class _GrantsAdapter(Adapter):  # type: ignore[misc]  # casbin ships no type hints
    """Feeds Casbin the fixed p-lines and grants already fetched from the database."""

    def __init__(self, grants: Iterable[Grant]) -> None:
        self._grants = grants

    def load_policy(self, model: Any) -> None:
        for line in _POLICY_TEXT.splitlines():
            load_policy_line(line.strip(), model)
        for grant in self._grants:
            model.add_policy("g", "g", list(line_of(grant)))


class PolicySnapshot:
    """An immutable policy: ask `allows`/`decide`; read the indexes without touching Casbin."""

    def __init__(self, grants: Iterable[Grant] = ()) -> None:
        grants = list(grants)
        model = casbin.Enforcer.new_model(text=_MODEL_TEXT)
        self._enforcer = casbin.Enforcer(model, _GrantsAdapter(grants))
        read_roles = {term for term, _ in self._enforcer.get_filtered_policy(1, Action.READ)}
        self._readable: dict[str, set[str]] = {}
        self._public: set[str] = set()
        access: dict[str, dict[str, set[str]]] = {}
        for user, role, model_name in grants:
            access.setdefault(model_name, {}).setdefault(role, set()).add(user)
            if role_term(role) not in read_roles:
                continue
            if user == EVERYONE:
                self._public.add(model_name)
            else:
                self._readable.setdefault(user, set()).add(model_name)
        self._access = {name: _model_access(roles) for name, roles in access.items()}
        self._public_frozen = frozenset(self._public)
        self._readable_memo: dict[str, frozenset[str]] = {}

    def allows(self, principal: Principal, action: Action, obj: str) -> bool:
        """Casbin's verdict: the one place the rules are evaluated."""
        subject = user_term(principal.user)
        return bool(self._enforcer.enforce(subject, principal.superuser, obj, action.value))

    def decide(self, principal: Principal, action: Action, model: str | None) -> Decision:
        """Casbin's verdict, refined into HIDDEN (may not read) or FORBIDDEN (may read)."""
        if action in GLOBAL_ACTIONS:
            if model is not None:
                raise ValueError(f"{action} is a global action: decide it with model None")
            allowed = self.allows(principal, action, GLOBAL_OBJECT)
            return Decision.ALLOW if allowed else Decision.FORBIDDEN
        if model is None:
            raise ValueError(f"{action} concerns one model: pass its name")
        if self.allows(principal, action, model):
            return Decision.ALLOW
        if action is Action.READ or not self.allows(principal, Action.READ, model):
            return Decision.HIDDEN
        return Decision.FORBIDDEN

    def readable_models(self, principal: Principal) -> frozenset[str] | None:
        """The models ``principal`` may read; None means every model (superuser)."""
        if principal.superuser:
            return None
        memo = self._readable_memo.get(principal.user)
        if memo is None:
            own = self._readable.get(principal.user)
            memo = self._public_frozen | own if own else self._public_frozen
            self._readable_memo[principal.user] = memo
        return memo

    def access_of(self, model: str) -> ModelAccess:
        return self._access.get(model, NO_ACCESS)


def _model_access(roles: dict[str, set[str]]) -> ModelAccess:
    readers = roles.get(Role.READER, set())
    return ModelAccess(
        public=EVERYONE in readers,
        owners=tuple(sorted(roles.get(Role.OWNER, set()))),
        readers=tuple(sorted(readers - {EVERYONE})),
    )
