"""Arbitrary values in every field of every RPC: no answer is INTERNAL or UNKNOWN.

Requests are built from the API's own descriptors by hypothesis: strings with
any character (NUL included) and of any length up to a few thousand, numbers
at their extremes, unknown enum values, nested messages, JSON of any shape in
Struct fields. Each RPC is called as an ordinary user and as a superuser,
except that a superuser does not call what would wipe or hide the session's
shared models (the reset, catalog syncs, deletes, revokes, visibility) or change
what they run (a rollout started, promoted or rolled back).
Examples are derandomized: the same requests every run.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import descriptor, descriptor_pool, struct_pb2
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.server import SERVICES, hosted

from .conftest import Mesh

FD = descriptor.FieldDescriptor
NOT_AS_SUPERUSER = {
    "ResetModelDatabase", "RefreshModelDatabase", "DeleteModel", "RevokeAccess", "SetVisibility",
    "StartRollout", "PromoteRollout", "RollBackRollout",
}  # fmt: skip
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=20,
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "*", "rdkit.logp", "demo.echo", "1.0.0", "owner", "role:owner", "\x00", "a" * 5000]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
)


def _scalar(field: FD) -> st.SearchStrategy[Any]:
    if field.type == FD.TYPE_STRING:
        return texts
    if field.type == FD.TYPE_BYTES:
        return st.binary(max_size=100)
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if field.type == FD.TYPE_FLOAT else 64)
    if field.type == FD.TYPE_ENUM:
        return st.integers(-5, 20)
    unsigned = field.type in (FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_FIXED32, FD.TYPE_FIXED64)
    bits = 64 if field.type in (FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64) else 32
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, -1 if not unsigned else 1]))


@st.composite
def messages(draw: st.DrawFn, message_type: descriptor.Descriptor, depth: int = 0) -> Message:
    message = _class_of(message_type)()
    if message_type.full_name == "google.protobuf.Struct":
        assert isinstance(message, struct_pb2.Struct)
        message.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=4)))
        return message
    for field in message_type.fields:
        if not draw(st.booleans()):
            continue
        repeated = field.is_repeated
        if field.type == FD.TYPE_MESSAGE:
            if depth >= 3 or field.message_type.GetOptions().map_entry:
                continue
            values = [draw(messages(field.message_type, depth + 1)) for _ in range(draw(st.integers(1, 2)) if repeated else 1)]
            target = getattr(message, field.name)
            if repeated:
                for value in values:
                    target.add().CopyFrom(value)
            else:
                target.CopyFrom(values[0])
            continue
        strategy = _scalar(field)
        try:
            if repeated:
                getattr(message, field.name).extend(draw(st.lists(strategy, max_size=3)))
            else:
                setattr(message, field.name, draw(strategy))
        except (ValueError, TypeError):
            pass  # a value the field type cannot hold (e.g. invalid UTF-8): not a request
    return message


def _class_of(message_type: descriptor.Descriptor) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(message_type)


def _service(full_name: str) -> descriptor.ServiceDescriptor:
    return descriptor_pool.Default().FindServiceByName(full_name)


def _rpc(channel: grpc.Channel, method: descriptor.MethodDescriptor) -> Any:
    """A callable for `method` on `channel`, as its generated stub would make."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    make = channel.unary_stream if method.server_streaming else channel.unary_unary
    return make(
        path,
        request_serializer=_class_of(method.input_type).SerializeToString,
        response_deserializer=_class_of(method.output_type).FromString,
    )


# Every RPC of every service the gateway serves (gateway.server.SERVICES, and what
# each server hosts beside its own).
CASES = [
    pytest.param((service, full_name), method.name, as_superuser, id=f"{method.name}-{'su' if as_superuser else 'user'}")
    for service in SERVICES
    for full_name in hosted(service)
    for method in _service(full_name).methods
    for as_superuser in (False, True)
    if not (as_superuser and method.name in NOT_AS_SUPERUSER)
]


@pytest.mark.parametrize(("service", "method", "as_superuser"), CASES)
def test_no_field_value_gives_internal_or_unknown(
    mesh: Mesh, service: tuple[str, str], method: str, as_superuser: bool
) -> None:
    server, full_name = service
    method_descriptor = _service(full_name).methods_by_name[method]
    rpc = _rpc(mesh.channel(server), method_descriptor)
    metadata = mesh.metadata("fuzz-root" if as_superuser else "fuzz-user", superuser=as_superuser)
    streaming = method_descriptor.server_streaming

    @settings(
        max_examples=30, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(request=messages(method_descriptor.input_type))
    def call(request: Message) -> None:
        try:
            if streaming:
                stream = rpc(request, metadata=metadata, timeout=3)
                next(iter(stream), None)  # the first answer is the one in question
                stream.cancel()
            else:
                rpc(request, metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and streaming:
                return  # a stream that waits (nothing to report yet) is not a fault
            assert error.code() not in FORBIDDEN, f"{method}: {error.code()} {error.details()}"

    call()
