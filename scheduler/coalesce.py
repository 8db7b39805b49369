"""Concurrent single submissions in one script call: the way a database's group
commit turns many small transactions into one.

A thousand SubmitJob callers each sending the submission script for their one
job make Redis set up a thousand script calls (about 23 µs each before the
script does any work, measured on this project's bench machine) and make the
gateway pack a thousand argument lists. Here a submission waits, without any
added delay, for the batch it will go in (scheduler.batch) to leave: the
submissions that arrived by then and share a model version, a route and
admission limits (bulk.JobGroup) go as one group, whoever submitted them, and
each caller gets its own job's outcome. The script checks and creates the
group's jobs one after another in their order of arrival, exactly as
separate calls would have, each against its submitter's own buckets.

On a single server only: on Redis Cluster a created job's indexes live in
other slots, and its submission goes on its own (scheduler.queue).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.commands.core import AsyncScript

from scheduler.batch import Answer, Command, CommandBatcher, ScriptCall
from scheduler.bulk import MAX_JOBS_PER_SCRIPT, GroupJob, GroupReply, GroupSubmission, JobGroup
from scheduler.settings import QueueSettings

Outcome = tuple[GroupReply, int]
"""The reply of the script call a submission went in, and which of its jobs it is."""


@dataclass
class _Waiting:
    group: JobGroup
    jobs: list[GroupJob] = field(default_factory=list)
    callers: list[asyncio.Future[Outcome]] = field(default_factory=list)


class SubmissionCoalescer:
    """Gathers single submissions until their batch leaves; see the module's docstring."""

    def __init__(
        self, batcher: CommandBatcher, script: AsyncScript, settings: QueueSettings
    ) -> None:
        self._batcher = batcher
        self._script = script
        self._settings = settings
        self._waiting: dict[tuple[Any, ...], _Waiting] = {}
        self._full: list[_Waiting] = []

    async def submit(self, group: JobGroup, job: GroupJob) -> Outcome:
        """The job's outcome, submitted with the others of its group that are waiting."""
        # The spec by identity: the resolution cache gives every submission to a
        # version the same one, and the group waiting holds it, so no other spec
        # can take its id meanwhile.
        key = (group.model, group.version, group.route, group.rollout_id, group.limits,
               id(group.spec))  # fmt: skip
        waiting = self._waiting.get(key)
        if waiting is None:
            if not self._waiting and not self._full:
                self._batcher.later(self._depart)
            waiting = self._waiting[key] = _Waiting(group)
        caller: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        waiting.jobs.append(job)
        waiting.callers.append(caller)
        if len(waiting.jobs) == MAX_JOBS_PER_SCRIPT:  # a group is one script call
            self._full.append(self._waiting.pop(key))
        return await caller

    def _depart(self) -> list[tuple[Sequence[Command | ScriptCall], Answer]]:
        """The script calls of what waits, as their batch leaves."""
        leaving, self._full = [*self._full, *self._waiting.values()], []
        self._waiting = {}
        departing: list[tuple[Sequence[Command | ScriptCall], Answer]] = []
        for waiting in leaving:
            plan = GroupSubmission(waiting.group, waiting.jobs, False, self._settings)
            departing.append((plan.calls(self._script), self._answer(plan, waiting.callers)))
        return departing

    @staticmethod
    def _answer(plan: GroupSubmission, callers: list[asyncio.Future[Outcome]]) -> Answer:
        def answer(replies: asyncio.Future[list[Any]]) -> None:
            try:
                [reply] = replies.result()
                if isinstance(reply, Exception):
                    raise reply
                outcome = plan.read(iter([reply]))
            except Exception as exc:  # the round trip or the script failed: tell every caller
                for caller in callers:
                    if not caller.done():
                        caller.set_exception(exc)
                return
            for index, caller in enumerate(callers):
                if not caller.done():  # else its caller gave up waiting
                    caller.set_result((outcome, index))

        return answer
