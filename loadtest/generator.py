"""Runs one scenario at one client count: N clients over several processes, a fixed window.

Each generator process opens its channels (one per `clients_per_channel`
clients, at most `max_channels`), waits for the common start time, starts all
its clients at once (a burst, the harshest case), lets them call in a closed
loop for the window, then stops them: calls in flight get `drain_s` seconds to
answer, the rest are cancelled and counted as cut.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from loadtest.plan import Share, raise_file_limit
from loadtest.stats import Tally, merge

ASYNC_SCENARIOS = {
    "echo", "submit", "submit_rollout", "submit_batch", "get", "e2e", "e2e_watch", "rest_submit",
}  # fmt: skip
THREAD_SCENARIOS = {"celery_submit", "celery_e2e"}


class Recorder:
    """Counts calls against the window, in perf_counter time."""

    def __init__(self, share: Share) -> None:
        self.tally = Tally()
        self.start = time.perf_counter() + (share.start_at - time.time())
        self.end = self.start + share.duration_s

        self.last_done = self.start

    def ok(self, began: float, ended: float) -> None:
        self.last_done = max(self.last_done, ended)
        self.tally.latencies.append(ended - began)
        self.tally.ok_total += 1
        if ended <= self.end:
            self.tally.ok_in_window += 1

    def fail(self, code: str, ended: float) -> None:
        self.last_done = max(self.last_done, ended)
        self.tally.failures[code] += 1
        self.tally.failed_total += 1
        if ended <= self.end:
            self.tally.failed_in_window += 1


async def _client(
    call: Callable[[], Any], rec: Recorder, stopping: asyncio.Event, calls: int
) -> None:
    from loadtest.clients import failure_code

    made = 0
    while not stopping.is_set() and (calls == 0 or made < calls):
        made += 1
        began = time.perf_counter()
        try:
            await call()
        except asyncio.CancelledError:
            rec.tally.cut.append(time.perf_counter() - began)
            raise
        except Exception as exc:
            rec.fail(failure_code(exc), time.perf_counter())
            await asyncio.sleep(0.01)  # a failing server must not be spun on
        else:
            rec.ok(began, time.perf_counter())


async def _drive(share: Share, calls: list[Callable[[], Any]], rec: Recorder) -> None:
    await asyncio.sleep(max(0.0, rec.start - time.perf_counter()))
    stopping = asyncio.Event()
    burst = share.calls_per_client
    tasks = [asyncio.create_task(_client(call, rec, stopping, burst)) for call in calls]
    if burst:
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, rec.end - time.perf_counter()))
        rec.tally.extra["busy_s"] = rec.last_done - rec.start
    else:
        await asyncio.sleep(max(0.0, rec.end - time.perf_counter()))
        stopping.set()
        _, pending = await asyncio.wait(tasks, timeout=share.drain_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    rec.tally.extra["clients_started"] = len(tasks)


async def _run_grpc(share: Share) -> Tally:
    import grpc

    from loadtest.clients import channel_options, grpc_call

    count = min(share.max_channels, max(1, math.ceil(share.clients / share.clients_per_channel)))
    channels = [
        grpc.aio.insecure_channel(share.target, options=channel_options()) for _ in range(count)
    ]
    try:
        await asyncio.gather(*(asyncio.wait_for(c.channel_ready(), 30) for c in channels))
        calls = [
            grpc_call(share, channels[i % count], share.first_client + i)
            for i in range(share.clients)
        ]
        rec = Recorder(share)
        await _drive(share, calls, rec)
        rec.tally.extra["channels"] = count
        return rec.tally
    finally:
        await asyncio.gather(*(c.close() for c in channels))


async def _run_rest(share: Share) -> Tally:
    import aiohttp

    from loadtest.clients import rest_call

    # HTTP/1.1 carries one request per connection at a time: past this many
    # connections, clients queue for one inside the generator (noted in the report).
    connections = min(share.clients, int(share.options.get("rest_connections", 256)))
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    timeout = aiohttp.ClientTimeout(total=share.call_timeout_s)
    async with aiohttp.ClientSession(
        base_url=share.target, connector=connector, timeout=timeout
    ) as session:
        calls = [rest_call(share, session, share.first_client + i) for i in range(share.clients)]
        rec = Recorder(share)
        await _drive(share, calls, rec)
        rec.tally.extra["connections"] = connections
        return rec.tally


def _run_share(share: Share, out: Any, release: Any) -> None:
    """A generator process's entry point: run its share, put its tally on `out`."""
    raise_file_limit()
    try:
        if share.scenario in THREAD_SCENARIOS:
            from loadtest.celery_bench import run_threads

            tally = run_threads(share, Recorder(share))
        else:
            import uvloop

            if share.scenario == "watch":
                from loadtest.watch import run_watchers

                tally = uvloop.run(run_watchers(share, out, release))
            elif share.scenario == "watch_many":
                from loadtest.watch_many import run_many_watchers

                tally = uvloop.run(run_many_watchers(share, out, release))
            elif share.scenario == "rest_submit":
                tally = uvloop.run(_run_rest(share))
            else:
                tally = uvloop.run(_run_grpc(share))
        out.put(("done", tally.as_dict()))
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


