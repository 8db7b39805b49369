"""The bench's results as JSON and as the Markdown tables of docs/benchmarks.md."""

from __future__ import annotations

import math
from typing import Any

TITLES = {
    "submit": "Job submission over gRPC (SubmitJob, bench.submit: accepted, not run)",
    "submit_rollout": (
        "Job submission over gRPC under a 10% canary (SubmitJob, bench.rollout: the traffic "
        "split made at each submission)"
    ),
    "submit_batch": (
        "Batch submission over gRPC (SubmitJobs of 100 one-record jobs a call, bench.batch: "
        "accepted, not run)"
    ),
    "get": "Job result retrieval over gRPC (GetJob of finished demo.echo jobs)",
    "e2e": "End to end over gRPC (SubmitJob, then GetJob every 20 ms until SUCCEEDED; demo.echo)",
    "e2e_watch": (
        "End to end over gRPC, watching (SubmitJob, then WatchJob until the final status; "
        "an echo model with the same worker)"
    ),
    "rest_submit": "Job submission over REST through Envoy (POST /v1/jobs, HTTP/1.1)",
    "echo": "Ceiling: bare grpc.aio echo server (same server options, no interceptor)",
    "celery_submit": "Celery 5: submit (apply_async, no worker consuming)",
    "celery_e2e": (
        "Celery 5: end to end (apply_async, then poll the result every 20 ms; one solo worker)"
    ),
}
# The per-call cost phase: each call against the bare echo server, one server process each.
COST_SCENARIOS = ["echo", "submit", "get"]
COST_CALLS = {
    "echo": "bare grpc.aio echo (no guard)",
    "submit": "SubmitJob",
    "get": "GetJob of a finished job",
}
CELERY_PEER = {
    "submit": "celery_submit",
    "rest_submit": "celery_submit",
    "e2e": "celery_e2e",
    "e2e_watch": "celery_e2e",
}


