"""`modelgw jobs submit|watch|get|list|cancel`: running models from the shell."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli import _output, _records
from cli._run import Commands
from cli.login import add_target_option, client, reports_errors

if TYPE_CHECKING:
    from modelgw import Client, GatewayError, Job, JobInfo


def add_command(commands: Commands) -> None:
    """Adds the `jobs` verbs."""
    jobs = commands.add_parser("jobs", help="submit, follow and read jobs")
    verbs = jobs.add_subparsers(dest="jobs_command", required=True)
    submit = verbs.add_parser("submit", help="run a model on records")
    submit.add_argument("model")
    submit.add_argument("--record", action="append", default=[], help="one record as JSON")
    submit.add_argument(
        "--file", type=Path, help="records from a .csv, .jsonl, .sdf or .smi (a SMILES a line) file"
    )
    submit.add_argument("--column", help="the file's column to send (SDF: the SMILES field)")
    submit.add_argument("--batch", type=int, help="records per job: several jobs")
    submit.add_argument(
        "--each",
        action="store_true",
        help="one job per record (--batch 1), all sent in SubmitJobs calls of many jobs",
    )
    submit.add_argument("--version", default="", help="the model version (default: resolved)")
    submit.add_argument(
        "--routing-key", default="", help="keeps these jobs on one version during a rollout"
    )
    submit.add_argument("--wait", action="store_true", help="wait and print the results")
    submit.add_argument("--timeout", type=float, help="seconds to wait at most")
    _verb(submit, run_submit)
    watch = verbs.add_parser("watch", help="print each status change of jobs until they end")
    watch.add_argument("ids", nargs="+", metavar="id", help="a job's id (several: one stream)")
    _verb(watch, run_watch)
    for name, run, text in (
        ("get", run_get, "a job's state and results"),
        ("cancel", run_cancel, "cancel a job that has not finished"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("id", help="the job's id")
        _verb(verb, run)
    listing = verbs.add_parser("list", help="your jobs, newest first")
    listing.add_argument("--model", default="", help="only this model's jobs")
    listing.add_argument("--status", default="", help="QUEUED, RUNNING, SUCCEEDED, ...")
    listing.add_argument("--limit", type=int, default=50)
    _verb(listing, run_list)


def _verb(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]) -> None:
    parser.add_argument("-o", "--output", choices=_output.FORMATS, default="table")
    add_target_option(parser)
    parser.set_defaults(run=reports_errors(run))


def _summary(info: JobInfo) -> dict[str, Any]:
    return {
        "id": info.id, "model": info.model, "version": info.version, "status": info.status,
        "records": info.record_count, "error": info.error_message or info.error_reason or None,
        "jobs_ahead": info.jobs_ahead, "warning": info.queue_warning or None,
        "created": info.created, "ended": info.ended,
    }  # fmt: skip


def _result_rows(info: JobInfo, inputs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    rows = []
    for index, result in enumerate(info.results):
        row: dict[str, Any] = {"job": info.id, "index": index}
        row.update(inputs[index] if inputs else {})
        row.update(result.output or {})
        row["error"] = result.error
        rows.append(row)
    return rows


def run_submit(args: argparse.Namespace) -> int:
    """Submits the records (one job per batch), printing a line per job: its id, or
    why it was refused; with --wait, the results. Exit 1 if any job was refused."""
    if args.each and args.batch is not None:
        raise ValueError("give --each or --batch, not both")
    records = _records.from_options(args.record, args.file, args.column)
    batches = _records.batches(records, 1 if args.each else args.batch)
    with client(args) as gateway:
        jobs, refused = _submit(gateway, args, batches)
        if not args.wait:
            _output.print_rows(_submitted(jobs, refused), args.output)
            return 1 if refused else 0
        _report_refused(refused)
        accepted = [(j, b) for j, b in zip(jobs, batches, strict=True) if j is not None]
        finals = _wait_all(
            gateway, [j for j, _ in accepted], [len(b) for _, b in accepted], args.timeout
        )
    status = _print_results(finals, [b for _, b in accepted], args.output)
    return 1 if refused else status


def _submit(
    gateway: Client, args: argparse.Namespace, batches: list[list[dict[str, Any]]]
) -> tuple[list[Job | None], dict[int, GatewayError]]:
    """Each batch's job (None if refused) and the refused batches' errors."""
    if len(batches) == 1:
        job = gateway.submit(
            args.model, batches[0], version=args.version, routing_key=args.routing_key
        )
        return [job], {}
    from modelgw import JobsRefused

    try:
        jobs = gateway.submit_many(
            args.model, batches, version=args.version, routing_key=args.routing_key
        )
    except JobsRefused as refusal:
        return refusal.jobs, refusal.errors
    return list(jobs), {}


def _submitted(jobs: list[Job | None], refused: dict[int, GatewayError]) -> list[dict[str, Any]]:
    """A row per job, in batch order: its id, or the error that refused it."""
    rows = []
    for index, job in enumerate(jobs):
        error = refused.get(index)
        rows.append(
            {
                "id": job and job.id,
                "model": job and job.model,
                "version": job and job.version,
                "error": error and f"{error.code.name}: {error.message}",
            }
        )
    return rows


def _report_refused(refused: dict[int, GatewayError]) -> None:
    for index, error in refused.items():
        print(
            f"modelgw jobs: job {index} refused: {error.code.name}: {error.message}",
            file=sys.stderr,
        )


def _print_results(finals: list[JobInfo], batches: list[list[dict[str, Any]]], form: str) -> int:
    rows = [
        row
        for info, batch in zip(finals, batches, strict=True)
        for row in _result_rows(info, batch)
    ]
    failed = [info for info in finals if info.status != "SUCCEEDED"]
    if form == "json":
        _output.print_json({"jobs": [_summary(i) for i in finals], "results": rows})
    else:
        _output.print_rows(rows, form)
    for info in failed:
        print(f"modelgw jobs: job {info.id} {info.status}: {info.error_message}", file=sys.stderr)
    return 1 if failed else 0


def _wait_all(
    gateway: Client, jobs: list[Job], sizes: list[int], timeout_s: float | None
) -> list[JobInfo]:
    """Waits for every job, over one WatchJobs stream per 10,000 jobs, showing records
    finished on stderr: a rich progress bar on a terminal, a line per finished job
    otherwise."""
    total, size_of = sum(sizes), {j.id: s for j, s in zip(jobs, sizes, strict=True)}
    finals: dict[str, JobInfo] = {}
    if not sys.stderr.isatty():
        done = 0
        for info in _finished(gateway, jobs, timeout_s):
            finals[info.id], done = info, done + size_of[info.id]
            print(f"job {info.id} {info.status}: {done}/{total} records", file=sys.stderr)
        return [finals[j.id] for j in jobs]
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("records"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("records", total=total)
        for info in _finished(gateway, jobs, timeout_s):
            finals[info.id] = info
            progress.advance(task, size_of[info.id])
        return [finals[j.id] for j in jobs]


def _finished(gateway: Client, jobs: list[Job], timeout_s: float | None) -> Iterator[JobInfo]:
    """Each job's final state as it comes, MAX_JOBS jobs per stream in turn."""
    from modelgw.many import MAX_JOBS

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    for start in range(0, len(jobs), MAX_JOBS):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        for _, info in gateway.watch_many(jobs[start : start + MAX_JOBS], timeout_s=left):
            if info.done:
                yield info


