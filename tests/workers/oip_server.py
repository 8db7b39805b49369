"""A minimal Open Inference Protocol v2 server for the http backend tests.

Standard library only: ThreadingHTTPServer in a thread, HTTP/1.1 keep-alive so
the tests can see connection reuse. Models:
  smiles-length  input "smiles" (BYTES [n]) -> "length" INT64 [n] and "length_col" INT64 [n, 1]
  mirror         every input tensor back as "<name>_out", same datatype; "pair" FP64 [n, 2]
  reject         400 {"error": "..."}
  crash          500 {"error": "..."}
  slow           sleeps 2 s, then answers like mirror
  bad-shape      "length" with shape [n + 1]
Versions: /v2/models/smiles-length/versions/2/infer answers "length" doubled.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_INFER = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")


@dataclass
class Seen:
    """What the server received, for the tests to inspect."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    client_ports: list[int] = field(default_factory=list)


def infer(name: str, version: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    inputs = {tensor["name"]: tensor for tensor in body["inputs"]}
    if name == "smiles-length":
        smiles = inputs["smiles"]
        n = smiles["shape"][0]
        factor = 2 if version == "2" else 1
        lengths = [len(s) * factor for s in smiles["data"]]
        outputs = [
            {"name": "length", "shape": [n], "datatype": "INT64", "data": lengths},
            {"name": "length_col", "shape": [n, 1], "datatype": "INT64", "data": lengths},
        ]
        return 200, {"model_name": name, "id": body.get("id"), "outputs": outputs}
    if name in ("mirror", "slow"):
        if name == "slow":
            time.sleep(2)
        outputs = [{**tensor, "name": f"{tensor['name']}_out"} for tensor in body["inputs"]]
        n = body["inputs"][0]["shape"][0]
        pairs = [v for i in range(n) for v in (float(i), float(-i))]
        outputs.append({"name": "pair", "shape": [n, 2], "datatype": "FP64", "data": pairs})
        return 200, {"model_name": name, "id": body.get("id"), "outputs": outputs}
    if name == "bad-shape":
        n = body["inputs"][0]["shape"][0]
        tensor = {"name": "length", "shape": [n + 1], "datatype": "INT64", "data": [0] * (n + 1)}
        return 200, {"model_name": name, "outputs": [tensor]}
    if name == "reject":
        return 400, {"error": "input 'smiles' has unexpected datatype"}
    if name == "crash":
        return 500, {"error": "CUDA out of memory"}
    return 404, {"error": f"model '{name}' is not found"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled connections are reused
    server: _Server

    def do_GET(self) -> None:
        if self.path in ("/v2/health/ready", "/v2/health/live"):
            self._answer(200, {})
        else:
            self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        match = _INFER.match(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seen = self.server.seen
        seen.bodies.append(body)
        seen.paths.append(self.path)
        seen.client_ports.append(self.client_address[1])
        if match is None:
            self._answer(404, {"error": "not found"})
            return
        self._answer(*infer(match["name"], match["version"], body))

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen = Seen()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (cancelled or timed out on purpose) is not a server fault.
        return None


@contextmanager
def running_oip_server() -> Iterator[tuple[str, Seen]]:
    """Serve on a free loopback port; yields the base URL and what it received."""
    server = _Server()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="oip-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