def _n(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(a: Any, b: Any) -> str:
    if not a or not b or (isinstance(b, float) and math.isnan(b)):
        return "-"
    return f"{a / b:.2f}"


def _latency(row: dict[str, Any], key: str) -> str:
    mark = "≥ " if row.get("latency_lower_bound") else ""
    return mark + _n(row.get(key))


def scenario_table(results: dict[str, Any], scenario: str) -> list[str]:
    rows = results["runs"].get(scenario, {})
    if not rows:
        return []
    peer = CELERY_PEER.get(scenario)
    lines = [
        f"### {TITLES[scenario]}",
        "",
        "| clients | requests/s | failures/s | success | cut | p50 ms | p95 ms | p99 ms "
        "| ÷ echo | ÷ Celery | server CPU µs/call | load avg before |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for clients, row in rows.items():
        if "skipped" in row or "error" in row:
            why = (
                f"not run: {row['skipped']}"
                if "skipped" in row
                else f"**run failed**: {row['error']}"
            )
            lines.append(f"| {int(clients):,} | {why} | | | | | | | | | | |")
            continue
        echo = results["runs"].get("echo", {}).get(clients, {}).get("requests_per_s")
        celery = (
            results["runs"].get(peer, {}).get(clients, {}).get("requests_per_s") if peer else None
        )
        failures = ", ".join(f"{k} {v}" for k, v in row["failure_codes"].items())
        lines.append(
            f"| {int(clients):,} | {_n(row['requests_per_s'])} | {_n(row['failures_per_s'], 1)} "
            f"| {row['success_rate'] * 100:.2f}%{' (' + failures + ')' if failures else ''} "
            f"| {row['cut']} "
            f"| {_latency(row, 'p50_ms')} | {_latency(row, 'p95_ms')} | {_latency(row, 'p99_ms')} "
            f"| {'1.00' if scenario == 'echo' else _ratio(row['requests_per_s'], echo)} "
            f"| {_ratio(row['requests_per_s'], celery)} "
            f"| {_n(row.get('server_cpu_us_per_call'))} "
            f"| {_load(row)} |"
        )
    return [*lines, ""]


def batch_table(results: dict[str, Any]) -> list[str]:
    """submit_batch: calls and the jobs they carry; latency is per call."""
    rows = results["runs"].get("submit_batch", {})
    if not rows:
        return []
    lines = [
        f"### {TITLES['submit_batch']}",
        "",
        "| clients | jobs/s accepted | calls/s | failures/s | success | cut "
        "| p50 ms | p95 ms | p99 ms (per call) | server CPU µs/job | Redis CPU µs/job "
        "| load avg before |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for clients, row in rows.items():
        if "skipped" in row or "error" in row:
            why = row.get("skipped") or f"**run failed**: {row['error']}"
            lines.append(f"| {int(clients):,} | not run: {why} | | | | | | | | | | |")
            continue
        failures = ", ".join(f"{k} {v}" for k, v in row["failure_codes"].items())
        lines.append(
            f"| {int(clients):,} | {_n(row['jobs_per_s'])} | {_n(row['requests_per_s'])} "
            f"| {_n(row['failures_per_s'], 1)} "
            f"| {row['success_rate'] * 100:.2f}%{' (' + failures + ')' if failures else ''} "
            f"| {row['cut']} | {_latency(row, 'p50_ms')} | {_latency(row, 'p95_ms')} "
            f"| {_latency(row, 'p99_ms')} | {_n(row.get('server_cpu_us_per_job'), 1)} "
            f"| {_n(row.get('redis_cpu_us_per_job'), 1)} "
            f"| {_load(row)} |"
        )
    return [*lines, ""]


def watch_table(results: dict[str, Any]) -> list[str]:
    rows = results["runs"].get("watch", {})
    if not rows:
        return []
    lines = [
        "### WatchJob: N streams held, then their jobs completed",
        "",
        "| streams | jobs | held | failed | cut | time to hold all s "
        "| release → last terminal event s "
        "| delivery delay p50 / p95 / p99 / max ms "
        "| gateway RSS before MB | gateway RSS held MB (sum over processes) "
        "| gateway peak RSS MB (sum over processes, this run's) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for clients, r in rows.items():
        if "error" in r:
            lines.append(f"| {int(clients):,} | **run failed**: {r['error']} |" + " |" * 9)
            continue
        lines.append(
            f"| {int(clients):,} | {r['jobs']:,} | {r['held']:,} | {r['failed']} | {r['cut']} "
            f"| {_n(r['hold_all_s'], 1)} | {_n(r['release_to_all_s'], 2)} "
            f"| {_n(r['delay_p50_ms'])} / {_n(r['delay_p95_ms'])} "
            f"/ {_n(r['delay_p99_ms'])} / {_n(r['delay_max_ms'])} "
            f"| {_n(r.get('gateway_rss_before_mb'))} "
            f"| {_n(r['gateway_rss_held_mb'])} | {_n(r['gateway_peak_rss_mb'])} |"
        )
    return [*lines, ""]


def watch_many_table(results: dict[str, Any]) -> list[str]:
    rows = results["runs"].get("watch_many", {})
    if not rows:
        return []
    lines = [
        "### WatchJobs: N watched jobs on streams of K ids, then their jobs completed",
        "",
        "| watched | streams x ids | jobs | held | failed | cut | time to hold all s "
        "| release → last terminal event s | delivery delay p50 / p95 / p99 / max ms "
        "| jobs per message | server CPU s after release | gateway RSS before MB "
        "| gateway RSS held MB | gateway peak RSS MB (this run's) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for clients, r in rows.items():
        if "error" in r:
            lines.append(f"| {int(clients):,} | **run failed**: {r['error']} |" + " |" * 12)
            continue
        lines.append(
            f"| {int(clients):,} | {r['streams']:,} x {r['ids_per_stream']:,} | {r['jobs']:,} "
            f"| {r['held']:,} | {r['failed']} | {r['cut']} | {_n(r['hold_all_s'], 1)} "
            f"| {_n(r['release_to_all_s'], 2)} | {_n(r['delay_p50_ms'])} / {_n(r['delay_p95_ms'])} "
            f"/ {_n(r['delay_p99_ms'])} / {_n(r['delay_max_ms'])} "
            f"| {_n(r['entries_per_message'], 1)} | {_n(r.get('server_cpu_after_release_s'), 1)} "
            f"| {_n(r.get('gateway_rss_before_mb'))} "
            f"| {_n(r['gateway_rss_held_mb'])} | {_n(r['gateway_peak_rss_mb'])} |"
        )
    return [*lines, ""]


def _watch_many_target(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    w = _row(results, "watch_many", 100_000)
    if not w:
        return []
    ok = (
        not w["failed"]
        and not w["cut"]
        and w["held"] == 100_000
        and w["release_to_all_s"] <= 10
        and w["gateway_peak_rss_mb"] <= 1536
    )
    goal = (
        "100,000 watched jobs on WatchJobs streams: 0 failures, last terminal event within "
        "10 s of release, RSS ≤ 1.5 GB"
    )
    measured = (
        f"{w['streams']:,} streams of {w['ids_per_stream']:,} ids over {w['jobs']:,} jobs: "
        f"held {w['held']:,}, failed {w['failed']}, cut {w['cut']}, "
        f"release → all {_n(w['release_to_all_s'], 1)} s, "
        f"RSS held {_n(w['gateway_rss_held_mb'])} MB, peak {_n(w['gateway_peak_rss_mb'])} MB"
    )
    return [(goal, ok, measured)]


def _row(results: dict[str, Any], scenario: str, clients: int) -> dict[str, Any]:
    row: dict[str, Any] = results["runs"].get(scenario, {}).get(str(clients), {})
    return {} if "error" in row or "skipped" in row else row


def _batch_target(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    batches = [r for r in results["runs"].get("submit_batch", {}).values() if "jobs_per_s" in r]
    if not batches:
        return []
    best = max(batches, key=lambda r: r["jobs_per_s"])
    return [
        (
            "Batch submit (SubmitJobs, 100 jobs a call): ≥ 20,000 accepted jobs/s "
            "(best level), 0 failures",
            best["jobs_per_s"] >= 20_000 and not any(r["failed"] for r in batches),
            f"{best['jobs_per_s']:,.0f} jobs/s ({best['requests_per_s']:,.0f} calls/s), "
            f"{sum(r['failed'] for r in batches)} failed",
        )
    ]


def cost_table(results: dict[str, Any]) -> list[str]:
    """The per-call cost phase: each call's throughput as a share of echo's, one
    server process each (authentication, authorization, validation and admission on)."""
    runs = results.get("cost", {}).get("runs", {})
    if not runs:
        return []
    lines = [
        "### Per-call cost: one server process each",
        "",
        f"A mesh of its own before the scenarios; {results['cost']['duration_s']:.0f} s "
        "closed loop per run.",
        "",
        "| call | clients | requests/s | ÷ echo | failed | p50 ms | p99 ms "
        "| server CPU µs/call | Redis CPU µs/call | load avg before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scenario in COST_SCENARIOS:
        for clients, row in runs.get(scenario, {}).items():
            if "error" in row:
                lines.append(
                    f"| {COST_CALLS[scenario]} | {int(clients):,} "
                    f"| **run failed**: {row['error']} | | | | | | | |"
                )
                continue
            echo = runs.get("echo", {}).get(clients, {}).get("requests_per_s")
            lines.append(
                f"| {COST_CALLS[scenario]} | {int(clients):,} | {_n(row['requests_per_s'])} "
                f"| {_ratio(row['requests_per_s'], echo)} | {row['failed']} "
                f"| {_n(row['p50_ms'])} | {_n(row['p99_ms'])} "
                f"| {_n(row.get('server_cpu_us_per_call'))} "
                f"| {_n(row.get('redis_cpu_us_per_call'))} "
                f"| {_load(row)} |"
            )
    return [*lines, ""]


def _cost_targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """SubmitJob ≥ 0.6x and GetJob ≥ 0.75x echo, one server process each, 1,000 clients."""
    runs = results.get("cost", {}).get("runs", {})
    echo = runs.get("echo", {}).get("1000", {})
    if "requests_per_s" not in echo or not echo["requests_per_s"]:
        return []
    out: list[tuple[str, bool | None, str]] = []
    for scenario, least in (("submit", 0.6), ("get", 0.75)):
        row = runs.get(scenario, {}).get("1000", {})
        if "requests_per_s" not in row:
            continue
        share = row["requests_per_s"] / echo["requests_per_s"]
        out.append(
            (
                f"{COST_CALLS[scenario]}, 1,000 clients, one server process: "
                f"≥ {least:.2f}x echo, 0 failures",
                share >= least and not row["failed"],
                f"{row['requests_per_s']:,.0f} vs echo {echo['requests_per_s']:,.0f}/s: "
                f"{share:.2f}x, {row['failed']} failed; server CPU "
                f"{_n(row.get('server_cpu_us_per_call'))} vs "
                f"{_n(echo.get('server_cpu_us_per_call'))} µs/call",
            )
        )
    return out


def targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """Each benchmark target: (target, met or None when not measured, the measured value)."""
    out: list[tuple[str, bool | None, str]] = []
    s1k, e1k = _row(results, "submit", 1000), _row(results, "echo", 1000)
    if s1k and e1k:
        share = s1k["requests_per_s"] / e1k["requests_per_s"] if e1k["requests_per_s"] else 0
        out.append(
            (
                "Submit, 1,000 clients: ≥ 2,500 jobs/s, p99 ≤ 250 ms, 0 failures",
                s1k["requests_per_s"] >= 2500 and s1k["p99_ms"] <= 250 and not s1k["failed"],
                f"{s1k['requests_per_s']:,.0f} jobs/s, p99 {s1k['p99_ms']:,.0f} ms, "
                f"{share:.0%} of echo "
                f"({e1k['requests_per_s']:,.0f}/s), {s1k['failed']} failed",
            )
        )
    for n, p99 in ((10_000, 5000.0), (100_000, None)):
        r = _row(results, "submit", n)
        if r:
            ok = not r["failed"] and not r["cut"] and (p99 is None or r["p99_ms"] <= p99)
            goal = f"0 failures, p99 ≤ {p99 / 1000:.0f} s" if p99 else "0 failures"
            out.append(
                (
                    f"Submit, {n:,} clients: {goal}",
                    ok,
                    f"{r['failed']} failed, {r['cut']} cut, p99 {_latency(r, 'p99_ms')} ms, "
                    f"{r['requests_per_s']:,.0f} jobs/s",
                )
            )
    r1k = _row(results, "submit_rollout", 1000)
    if s1k and r1k:
        ratio = r1k["requests_per_s"] / s1k["requests_per_s"] if s1k["requests_per_s"] else 0
        out.append(
            (
                "Submit under an active rollout, 1,000 clients: within 5% of without one",
                ratio >= 0.95 and not r1k["failed"],
                f"{r1k['requests_per_s']:,.0f} vs {s1k['requests_per_s']:,.0f} jobs/s: "
                f"{ratio:.0%}, {r1k['failed']} failed",
            )
        )
    out += _cost_targets(results)
    out += _batch_target(results)
    g = _row(results, "get", 1000)
    if g:
        out.append(
            (
                "Get result, 1,000 clients: ≥ 4,000 req/s, p99 ≤ 100 ms",
                g["requests_per_s"] >= 4000 and g["p99_ms"] <= 100 and not g["failed"],
                f"{g['requests_per_s']:,.0f} req/s, p99 {g['p99_ms']:,.0f} ms, "
                f"{g['failed']} failed",
            )
        )
    best_cel = max(
        (r.get("requests_per_s", 0) for r in results["runs"].get("celery_e2e", {}).values()),
        default=0,
    )
    for scenario, how in (("e2e", "polling, as Celery's clients do"), ("e2e_watch", "watching")):
        best = max(
            (r.get("requests_per_s", 0) for r in results["runs"].get(scenario, {}).values()),
            default=0,
        )
        if best and best_cel:
            out.append(
                (
                    f"End to end ({how}): ≥ 3x Celery (best level of each)",
                    best >= 3 * best_cel,
                    f"{best:,.0f} vs Celery {best_cel:,.0f} jobs/s: {best / best_cel:.2f}x",
                )
            )
    w = _row(results, "watch", 100_000)
    if w:
        ok = (
            not w["failed"]
            and not w["cut"]
            and w["held"] == 100_000
            and w["delay_max_ms"] <= 10_000
            and w["gateway_peak_rss_mb"] <= 1536
        )
        out.append(
            (
                "100,000 WatchJob streams: 0 failures, terminal event to all within 10 s, "
                "RSS ≤ 1.5 GB",
                ok,
                f"held {w['held']:,}, failed {w['failed']}, cut {w['cut']}, "
                f"delivery max {_n(w['delay_max_ms'])} ms "
                f"(release → all {_n(w['release_to_all_s'], 1)} s), "
                f"peak RSS {_n(w['gateway_peak_rss_mb'])} MB",
            )
        )
    out += _watch_many_target(results)
    best_rest = max(
        (r.get("requests_per_s", 0) for r in results["runs"].get("rest_submit", {}).values()),
        default=0,
    )
    best_grpc = max(
        (r.get("requests_per_s", 0) for r in results["runs"].get("submit", {}).values()), default=0
    )
    if best_rest and best_grpc:
        out.append(
            (
                "REST submit through Envoy ≥ 70% of direct gRPC (best level of each)",
                best_rest >= 0.7 * best_grpc,
                f"{best_rest:,.0f} vs {best_grpc:,.0f} req/s: {best_rest / best_grpc:.0%}",
            )
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    """The measured part of docs/benchmarks.md."""
    m = results["machine"]
    lines = [
        f"Run of {results['started']} (UTC), {results['elapsed_s']:.0f} s in all.",
        "",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory']}, {m['os']}",
        f"- Python {m['python']}, grpcio {m['grpcio']}, {m['redis']}, PostgreSQL {m['postgres']}, "
        f"Celery {m['celery']}, Envoy {m['envoy']}",
        f"- Open-file limit in the bench: {m['nofile']}; "
        f"generator processes: {results['settings']['processes']}; "
        f"execution and echo server processes: {results.get('server_processes', 1)}",
        f"- Load average at start: {' '.join(f'{x:.2f}' for x in results['load_at_start'])}",
        "",
        *cost_table(results),
    ]
    for scenario in (
        "submit", "submit_rollout", "get", "e2e", "e2e_watch", "rest_submit", "echo",
        "celery_submit", "celery_e2e",
    ):  # fmt: skip
        lines += scenario_table(results, scenario)
        if scenario == "submit_rollout":
            lines += batch_table(results)
    lines += watch_table(results)
    lines += watch_many_table(results)
    lines += ["### Targets", "", "| target | met | measured |", "|---|---|---|"]
    for goal, met, measured in targets(results):
        lines.append(
            f"| {goal} | {'-' if met is None else 'met' if met else '**missed**'} | {measured} |"
        )
    return "\n".join(lines) + "\n"


def _load(row: dict[str, Any]) -> str:
    """The load average before the run, and how long it waited for a quiet machine."""
    load = " ".join(f"{x:.2f}" for x in row["load_before"])
    waited = row.get("settle_waited_s", 0)
    return f"{load} (waited {waited:.0f} s)" if waited > 1 else load
