"""A model's history (migration 0010): the rows the registry's triggers write in
the transaction of each change, read a page at a time, newest first.

A page token names the model and the id of the last event served, so that a
token of one model's history is refused for another's, like any token this
listing did not hand out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg
from google.protobuf import timestamp_pb2

from gateway import paging
from gateway.errors import InvalidArgument
from modelgateway.v1 import registry_pb2

_TOKEN_KIND = "history"
_KIND_PREFIX = "MODEL_HISTORY_KIND_"


@dataclass(frozen=True)
class HistoryRow:
    """One event of a model's history as stored."""

    id: int
    time: dt.datetime
    actor: str
    kind: str
    before_value: str
    after_value: str
    subject: str
    detail: str


async def page(
    conn: asyncpg.Connection, model: str, *, before: int | None, limit: int
) -> list[HistoryRow]:
    """Up to limit events of the model, newest first, older than the event `before`."""
    records = await conn.fetch(
        "SELECT id, time, actor, kind, before_value, after_value, subject, detail"
        " FROM model_history WHERE model = $1 AND ($2::bigint IS NULL OR id < $2)"
        " ORDER BY id DESC LIMIT $3",
        model,
        before,
        limit,
    )
    return [HistoryRow(**dict(r)) for r in records]


def cursor(token: str, model: str) -> int | None:
    """The id of the previous page's last event; None for the first page.

    INVALID_ARGUMENT for a token this listing did not hand out for this model.
    """
    value = paging.decode(_TOKEN_KIND, token, [])
    if not token:
        return None
    match value:
        case [str() as named, int() as last] if (
            named == model and not isinstance(last, bool) and last > 0
        ):
            return last
    raise InvalidArgument(paging.MALFORMED, "page_token")


def response(
    rows: list[HistoryRow], limit: int, model: str
) -> registry_pb2.ListModelHistoryResponse:
    """The page of the first `limit` rows; a next page token when there are more."""
    shown = rows[:limit]
    token = paging.encode(_TOKEN_KIND, [model, shown[-1].id]) if len(rows) > limit else ""
    return registry_pb2.ListModelHistoryResponse(
        events=[event_message(r) for r in shown], next_page_token=token
    )


def event_message(row: HistoryRow) -> registry_pb2.ModelHistoryEvent:
    """The event as the API shows it; a kind the API does not know is UNSPECIFIED."""
    time = timestamp_pb2.Timestamp()
    time.FromDatetime(row.time)
    return registry_pb2.ModelHistoryEvent(
        time=time,
        actor=row.actor,
        kind=kind_of(row.kind),
        from_value=row.before_value,
        to_value=row.after_value,
        user=row.subject,
        detail=row.detail,
    )


def kind_of(stored: str) -> registry_pb2.ModelHistoryKind.ValueType:
    """The API's kind of a stored kind ("GRANT" is MODEL_HISTORY_KIND_GRANT)."""
    try:
        return registry_pb2.ModelHistoryKind.Value(_KIND_PREFIX + stored)
    except ValueError:
        return registry_pb2.MODEL_HISTORY_KIND_UNSPECIFIED
