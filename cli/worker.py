"""`modelgw worker`: runs jobs of the given models (and of consensus models).

Its settings come from MODELGW_WORKER_* (workers.settings), the allow-list's and
the sandbox's variables; each flag replaces its variable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from cli._run import Commands, positive, run_until_signalled, seconds
from settings.env import split_items


def add_command(commands: Commands) -> None:
    """Adds `worker`."""
    worker = commands.add_parser("worker", help="run jobs of the given models")
    worker.add_argument(
        "--models",
        help="comma-separated models (every version) or model@version (that version only); "
        "replaces MODELGW_WORKER_MODELS",
    )
    worker.add_argument(
        "--builtins",
        action="store_true",
        help="also run the built-in models (`modelgw builtins register` registers them)",
    )
    _add_limits(worker)
    worker.add_argument(
        "--consensus",
        action="store_true",
        help="also run consensus jobs, of every consensus model, found as they appear",
    )
    worker.add_argument(
        "--concurrency",
        type=positive,
        help="jobs run at once; replaces MODELGW_WORKER_CONCURRENCY (16)",
    )
    worker.add_argument(
        "--model-processes",
        type=positive,
        help="python model processes, each running one batch at a time (default: the "
        "concurrency); fewer queue python batches for a free one; replaces "
        "MODELGW_WORKER_MODEL_PROCESSES",
    )
    worker.add_argument(
        "--drain-grace",
        type=seconds,
        help="seconds running jobs get on SIGTERM; replaces MODELGW_WORKER_DRAIN_GRACE (30)",
    )
    worker.set_defaults(run=run)


def _add_limits(worker: argparse.ArgumentParser) -> None:
    """The allow-list's and the sandbox's flags."""
    worker.add_argument(
        "--allow-callables",
        metavar="PREFIXES",
        help="comma-separated python module prefixes this worker runs; replaces "
        "MODELGW_ALLOWED_CALLABLES (default workers.builtin)",
    )
    worker.add_argument(
        "--allow-commands",
        metavar="PATHS",
        help="comma-separated absolute executable paths this worker runs; replaces "
        "MODELGW_ALLOWED_COMMANDS (default none)",
    )
    worker.add_argument(
        "--subprocess-memory-mb",
        type=positive,
        help="address space of a model subprocess; replaces MODELGW_SUBPROCESS_MEMORY_MB (2048)",
    )
    worker.add_argument(
        "--subprocess-cpu-seconds",
        type=positive,
        help="CPU seconds of a model subprocess; replaces MODELGW_SUBPROCESS_CPU_SECONDS "
        "(default: the job's timeout)",
    )
    worker.add_argument(
        "--subprocess-file-mb",
        type=positive,
        help="largest file a model subprocess writes; replaces MODELGW_SUBPROCESS_FILE_MB (1024)",
    )


def run(args: argparse.Namespace) -> int:
    """Runs the worker until SIGTERM, then drains it."""
    from scheduler.settings import QueueSettings, redis_settings
    from settings.process import ProcessSettings
    from workers.backends import SubprocessLimits
    from workers.backends.sandbox import make_undumpable
    from workers.settings import WorkerSettings
    from workers.worker import Worker

    # Before anything else: a model subprocess runs as this user and must not read
    # this process's environment or memory through /proc, nor ptrace it.
    make_undumpable()
    env = os.environ
    settings = WorkerSettings.from_env(
        env,
        models=None if args.models is None else split_items(args.models),
        extra_models=_builtin_models() if args.builtins else (),
        concurrency=args.concurrency,
        model_processes=args.model_processes,
        drain_grace_s=args.drain_grace,
        consensus=args.consensus,
        allow_callables=args.allow_callables,
        allow_commands=args.allow_commands,
        limits=SubprocessLimits.from_env(
            env,
            memory_mb=args.subprocess_memory_mb,
            cpu_seconds=args.subprocess_cpu_seconds,
            file_mb=args.subprocess_file_mb,
        ),
    )
    if not settings.models and not settings.consensus:
        print(
            "modelgw worker: give --models NAME[,NAME...], --builtins and/or --consensus",
            file=sys.stderr,
        )
        return 2
    redis, queue = redis_settings(env), QueueSettings.from_env(env)

    async def work(stop: asyncio.Event) -> None:
        await Worker(redis, queue, settings).run(stop)

    return run_until_signalled(ProcessSettings.from_env(env, "worker"), work)


def _builtin_models() -> list[str]:
    from gateway.admin.catalog import worker_models

    return worker_models()
