"""The `modelgw` command: every subcommand parses, and a bad setting exits 2 naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli.main import _parser, main


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["serve", "registry", "--processes", "2"], "serve"),
        (["worker", "--models", "a,b", "--concurrency", "4"], "worker"),
        (["scheduler", "--interval", "5"], "scheduler"),
        (["audit"], "audit"),
        (["token", "create", "--user", "alice"], "token"),
        (["builtins", "register"], "builtins"),
        (["up"], "up"),
        (["envoy-config"], "envoy-config"),
        (["login", "--token", "t"], "login"),
        (["models", "search", "aqueous solubility", "--tag", "admet"], "models"),
        (["models", "show", "rdkit.logp", "-o", "json"], "models"),
        (["jobs", "submit", "m", "--file", "x.sdf", "--batch", "10", "--wait"], "jobs"),
        (["jobs", "watch", "id"], "jobs"),
        (["jobs", "list", "--status", "queued", "--target", "h:1"], "jobs"),
    ],
)
def test_every_subcommand_parses(argv: list[str], command: str) -> None:
    args = _parser().parse_args(argv)
    assert args.command == command and callable(args.run)


def test_worker_flags_default_to_unset_so_the_variables_apply() -> None:
    args = _parser().parse_args(["worker"])
    assert (args.models, args.concurrency, args.model_processes, args.drain_grace) == (
        None, None, None, None,
    )


@pytest.mark.parametrize("command", [["worker"], ["scheduler"]])
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_drain_grace_that_is_not_seconds_is_refused(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args([*command, "--drain-grace", value])
    assert exited.value.code == 2
    assert "argument --drain-grace" in capsys.readouterr().err


def test_a_drain_grace_of_seconds_is_taken() -> None:
    assert _parser().parse_args(["scheduler", "--drain-grace", "0"]).drain_grace == 0.0
    assert _parser().parse_args(["worker", "--drain-grace", "2.5"]).drain_grace == 2.5
    assert _parser().parse_args(["scheduler"]).drain_grace == 5.0


def test_a_bad_setting_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELGW_JWT_MAX_TTL", "forever")
    assert main(["token", "create", "--user", "alice"]) == 2
    assert "configuration error: MODELGW_JWT_MAX_TTL='forever' is not a whole number" in capsys.readouterr().err


def _modelgw(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_with_nothing_to_run_exits_2() -> None:
    done = _modelgw("worker")
    assert done.returncode == 2
    assert "give --models NAME[,NAME...], --builtins and/or --consensus" in done.stderr


def test_a_worker_reads_its_variables() -> None:
    done = _modelgw("worker", "--models", "demo.sleep", MODELGW_WORKER_CONCURRENCY="0")
    assert done.returncode == 2
    assert "MODELGW_WORKER_CONCURRENCY='0' must be at least 1" in done.stderr


def test_grpc_fork_support_is_off_before_grpc_is_imported() -> None:
    # gRPC's fork hook made a fork racing its shutdown thread wait forever (the
    # mesh hung spawning a step after its health checks); the package turns it
    # off before any module imports grpc, whose core reads it once.
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    code = (
        "import sys, cli, os; assert 'grpc' not in sys.modules; "
        "print(os.environ['GRPC_ENABLE_FORK_SUPPORT'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "false"
