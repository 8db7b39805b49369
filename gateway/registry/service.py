"""RegistryService: models, their versions, default version and access.

Authorization has already happened when a handler runs (gateway.interceptor
enforces gateway.access_rules); handlers validate, write in one transaction,
and answer with the state after the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import grpc

from authz.enforcer import AccessPolicy
from backendspec import BackendPolicy
from consensus.definition import load_algorithm1
from consensus.errors import DefinitionError
from gateway import paging
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from gateway.interceptor import caller
from gateway.registry import consensus, history, limits, requests, search, store, validation
from gateway.registry.connections import Connections
from gateway.registry.messages import model_message, plain, version_message
from gateway.registry.resolution import no_versions, resolve_version
from gateway.rollouts import store as rollout_store
from modelgateway.v1 import model_pb2, registry_pb2, registry_pb2_grpc


class RegistryService(registry_pb2_grpc.RegistryServiceServicer):  # type: ignore[misc]
    """The RegistryService RPCs over the registry's PostgreSQL tables."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        access: AccessPolicy,
        *,
        acquire_timeout_s: float,
        backends: BackendPolicy,
        model_limits: limits.PlatformLimits,
    ) -> None:
        self._db = Connections(pool, acquire_timeout_s=acquire_timeout_s)
        self._access = access
        self._backends = backends
        self._model_limits = model_limits

    async def _model(self, conn: asyncpg.Connection, name: str) -> model_pb2.Model:
        row = await store.get_model(conn, name)
        return model_message(row, self._access.access_of(name), self._model_limits)

    async def CreateModel(
        self, request: registry_pb2.CreateModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.CreateModelResponse:
        """Creates a model with its descriptive fields, without versions, private."""
        model = request.model
        name = validation.model_name(model.name, "model.name")
        fields = requests.descriptive_fields(
            model, ("display_name", "description", "tags", "backend")
        )
        async with self._db.transaction() as conn:
            await store.insert_model(conn, name, fields)
            return registry_pb2.CreateModelResponse(model=await self._model(conn, name))

    async def GetModel(
        self, request: registry_pb2.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.GetModelResponse:
        """The model, its access and its limits."""
        async with self._db.connection() as conn:
            return registry_pb2.GetModelResponse(model=await self._model(conn, request.name))

    async def ListModels(
        self, request: registry_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListModelsResponse:
        """A page of the models the caller may read, optionally of one tag."""
        limit = validation.page_size(request.page_size)
        after = paging.decode("models", request.page_token, "")
        readable = self._access.readable_models(caller())
        only = None if readable is None else sorted(readable)
        async with self._db.connection() as conn:
            rows = await store.list_models(
                conn, only=only, after=after, tag=request.tag, limit=limit + 1
            )
        page = rows[:limit]
        return registry_pb2.ListModelsResponse(
            models=[
                model_message(r, self._access.access_of(r.name), self._model_limits) for r in page
            ],
            next_page_token=paging.encode("models", page[-1].name) if len(rows) > limit else "",
        )

    async def SearchModels(
        self, request: registry_pb2.SearchModelsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.SearchModelsResponse:
        """The models the caller may read that match the words and filters, best first."""
        query = search.parse(request)
        only = search.candidates(self._access, caller(), query.owner)
        async with self._db.connection() as conn:
            page = await search.search(conn, query, only)
        return registry_pb2.SearchModelsResponse(
            hits=[
                search.hit_message(
                    hit,
                    model_message(
                        hit.row, self._access.access_of(hit.row.name), self._model_limits
                    ),
                )
                for hit in page.hits
            ],
            next_page_token=page.next_page_token,
        )

    async def UpdateModel(
        self, request: registry_pb2.UpdateModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.UpdateModelResponse:
        """Changes the descriptive fields and limits the update mask names."""
        descriptive, limit_fields = requests.update_mask(request.update_mask.paths)
        changes = requests.descriptive_fields(request.model, descriptive)
        name = request.model.name
        async with self._db.transaction() as conn:
            if limit_fields:
                row = await store.get_model(conn, name, lock=True)
                new_limits, new_caps = limits.updated(
                    request.model,
                    limit_fields,
                    (row.limits, row.limit_caps),
                    self._model_limits,
                    superuser=caller().superuser,
                )
                await store.set_limits(conn, name, new_limits, new_caps)
            if changes:
                await store.update_model(conn, name, changes)
            return registry_pb2.UpdateModelResponse(model=await self._model(conn, name))

    async def DeleteModel(
        self, request: registry_pb2.DeleteModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.DeleteModelResponse:
        """Deletes a model, its versions and grants; refused while consensus models use it
        (a superuser may force it)."""
        if request.force and not caller().superuser:
            raise PermissionDenied("force is for superusers only")
        async with self._db.transaction() as conn:
            await store.get_model(conn, request.name, lock=True)
            await rollout_store.refuse_if_active(conn, request.name, "delete its versions")
            dependents = await store.consensus_dependents(conn, request.name)
            if dependents and not request.force:
                raise FailedPrecondition(
                    f"model {request.name!r} is used by consensus models {', '.join(dependents)}: "
                    "change or delete them first (a superuser may pass force to delete anyway)"
                )
            await store.delete_model(conn, request.name)
            await self._access.forget_model(conn, request.name)
        await self._access.refresh()
        return registry_pb2.DeleteModelResponse()

    async def CreateModelVersion(
        self, request: registry_pb2.CreateModelVersionRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.CreateModelVersionResponse:
        """Adds an immutable version, checked as the worker that runs it would check it."""
        spec = request.version
        version = validation.version_string(spec.version, "version.version")
        kind = validation.backend_kind(spec.backend.kind)
        config = validation.backend_config(kind, plain(spec.backend.config), self._backends)
        input_schema = validation.json_schema(plain(spec.input_schema), "version.input_schema")
        output_schema = validation.json_schema(plain(spec.output_schema), "version.output_schema")
        notes = validation.text(spec.notes, "version.notes", validation.MAX_NOTES)
        definition = consensus.parse_config(config) if kind == "consensus" else None
        if definition is not None:
            config = {**config, **definition.to_config()}
            if not spec.HasField("output_schema"):
                output_schema = consensus.output_schema(definition)
        async with self._db.transaction() as conn:
            await store.get_model(conn, request.model, lock=True)
            if definition is not None:
                consensus.refuse_unless_ok(
                    await consensus.check(conn, self._access, caller(), request.model, definition)
                )
            row = await store.insert_version(
                conn,
                request.model,
                version,
                kind,
                config,
                input_schema,
                output_schema,
                notes,
            )
            await store.touch_model(conn, request.model)
        return registry_pb2.CreateModelVersionResponse(version=version_message(row))

    async def GetModelVersion(
        self, request: registry_pb2.GetModelVersionRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.GetModelVersionResponse:
        """The version asked for, or the one the model resolves to when none is named."""
        if request.version:
            validation.version_string(request.version)
        async with self._db.connection() as conn:
            model = await store.get_model(conn, request.model)
            resolution = resolve_version(
                request.version, model.default_version, model.latest_version
            )
            if resolution is None:
                raise no_versions(request.model)
            row = await store.get_version(conn, request.model, resolution.version)
        return registry_pb2.GetModelVersionResponse(
            version=version_message(row), resolved=not request.version
        )

    async def ListModelVersions(
        self, request: registry_pb2.ListModelVersionsRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListModelVersionsResponse:
        """A page of a model's versions, oldest first."""
        limit = validation.page_size(request.page_size)
        after = paging.decode("versions", request.page_token, 0)
        async with self._db.connection() as conn:
            await store.get_model(conn, request.model)
            rows = await store.list_versions(conn, request.model, after_seq=after, limit=limit + 1)
        page = rows[:limit]
        return registry_pb2.ListModelVersionsResponse(
            versions=[version_message(r) for r in page],
            next_page_token=paging.encode("versions", page[-1].seq) if len(rows) > limit else "",
        )

    async def SetDefaultVersion(
        self, request: registry_pb2.SetDefaultVersionRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.SetDefaultVersionResponse:
        """Sets the version a request naming none resolves to, or clears it."""
        if request.version:
            validation.version_string(request.version)
        async with self._db.transaction() as conn:
            await store.get_model(conn, request.name, lock=True)
            await rollout_store.refuse_if_active(conn, request.name, "change its default version")
            if request.version:
                await store.get_version(conn, request.name, request.version)
            await store.set_default_version(conn, request.name, request.version or None)
            return registry_pb2.SetDefaultVersionResponse(
                model=await self._model(conn, request.name)
            )

    async def SetVisibility(
        self, request: registry_pb2.SetVisibilityRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.SetVisibilityResponse:
        """Makes a model public (every caller may read it) or private again."""
        if request.visibility not in requests.VISIBILITIES:
            raise InvalidArgument("visibility is required: VISIBILITY_PUBLIC or VISIBILITY_PRIVATE")
        public = requests.VISIBILITIES[request.visibility]

        async def change(conn: asyncpg.Connection) -> bool:
            await self._access.set_public(conn, request.name, public)
            return True

        return registry_pb2.SetVisibilityResponse(
            model=await self._change_access(request.name, change)
        )

    async def GrantAccess(
        self, request: registry_pb2.GrantAccessRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.GrantAccessResponse:
        """Gives a user a role on a model; granting a role held already changes nothing."""
        role, user = requests.role(request.role), requests.user(request.user)

        async def change(conn: asyncpg.Connection) -> bool:
            return await self._access.grant(conn, request.name, user, role)

        return registry_pb2.GrantAccessResponse(
            model=await self._change_access(request.name, change)
        )

    async def RevokeAccess(
        self, request: registry_pb2.RevokeAccessRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.RevokeAccessResponse:
        """Takes a role on a model from a user; NOT_FOUND if they did not hold it."""
        role, user = requests.role(request.role), requests.user(request.user)

        async def change(conn: asyncpg.Connection) -> bool:
            if not await self._access.revoke(conn, request.name, user, role):
                raise NotFound(f"user {user!r} is not a {role.value} of model {request.name!r}")
            return True

        return registry_pb2.RevokeAccessResponse(
            model=await self._change_access(request.name, change)
        )

    async def _change_access(
        self, name: str, change: Callable[[asyncpg.Connection], Awaitable[bool]]
    ) -> model_pb2.Model:
        """The shape of every access change: lock the model's row, change its access
        (change says whether anything changed), touch the model when it did, reload
        the access rules, and answer with the model as it is now."""
        async with self._db.transaction() as conn:
            await store.get_model(conn, name, lock=True)
            if await change(conn):
                await store.touch_model(conn, name)
        await self._access.refresh()
        async with self._db.connection() as conn:
            return await self._model(conn, name)

    async def ListAccess(
        self, request: registry_pb2.ListAccessRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListAccessResponse:
        """The model's visibility and its owners' and readers' grants."""
        async with self._db.connection() as conn:
            await store.get_model(conn, request.name)
        access = self._access.access_of(request.name)
        grants = [
            model_pb2.AccessGrant(user=u, role=model_pb2.ACCESS_ROLE_OWNER) for u in access.owners
        ]
        grants += [
            model_pb2.AccessGrant(user=u, role=model_pb2.ACCESS_ROLE_READER) for u in access.readers
        ]
        return registry_pb2.ListAccessResponse(
            visibility=model_pb2.VISIBILITY_PUBLIC
            if access.public
            else model_pb2.VISIBILITY_PRIVATE,
            grants=grants,
        )

    async def ListModelHistory(
        self, request: registry_pb2.ListModelHistoryRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListModelHistoryResponse:
        """A page of the model's history: who changed what, when, from what to what."""
        limit = validation.page_size(request.page_size)
        before = history.cursor(request.page_token, request.name)
        async with self._db.connection() as conn:
            await store.get_model(conn, request.name)
            rows = await history.page(conn, request.name, before=before, limit=limit + 1)
        return history.response(rows, limit, request.name)

    async def VerifyConsensusModel(
        self, request: registry_pb2.VerifyConsensusModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.VerifyConsensusModelResponse:
        """Checks a consensus definition against what the caller may see; stores nothing."""
        name = validation.model_name(request.name)
        definition = consensus.definition_from_request(request, plain(request.definition))
        sample = consensus.sample_values(plain(request.sample))
        async with self._db.connection() as conn:
            report = await consensus.check(conn, self._access, caller(), name, definition, sample)
        return consensus.report_message(report)

    async def ImportConsensusModel(
        self, request: registry_pb2.ImportConsensusModelRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ImportConsensusModelResponse:
        """Creates a consensus model and its first version from Algorithm 1 YAML."""
        try:
            document = load_algorithm1(request.yaml)
        except DefinitionError as exc:
            raise InvalidArgument(f"yaml is not an Algorithm 1 consensus model: {exc}") from None
        name = validation.model_name(document.name, "the YAML's top-level key")
        version = validation.version_string(request.version or "1.0.0")
        definition = document.definition
        async with self._db.transaction() as conn:
            consensus.refuse_unless_ok(
                await consensus.check(conn, self._access, caller(), name, definition)
            )
            fields = {"description": document.description, "backend": "consensus"}
            await store.insert_model(conn, name, fields)
            row = await store.insert_version(
                conn,
                name,
                version,
                "consensus",
                definition.to_config(),
                dict(validation.ANY_OBJECT_SCHEMA),
                consensus.output_schema(definition),
                "Imported from an Algorithm 1 YAML document.",
            )
            model = await self._model(conn, name)
        return registry_pb2.ImportConsensusModelResponse(model=model, version=version_message(row))
