"""The http backend: a remote model server speaking the Open Inference Protocol v2.

KServe, Triton and MLServer all speak it. config:
  {"url": "http://host:port", "model_name": "m", "model_version": "1", "timeout_s": 30}
(model_version and timeout_s optional).

The batch becomes one inference request: each record field becomes one input
tensor of shape [n] named after the field, its datatype inferred from the
values (str BYTES, bool BOOL, int INT64, float FP64). Each output tensor of
shape [n], [n, 1] or [n, k] comes back as a per-record field named after the
tensor. A record whose fields cannot be sent as tensors (a missing field, a
nested value, a string among numbers) fails alone; the others are sent.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx

from workers.backends.base import (
    BackendError,
    RecordOutcome,
    output_outcome,
)

DEFAULT_TIMEOUT_S = 60.0
ERROR_TEXT_CHARS = 2000
_SCALAR_DATATYPES: tuple[tuple[type, str], ...] = (
    # bool first: bool is a subclass of int.
    (bool, "BOOL"),
    (int, "INT64"),
    (float, "FP64"),
    (str, "BYTES"),
)


class HttpBackend:
    """One shared connection pool for every OIP server this worker calls."""

    kind = "http"

    def __init__(self, *, max_connections: int = 100) -> None:
        self._limits = httpx.Limits(max_connections=max_connections)
        self._client: httpx.AsyncClient | None = None

    async def run(
        self, records: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[RecordOutcome]:
        inputs, sent, rejected = build_inputs(records)
        outputs: dict[int, dict[str, Any]] = {}
        if sent:
            document = await self._infer(config, {"id": uuid.uuid4().hex, "inputs": inputs})
            outputs = dict(zip(sent, parse_outputs(document, len(sent)), strict=True))
        return [
            RecordOutcome(error=rejected[index])
            if index in rejected
            else output_outcome(outputs[index], index)
            for index in range(len(records))
        ]

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _infer(self, config: dict[str, Any], body: dict[str, Any]) -> Any:
        url = infer_url(config)
        timeout = float(config.get("timeout_s") or DEFAULT_TIMEOUT_S)
        try:
            # httpx's timeout bounds each phase; asyncio.timeout bounds the whole exchange.
            async with asyncio.timeout(timeout):
                response = await self._http().post(url, json=body, timeout=timeout)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise BackendError(
                "backend_unavailable", f"cannot reach {url}: {_describe(exc)}", retryable=True
            ) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise BackendError("timeout", f"{url} did not answer within {timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise BackendError(
                "backend_unavailable", f"cannot reach {url}: {_describe(exc)}", retryable=True
            ) from exc
        _raise_for_status(url, response)
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(
                "invalid_output", f"{url} answered with a body that is not JSON"
            ) from exc

    def _http(self) -> httpx.AsyncClient:
        # Created lazily so it binds to the running event loop, then reused for pooling.
        if self._client is None:
            self._client = httpx.AsyncClient(limits=self._limits)
        return self._client


def infer_url(config: dict[str, Any]) -> str:
    base = str(config["url"]).rstrip("/")
    path = f"/v2/models/{quote(str(config['model_name']), safe='')}"
    version = config.get("model_version")
    if version:
        path += f"/versions/{quote(str(version), safe='')}"
    return f"{base}{path}/infer"


def build_inputs(
    records: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[int], dict[int, str]]:
    """The OIP input tensors for the records that can be sent, their indices, and the rejected."""
    fields = sorted({field for record in records for field in record})
    datatypes = {field: _column_datatype(records, field) for field in fields}
    rejected: dict[int, str] = {}
    for index, record in enumerate(records):
        problem = _record_problem(record, datatypes)
        if problem is not None:
            rejected[index] = problem
    sent = [index for index in range(len(records)) if index not in rejected]
    if not sent:
        return [], [], rejected
    inputs = [
        {
            "name": field,
            "shape": [len(sent)],
            "datatype": datatypes[field],
            "data": [_tensor_value(records[index][field], datatypes[field]) for index in sent],
        }
        for field in fields
    ]
    return inputs, sent, rejected


def _datatype(value: object) -> str | None:
    for python_type, datatype in _SCALAR_DATATYPES:
        if isinstance(value, python_type):
            return datatype
    return None


def _column_datatype(records: list[dict[str, Any]], field: str) -> str | None:
    """The datatype most records agree on; ints and floats together make FP64."""
    counts = Counter(
        datatype
        for record in records
        if field in record and (datatype := _datatype(record[field])) is not None
    )
    if set(counts) == {"INT64", "FP64"}:
        return "FP64"
    # Ties go to the first name in order, so the choice never depends on record order.
    return max(sorted(counts), key=counts.__getitem__, default=None)


def _record_problem(record: dict[str, Any], datatypes: dict[str, str | None]) -> str | None:
    for field, datatype in datatypes.items():
        if field not in record:
            return f"field {field!r} is missing; the http backend sends every field as a tensor"
        value_type = _datatype(record[field])
        compatible = value_type == datatype or (value_type == "INT64" and datatype == "FP64")
        if value_type is None or not compatible:
            return (
                f"field {field!r} is a {type(record[field]).__name__} but the batch sends it as "
                f"{datatype or 'nothing'}; the http backend sends scalar str, bool, int or float"
            )
        if value_type == "FP64" and not math.isfinite(record[field]):
            return f"field {field!r} is {record[field]!r}, which JSON cannot carry"
    return None


def _tensor_value(value: Any, datatype: str | None) -> Any:
    return float(value) if datatype == "FP64" else value


def parse_outputs(document: object, n: int) -> list[dict[str, Any]]:
    """Per-record output dicts from an OIP inference response for n records."""
    tensors = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(tensors, list) or not tensors:
        raise BackendError("invalid_output", "the inference response has no 'outputs' list")
    outputs: list[dict[str, Any]] = [{} for _ in range(n)]
    for tensor in tensors:
        name, rows = _tensor_rows(tensor, n)
        for output, value in zip(outputs, rows, strict=True):
            output[name] = value
    return outputs


def _tensor_rows(tensor: object, n: int) -> tuple[str, list[Any]]:
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise BackendError("invalid_output", "an output tensor has no 'name'")
    name: str = tensor["name"]
    shape, data = tensor.get("shape"), tensor.get("data")
    if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
        raise BackendError("invalid_output", f"output tensor {name!r} has no integer 'shape'")
    if not isinstance(data, list):
        raise BackendError("invalid_output", f"output tensor {name!r} has no 'data' list")
    if len(shape) not in (1, 2) or shape[0] != n or math.prod(shape) != len(data):
        raise BackendError(
            "invalid_output",
            f"output tensor {name!r} has shape {shape} and {len(data)} values; "
            f"expected shape [{n}], [{n}, 1] or [{n}, k] for {n} records",
        )
    if len(shape) == 1 or shape[1] == 1:
        return name, list(data)
    width = shape[1]
    return name, [data[row * width : (row + 1) * width] for row in range(n)]


def _raise_for_status(url: str, response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    text = _error_text(response)
    if response.status_code >= 500:
        raise BackendError(
            "backend_unavailable",
            f"{url} answered {response.status_code}: {text}",
            retryable=True,
        )
    raise BackendError("model_error", f"{url} answered {response.status_code}: {text}")


def _error_text(response: httpx.Response) -> str:
    """The OIP error body is {"error": "..."}; fall back to the raw text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message: str = body["error"]
        return message[:ERROR_TEXT_CHARS]
    return response.text[:ERROR_TEXT_CHARS] or response.reason_phrase


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
