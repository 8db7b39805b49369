"""Authorization: decides who may do what on which model, enforced with Casbin.

Start at `AccessPolicy` (enforcer.py). The rules themselves are model.conf and
policy.csv; grants.py spells grants as namespaced Casbin lines, rules.py
evaluates them, store.py persists them, _listener.py keeps every process current.
"""

from authz.actions import GLOBAL_ACTIONS, Action, Role
from authz.enforcer import AccessPolicy, Subscription
from authz.principal import Principal
from authz.rules import Decision, ModelAccess, PolicySnapshot

__all__ = [
    "GLOBAL_ACTIONS",
    "AccessPolicy",
    "Action",
    "Decision",
    "ModelAccess",
    "PolicySnapshot",
    "Principal",
    "Role",
    "Subscription",
]
