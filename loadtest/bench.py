"""`make bench`: brings up its own mesh, runs every scenario at every client count, writes
JSON and the Markdown tables of docs/benchmarks.md, and stops everything.

    python -m loadtest.bench [--levels 1,10,100,1000,10000,100000] [--duration 8]
        [--burst-timeout 10000:60,100000:90] [--processes 2] [--server-processes 2]
        [--scenarios echo,submit,...] [--jobs-per-user 64] [--jobs-per-call 100]
        [--watch-many-jobs 1000] [--watch-many-ids 1000]
        [--cost-levels 1000] [--cost-duration 12]
        [--json loadtest/results/bench.json] [--markdown docs/benchmarks.md]

Before the scenarios, a per-call cost phase: echo, SubmitJob and GetJob against a
mesh of its own whose servers are one process each, so that the ratio of each call
to echo is one process against one process (the targets' figures).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from loadtest.mesh import BenchMesh
from loadtest.plan import raise_file_limit
from loadtest.report import COST_SCENARIOS, markdown, targets
from loadtest.scenarios import SCENARIOS, Runner, Settings

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__.split("\n")[0])
    p.add_argument("--levels", default="1,10,100,1000,10000,100000")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument(
        "--duration", type=float, default=6.0, help="measured seconds per level (closed loop)"
    )
    p.add_argument(
        "--burst-timeout",
        default="10000:60,100000:90",
        help="from 10,000 clients each client makes one call: seconds the burst gets, per level",
    )
    p.add_argument(
        "--drain", type=float, default=10.0, help="seconds calls in flight get after the window"
    )
    p.add_argument(
        "--processes",
        type=int,
        default=2,
        help="generator processes (0: in-process, for the smoke)",
    )
    p.add_argument(
        "--server-processes",
        type=int,
        default=2,
        help="processes of the execution server and of the echo ceiling, sharing their port",
    )
    p.add_argument(
        "--watch-finish", type=float, default=60.0, help="seconds streams get to end after release"
    )
    p.add_argument(
        "--watch-many-jobs",
        type=int,
        default=Settings.watch_many_jobs,
        help="watch_many: distinct jobs at most (the watched ones share them)",
    )
    p.add_argument(
        "--watch-many-ids",
        type=int,
        default=Settings.watch_many_ids,
        help="watch_many: job ids per WatchJobs stream (the server takes up to 10,000)",
    )
    p.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    p.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="before each run, wait at most this many seconds for a quiet second (0: no wait)",
    )
    p.add_argument(
        "--jobs-per-user",
        type=int,
        default=Settings.jobs_per_user,
        help="finished jobs each bench user has before the get scenario reads them",
    )
    p.add_argument(
        "--jobs-per-call",
        type=int,
        default=Settings.jobs_per_call,
        help="jobs of each SubmitJobs call in the submit_batch scenario",
    )
    p.add_argument(
        "--cost-levels",
        default="1000",
        help="client counts of the one-process per-call cost phase (empty: no phase)",
    )
    p.add_argument(
        "--cost-duration", type=float, default=12.0, help="measured seconds per cost run"
    )
    p.add_argument("--json", type=Path, default=Path("loadtest/results/bench.json"))
    p.add_argument("--markdown", type=Path, help="replace the measured section of this file")
    p.add_argument("--keep-home", action="store_true", help="keep the scratch MODELGW_HOME (logs)")
    return p


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine() -> dict[str, Any]:
    import celery
    import grpc

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    mem_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    pg_bin = _first_line(["pg_config", "--bindir"])
    envoy = Path(sys.executable).parent.parent / "lib"
    envoy_bin = next(envoy.glob("python*/site-packages/envoy/_bin/envoy"), None)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else "?",
        "memory": f"{mem_kb / 2**20:.1f} GiB RAM",
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "redis": _first_line(["redis-server", "--version"]).split(" sha=")[0],
        "postgres": _first_line([f"{pg_bin}/postgres", "--version"]) if pg_bin != "?" else "?",
        "celery": celery.__version__,
        "envoy": _first_line([str(envoy_bin), "--version"]).split("version: ")[-1]
        if envoy_bin
        else "?",
        "nofile": raise_file_limit(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(x) for x in args.levels.split(",") if x]
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}; known: {SCENARIOS}")
    bursts = {int(k): float(v) for k, v in (x.split(":") for x in args.burst_timeout.split(","))}
    settings = Settings(
        processes=args.processes,
        duration_s=args.duration,
        burst_timeout_s=bursts,
        drain_s=args.drain,
        watch_finish_s=args.watch_finish,
        pause_s=args.pause,
        settle_max_s=args.settle,
        jobs_per_user=args.jobs_per_user,
        jobs_per_call=args.jobs_per_call,
        watch_many_jobs=args.watch_many_jobs,
        watch_many_ids=args.watch_many_ids,
    )
    results: dict[str, Any] = {
        "command": " ".join(
            shlex.quote(a) for a in ["python", "-m", "loadtest.bench", *sys.argv[1:]]
        ),
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "settings": settings.__dict__,
        "server_processes": args.server_processes,
        "load_at_start": os.getloadavg(),
        "runs": {},
    }
    began = time.monotonic()
    cost_levels = [int(x) for x in args.cost_levels.split(",") if x]
    if cost_levels:
        cost = replace(settings, duration_s=args.cost_duration)
        results["cost"] = {"server_processes": 1, "duration_s": args.cost_duration, "runs": {}}
        _run_mesh(
            1, cost, COST_SCENARIOS, cost_levels, results["cost"]["runs"], args.keep_home, "[cost] "
        )
    _run_mesh(args.server_processes, settings, scenarios, levels, results["runs"], args.keep_home)
    results["elapsed_s"] = time.monotonic() - began
    return results


def _run_mesh(
    server_processes: int,
    settings: Settings,
    scenarios: list[str],
    levels: list[int],
    runs: dict[str, Any],
    keep_home: bool,
    label: str = "",
) -> None:
    """Every scenario at every level against a mesh of its own, into `runs`."""
    mesh = BenchMesh(server_processes=server_processes)
    try:
        mesh.start()
        runner = Runner(mesh, settings)
        for scenario in scenarios:
            runs[scenario] = {}
            for clients in levels:
                try:
                    figures = runner.run(scenario, clients)
                except Exception as exc:  # one broken level must not lose the others
                    figures = {
                        "error": f"{type(exc).__name__}: {exc}",
                        "load_before": os.getloadavg(),
                    }
                runs[scenario][str(clients)] = figures
                print(label + _line(scenario, clients, figures), flush=True)
                time.sleep(settings.pause_s)
    finally:
        mesh.stop()
        if not keep_home:
            mesh.cleanup()


def _line(scenario: str, clients: int, f: dict[str, Any]) -> str:
    if "error" in f:
        return f"{scenario:14} {clients:>7,} clients: ERROR {f['error']}"
    if "skipped" in f:
        return f"{scenario:14} {clients:>7,} clients: skipped ({f['skipped']})"
    if scenario == "watch":
        return (
            f"{scenario:14} {clients:>7,} streams: held {f['held']:,} "
            f"failed {f['failed']} cut {f['cut']} "
            f"release->all {f['release_to_all_s']:.2f}s delay p99 {f['delay_p99_ms']:.0f}ms "
            f"RSS {f['gateway_peak_rss_mb']:.0f}MB"
        )
    if scenario == "watch_many":
        return (
            f"{scenario:14} {clients:>7,} watched: {f['streams']:,} streams held {f['held']:,} "
            f"failed {f['failed']} cut {f['cut']} "
            f"release->all {f['release_to_all_s']:.2f}s delay p99 {f['delay_p99_ms']:.0f}ms "
            f"{f['entries_per_message']:.1f} jobs/message "
            f"RSS held {f['gateway_rss_held_mb']:.0f}MB peak {f['gateway_peak_rss_mb']:.0f}MB"
        )
    jobs = f" = {f['jobs_per_s']:,.0f} jobs/s" if "jobs_per_s" in f else ""
    return (
        f"{scenario:14} {clients:>7,} clients: {f['requests_per_s']:>8,.0f}/s{jobs} "
        f"failed {f['failed']} cut {f['cut']} p50 {f['p50_ms']:.1f} p95 {f['p95_ms']:.1f} "
        f"p99 {f['p99_ms']:.1f} ms  (load {f['load_before'][0]:.2f})"
    )


def write(results: dict[str, Any], json_path: Path, markdown_path: Path | None) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if markdown_path is None:
        return
    text = markdown_path.read_text() if markdown_path.exists() else f"{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    markdown_path.write_text(f"{head}{BEGIN}\n{markdown(results)}{END}{tail}")


def _stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the mesh and every helper process are stopped."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started in the background, where it is ignored


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    raise_file_limit()
    _stop_on_sigterm()
    results = run(args)
    write(results, args.json, args.markdown)
    for goal, met, measured in targets(results):
        print(f"{'MET   ' if met else 'MISSED'} {goal}: {measured}")
    print(f"results: {args.json}" + (f", {args.markdown}" if args.markdown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