def run_watch(args: argparse.Namespace) -> int:
    """Prints each status change; exit 0 when every job SUCCEEDED, 1 otherwise. One job
    is followed by WatchJob (which shows its place in the queue); several share one
    WatchJobs stream."""
    finals: dict[str, str] = {}
    with client(args) as gateway:
        if len(args.ids) == 1:
            changes: Iterable[JobInfo] = gateway.job(args.ids[0]).watch()
        else:
            changes = (info for _, info in gateway.watch_many(args.ids))
        for info in changes:
            finals[info.id] = info.status
            if args.output == "json":
                _output.print_json(_summary(info))
            else:
                ahead = f" ({info.jobs_ahead} jobs ahead)" if info.jobs_ahead else ""
                print(f"{info.id} {info.status}{ahead}", flush=True)
    return 0 if finals and set(finals.values()) == {"SUCCEEDED"} else 1


def run_get(args: argparse.Namespace) -> int:
    """Prints a job: its summary, and its results."""
    with client(args) as gateway:
        info = gateway.job(args.id).info()
    if args.output == "json":
        _output.print_json({**_summary(info), "results": info.results})
    elif args.output == "csv":
        _output.print_rows(_result_rows(info), "csv")
    else:
        _output.print_rows([_summary(info)], "table", "job")
        if info.results:
            _output.print_rows(_result_rows(info), "table", "results")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Prints the caller's jobs."""
    with client(args) as gateway:
        jobs = gateway.list_jobs(model=args.model, status=args.status, limit=args.limit)
    _output.print_rows([_summary(j) for j in jobs], args.output, "jobs")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    """Cancels a job and prints its state after."""
    with client(args) as gateway:
        info = gateway.job(args.id).cancel()
    _output.print_rows([_summary(info)], args.output)
    return 0