class Processes:
    """Generator processes started with `spawn` (no gRPC state inherited by fork), or,
    with `inline`, one thread in this process (the smoke: no start-up cost)."""

    def __init__(self, shares: list[Share], *, inline: bool = False) -> None:
        self.procs: list[Any]
        if inline:
            self.out: Any = queue.Queue()
            self.release: Any = threading.Event()
            self.procs = [
                threading.Thread(target=_run_share, args=(s, self.out, self.release), daemon=True)
                for s in shares
            ]
        else:
            ctx = multiprocessing.get_context("spawn")
            self.out, self.release = ctx.Queue(), ctx.Event()
            self.procs = [
                ctx.Process(target=_run_share, args=(s, self.out, self.release), daemon=True)
                for s in shares
            ]
        for proc in self.procs:
            proc.start()

    def messages(self, kind: str, timeout_s: float) -> list[Any]:
        """One message of `kind` from every process; raises when a process fails."""
        found: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < len(self.procs):
            try:
                got, payload = self.out.get(timeout=1.0)
            except queue.Empty:
                # A process that exited 0 has put its tally, maybe still in the pipe.
                if any(getattr(proc, "exitcode", None) not in (None, 0) for proc in self.procs):
                    codes = [getattr(proc, "exitcode", None) for proc in self.procs]
                    raise RuntimeError(
                        f"a generator process died without reporting (exit codes {codes})"
                    ) from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"generator processes silent for {timeout_s:.0f}s") from None
                continue
            if got == "error":
                raise RuntimeError(f"a generator process failed: {payload}")
            if got == kind:
                found.append(payload)
        return found

    def close(self) -> None:
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive() and isinstance(proc, multiprocessing.process.BaseProcess):
                proc.kill()


def setup_allowance(clients: int, processes: int) -> float:
    """Seconds from now to the window's start: process start-up plus creating the clients."""
    return (3.0 if processes else 0.5) + clients / 20_000


def run(share: Share, processes: int) -> dict[str, Any]:
    """Runs the scenario in `processes` generator processes (0: in a thread of this one);
    returns the merged figures (see stats.merge)."""
    allowance = setup_allowance(share.clients, processes)
    share = replace(share, start_at=time.time() + allowance)
    shares = share.split(max(1, processes))
    procs = Processes(shares, inline=processes == 0)
    try:
        limit = allowance + share.duration_s + share.drain_s + 120
        tallies = procs.messages("done", limit)
    finally:
        procs.close()
    # A burst's rates are over the time until its last answer, not the whole timeout.
    busy = [t["extra"]["busy_s"] for t in tallies if "busy_s" in t["extra"]]
    figures = merge(tallies, max(busy) if busy and max(busy) > 0 else share.duration_s)
    figures["burst"] = share.calls_per_client
    figures["processes"] = len(shares)
    figures["extra"] = [t["extra"] for t in tallies]
    return figures
