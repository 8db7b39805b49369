"""Celery 5 with a Redis broker and result backend, running the same trivial task, for
comparison: the worker is `celery -A loadtest.celery_bench worker --pool solo`.

Clients are threads (Celery's client API is synchronous), so Celery runs only up
to `MAX_THREADS` concurrent clients in all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery

from loadtest.plan import RECORD, Share

MAX_THREADS = 1000
QUEUE = "bench"


def make_app(url: str) -> Celery:
    app = Celery("bench", broker=url, backend=url)
    app.conf.update(
        task_default_queue=QUEUE,
        broker_pool_limit=512,
        redis_max_connections=2048,
        worker_prefetch_multiplier=64,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
    )

    @app.task(name="bench.echo", shared=False)  # type: ignore[untyped-decorator]
    def echo(record: dict[str, Any]) -> dict[str, Any]:
        return {"echo": record}

    return app


# The worker's app (`-A loadtest.celery_bench`).
app = make_app(os.environ.get("BENCH_CELERY_URL", "redis://127.0.0.1:6379/0"))


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    """One solo-pool worker (one process, one task at a time, no prefork overhead)."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "loadtest.celery_bench",
        "worker",
        "--pool",
        "solo",
        "-Q",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "WARNING",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env={**os.environ, "BENCH_CELERY_URL": url}, stdout=out, stderr=subprocess.STDOUT
        )


def _client(
    app: Celery, share: Share, rec: Any, stop: threading.Event, lock: threading.Lock
) -> None:
    task = app.tasks["bench.echo"]
    while not stop.is_set():
        began = time.perf_counter()
        try:
            result = task.apply_async(args=[RECORD])
            if share.scenario == "celery_e2e":
                while not result.ready():  # a GET on the backend, like GetJob polling
                    time.sleep(share.poll_s)
                if result.state != "SUCCESS":
                    raise RuntimeError(f"task {result.state}")
        except Exception as exc:
            with lock:
                rec.fail(type(exc).__name__, time.perf_counter())
            time.sleep(0.01)
        else:
            ended = time.perf_counter()
            with lock:
                rec.ok(began, ended)


def run_threads(share: Share, rec: Any) -> Any:
    """The Celery clients of this process as threads, over the same window as the others."""
    celery = make_app(share.target)
    stop, lock = threading.Event(), threading.Lock()
    threads = [
        threading.Thread(target=_client, args=(celery, share, rec, stop, lock), daemon=True)
        for _ in range(share.clients)
    ]
    time.sleep(max(0.0, rec.start - time.perf_counter()))
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, rec.end - time.perf_counter()))
    stop.set()
    deadline = time.monotonic() + share.drain_s
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    with lock:
        rec.tally.extra["threads_unfinished"] = sum(t.is_alive() for t in threads)
        # A thread still waiting has at least waited since the window closed.
        rec.tally.cut.extend([share.drain_s] * rec.tally.extra["threads_unfinished"])
    return rec.tally
