"""Which authorization each RPC needs: the table behind the one enforcement point.

Every RPC of the four services has exactly one entry here (a test checks it);
the interceptor refuses any method that has none, so a new RPC cannot slip
through unguarded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authz.actions import Action
from modelgateway.v1 import model_pb2

_REGISTRY = "/modelgateway.v1.RegistryService/"
_EXECUTION = "/modelgateway.v1.ExecutionService/"
_ADMIN = "/modelgateway.v1.AdminService/"
_ROLLOUT = "/modelgateway.v1.RolloutService/"


def _grant_action(request: Any) -> Action:
    # Owners manage readers; managing owners is for superusers.
    if request.role == model_pb2.ACCESS_ROLE_OWNER:
        return Action.MANAGE_OWNERS
    return Action.MANAGE_READERS


@dataclass(frozen=True)
class Rule:
    """What a call must be allowed to do, and on which model.

    action None: any authenticated caller (the handler narrows what it returns).
    model_field None: a global action, not about one model.
    """

    action: Action | Callable[[Any], Action] | None
    model_field: str | None = None

    def action_for(self, request: Any) -> Action | None:
        """The action this request needs (some methods need one by what they ask)."""
        if callable(self.action):
            return self.action(request)
        return self.action

    def model_of(self, request: Any) -> str | None:
        """The model the request names, read from its model field; None for no model."""
        if self.model_field is None:
            return None
        target = request
        for part in self.model_field.split("."):
            target = getattr(target, part)
        return str(target)


RULES: dict[str, Rule] = {
    _REGISTRY + "CreateModel": Rule(Action.CREATE_MODEL),
    _REGISTRY + "GetModel": Rule(Action.READ, "name"),
    _REGISTRY + "ListModels": Rule(None),
    # Like ListModels: the handler searches only what the caller may read.
    _REGISTRY + "SearchModels": Rule(None),
    _REGISTRY + "UpdateModel": Rule(Action.UPDATE, "model.name"),
    _REGISTRY + "DeleteModel": Rule(Action.DELETE, "name"),
    _REGISTRY + "CreateModelVersion": Rule(Action.UPDATE, "model"),
    _REGISTRY + "GetModelVersion": Rule(Action.READ, "model"),
    _REGISTRY + "ListModelVersions": Rule(Action.READ, "model"),
    _REGISTRY + "SetDefaultVersion": Rule(Action.UPDATE, "name"),
    _REGISTRY + "SetVisibility": Rule(Action.SET_VISIBILITY, "name"),
    _REGISTRY + "GrantAccess": Rule(_grant_action, "name"),
    _REGISTRY + "RevokeAccess": Rule(_grant_action, "name"),
    _REGISTRY + "ListAccess": Rule(Action.MANAGE_READERS, "name"),
    # Who changed what: as much about the model's access as ListAccess tells.
    _REGISTRY + "ListModelHistory": Rule(Action.MANAGE_READERS, "name"),
    # Any signed-in caller may check a definition: the checks see children as
    # that caller may (see gateway.registry.consensus).
    _REGISTRY + "VerifyConsensusModel": Rule(None),
    _REGISTRY + "ImportConsensusModel": Rule(Action.CREATE_MODEL),
    _EXECUTION + "SubmitJob": Rule(Action.RUN, "model"),
    # A batch names many models: the handler decides RUN for each job's model with
    # the same policy and answers (gateway.execution.bulk), job by job.
    _EXECUTION + "SubmitJobs": Rule(None),
    # Job-scoped: a job names its model, so these are decided once the job is
    # read, by ExecutionService._visible_job (submitter, model owner or
    # superuser; NOT_FOUND otherwise). WatchJobs decides each of its jobs by the
    # same rule, and ListJobs narrows by it.
    _EXECUTION + "GetJob": Rule(None),
    _EXECUTION + "WatchJob": Rule(None),
    _EXECUTION + "WatchJobs": Rule(None),  # per job, each as WatchJob's
    _EXECUTION + "CancelJob": Rule(None),
    _EXECUTION + "ListJobs": Rule(None),
    # Superusers only.
    _ADMIN + "RefreshModelDatabase": Rule(Action.ADMIN),
    _ADMIN + "ResetModelDatabase": Rule(Action.ADMIN),
    _ADMIN + "QueryModelDatabase": Rule(Action.ADMIN),
    _ADMIN + "GetJobStats": Rule(Action.ADMIN),
    _ADMIN + "WatchJobStats": Rule(Action.ADMIN),
    # A rollout chooses what the model runs, as SetDefaultVersion does: owners and
    # superusers, for reading its figures too (they show the versions' job outcomes).
    _ROLLOUT + "StartRollout": Rule(Action.UPDATE, "model"),
    _ROLLOUT + "GetRollout": Rule(Action.UPDATE, "model"),
    _ROLLOUT + "ListRollouts": Rule(Action.UPDATE, "model"),
    _ROLLOUT + "PromoteRollout": Rule(Action.UPDATE, "model"),
    _ROLLOUT + "RollBackRollout": Rule(Action.UPDATE, "model"),
}

# Health checks and reflection answer without a token, so that load balancers,
# Kubernetes probes and grpcurl can reach them.
UNAUTHENTICATED_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
