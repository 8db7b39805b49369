"""Coalesces the Redis commands of concurrent calls into one pipeline per event-loop turn.

A gateway answering a thousand concurrent SubmitJob or GetJob calls would
otherwise pay, per command, a pool checkout, a timeout scope, a write syscall
and a read wake-up: about 40% of the execution server's CPU in the profile of
docs/benchmarks.md. Here commands are queued, and the queue goes to Redis as
one non-transactional pipeline (one write, one read), each caller getting its
own reply or error. A batch leaves at the next turn of the event loop, unless
`max_in_flight` batches are already on their way: then it keeps filling until
one returns (the way autopipelining clients work). Under light load a batch
holds one call and waits one loop turn; under heavy load one round trip serves
hundreds of calls, and the per-command cost falls as the load rises.

One batch on its way at a time, by default: Redis answers one connection's
batches in order anyway, so a second batch sent early gains little, while
waiting for the first to return lets the next one gather the calls of several
loop turns. At 1,000 SubmitJob clients on one process that made batches of
about 3 calls instead of 1.2, and about 17% more submissions a second (server
CPU 390 against 457 µs a call, Redis 116 against 138: docs/benchmarks.md). A
batch of `max_commands` leaves at once, however many are on their way.

Commands of one call (`run(*commands)`) stay together and in order in the
same pipeline, so a call that writes a job and then its indexes is still one
round trip. On Redis Cluster the pipeline is split per node by redis-py.

On a single server (redis://) the batches go through scheduler.wire, one
pipelined connection whose round trip costs less than half of redis-py's
pipeline; elsewhere through redis-py's pipeline.

A caller may also leave the making of its commands to the moment its batch
leaves (`later`): the single submissions of concurrent callers join one
script call that way (scheduler.coalesce), however many loop turns they
arrived over while the batch before was on its way.

Scripts are sent as EVALSHA; a server that does not know the script (after a
restart or a SCRIPT FLUSH) answers NOSCRIPT, and that command alone is sent
again through redis-py's Script, which loads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from scheduler.connection import Client
from scheduler.wire import RedisWire, WireSettings

Command = tuple[Any, ...]


@dataclass(frozen=True)
class ScriptCall:
    """A Lua script to run with keys and args: sent as EVALSHA in the batch."""

    script: AsyncScript
    keys: Sequence[Any]
    args: Sequence[Any]

    def command(self) -> Command:
        """The EVALSHA command of this call."""
        return ("EVALSHA", self.script.sha, len(self.keys), *self.keys, *self.args)


@dataclass
class _Pending:
    commands: Sequence[Command | ScriptCall]
    reply: asyncio.Future[list[Any]]


Answer = Callable[[asyncio.Future[list[Any]]], None]
"""Takes the replies of some commands (or the error that sending them met)."""
Departure = Callable[[], list[tuple[Sequence[Command | ScriptCall], Answer]]]
"""Makes commands as their batch leaves, each group with what takes its replies."""


@dataclass
class _Later:
    make: Departure


class CommandBatcher:
    """Queues Redis commands and sends each loop turn's as one pipeline (see the
    module's docstring); run() gives a call its own replies, in order."""

    def __init__(self, client: Client, *, max_commands: int = 512, max_in_flight: int = 1) -> None:
        self._client = client
        self._max_commands = max_commands
        self._max_in_flight = max_in_flight
        self._pending: list[_Pending | _Later] = []
        self._queued_commands = 0
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()
        wire = WireSettings.of(client)
        self._wire = None if wire is None else RedisWire(wire)

    async def run(self, *commands: Command | ScriptCall) -> list[Any]:
        """Sends the commands with everything else of this loop turn; their replies
        in order. Raises the first command's error, if any failed."""
        loop = asyncio.get_running_loop()
        pending = _Pending(commands, loop.create_future())
        self._pending.append(pending)
        self._queued_commands += len(commands)
        if self._queued_commands >= self._max_commands:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        replies = await pending.reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def later(self, make: Departure) -> None:
        """Has `make` give its commands as the next batch leaves, and each group of
        them to its answer (called with their replies' future, from the loop)."""
        self._pending.append(_Later(make))
        self._queued_commands += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self, *, force: bool = False) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        busy = len(self._in_flight) >= self._max_in_flight and not force
        if busy and self._queued_commands < self._max_commands:
            return  # keep filling: the next batch leaves when one on its way returns
        taken, self._pending, self._queued_commands = self._pending, [], 0
        loop = asyncio.get_running_loop()
        batch = [p for item in taken for p in self._made(item, loop)]
        task = loop.create_task(self._send(batch))
        self._in_flight.add(task)  # a task nobody references can be collected
        task.add_done_callback(self._sent)

    @staticmethod
    def _made(item: _Pending | _Later, loop: asyncio.AbstractEventLoop) -> list[_Pending]:
        if isinstance(item, _Pending):
            return [item]
        made = []
        for commands, answer in item.make():
            reply: asyncio.Future[list[Any]] = loop.create_future()
            reply.add_done_callback(answer)
            made.append(_Pending(commands, reply))
        return made

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending and not self._flush_scheduled:
            self._flush()

    async def _send(self, batch: list[_Pending]) -> None:
        try:
            replies = await self._execute(
                [
                    command.command() if isinstance(command, ScriptCall) else command
                    for pending in batch
                    for command in pending.commands
                ]
            )
        except BaseException as exc:  # the connection failed: every caller gets the error
            for pending in batch:
                if not pending.reply.done():
                    pending.reply.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        position = 0
        for pending in batch:
            mine = list(replies[position : position + len(pending.commands)])
            position += len(pending.commands)
            try:
                await self._reload_unknown_scripts(pending.commands, mine)
            except Exception as exc:
                mine = [exc]
            if not pending.reply.done():  # the caller may have been cancelled
                pending.reply.set_result(mine)

    async def _execute(self, commands: list[Command]) -> list[Any]:
        if self._wire is not None:
            return await self._wire.execute(commands)
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    @staticmethod
    async def _reload_unknown_scripts(
        commands: Sequence[Command | ScriptCall], replies: list[Any]
    ) -> None:
        for i, (command, reply) in enumerate(zip(commands, replies, strict=True)):
            if isinstance(command, ScriptCall) and isinstance(reply, NoScriptError):
                replies[i] = await command.script(keys=command.keys, args=command.args)

    async def close(self) -> None:
        """Sends what is queued and waits for every batch on its way."""
        self._flush(force=True)
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._wire is not None:
            self._wire.close()
