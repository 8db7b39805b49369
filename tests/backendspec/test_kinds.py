"""Each backend kind's config check: what is refused names the key and what it accepts,
and what is well-formed passes without anything being imported or run."""

from __future__ import annotations

import pytest

from backendspec import BACKEND_KINDS, BackendSpecError, check_backend_spec, check_config


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({}, "'callable' is required"),
        ({"callable": "no_colon"}, "'callable' 'no_colon' is not of the form"),
        ({"callable": "a.b:c", "extra": 1}, "unknown python backend config key 'extra'"),
        ({"callable": 7}, "'callable' is required"),
    ],
)
def test_python_config_names_the_key(cfg: dict[str, object], fragment: str) -> None:
    with pytest.raises(BackendSpecError) as caught:
        check_config("python", cfg)
    assert fragment in str(caught.value)


def test_python_config_accepts_a_callable_without_importing_it() -> None:
    check_config("python", {"callable": "somewhere.not_installed:predict"})


@pytest.mark.parametrize(
    "path", ["workers.builtin.chemistry:os.system", "a.b:Model.predict", "a.b:_private", "a.b:"]
)
def test_python_config_takes_one_public_name_after_the_colon(path: str) -> None:
    with pytest.raises(BackendSpecError, match="one public name"):
        check_config("python", {"callable": path})


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({}, "'command' is required"),
        ({"command": []}, "'command' is required"),
        ({"command": "prog --json"}, "'command' is required"),
        ({"command": ["/opt/prog", 3]}, "'command' is required"),
        ({"command": ["prog"]}, "is not an absolute path"),
        ({"command": ["/opt/./prog"]}, "no '.' or '..' segments"),
        ({"command": ["/opt/tools/../prog"]}, "no '.' or '..' segments"),
        ({"command": ["/opt//prog"]}, "repeated or trailing '/'"),
        ({"command": ["/opt/prog", "a\x00b"]}, "NUL"),
        ({"command": ["/opt/prog"], "env": {"A=B": "x"}}, "'A=B' is not a variable name"),
        ({"command": ["/opt/prog"], "env": {"A": 1}}, "'env' must map"),
        ({"command": ["/opt/prog"], "env": {"LD_LIBRARY_PATH": "/x"}}, "LD_LIBRARY_PATH may not"),
        ({"command": ["/opt/prog"], "env": {"PYTHONSTARTUP": "/x"}}, "PYTHONSTARTUP may not"),
        ({"command": ["/opt/prog"], "env": {"HOME": "/root"}}, "HOME may not be set"),
        ({"command": ["/opt/prog"], "env": {"BASH_ENV": "/x"}}, "BASH_ENV may not be set"),
        ({"command": ["/opt/prog"], "cwd": "/tmp"}, "'cwd' is not accepted"),
        ({"command": ["/opt/prog"], "limits": {"memory_mb": 0}}, "'limits.memory_mb' must be"),
        ({"command": ["/opt/prog"], "limits": {"memory_mb": 1.5}}, "'limits.memory_mb' must be"),
        ({"command": ["/opt/prog"], "limits": {"gpus": 1}}, "'limits' key 'gpus' is unknown"),
        ({"command": ["/opt/prog"], "shell": True}, "unknown subprocess backend config key 'shell'"),
    ],
)
def test_subprocess_config_names_the_key(cfg: dict[str, object], fragment: str) -> None:
    with pytest.raises(BackendSpecError) as caught:
        check_config("subprocess", cfg)
    assert fragment in str(caught.value)


def test_subprocess_config_accepts_a_full_config() -> None:
    check_config("subprocess",
        {
            "command": ["/opt/prog", "--json"],
            "env": {"A": "1", "LANG": "de_DE.UTF-8"},
            "limits": {"memory_mb": 512.0, "cpu_seconds": 30, "file_mb": 10},
        }
    )


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({"model_name": "m"}, "'url' is required"),
        ({"url": "ftp://h", "model_name": "m"}, "'url' is required"),
        ({"url": "http://h?x=1", "model_name": "m"}, "no query or fragment"),
        ({"url": "http://h"}, "'model_name' is required"),
        ({"url": "http://h", "model_name": "m", "model_version": 2}, "'model_version' must be"),
        ({"url": "http://h", "model_name": "m", "timeout_s": 0}, "'timeout_s' must be"),
        ({"url": "http://h", "model_name": "m", "timeout_s": True}, "'timeout_s' must be"),
        (
            {"url": "http://h", "model_name": "m", "headers": {}},
            "unknown http backend config key 'headers'",
        ),
    ],
)
def test_http_config_names_the_key(cfg: dict[str, object], fragment: str) -> None:
    with pytest.raises(BackendSpecError) as caught:
        check_config("http", cfg)
    assert fragment in str(caught.value)


def test_http_config_accepts_struct_floats() -> None:
    # Configs arrive through google.protobuf.Struct, where every number is a float.
    check_config("http",
        {"url": "https://triton:8000", "model_name": "m", "model_version": "1", "timeout_s": 30.0}
    )


def test_an_unknown_kind_names_the_kinds_workers_run() -> None:
    with pytest.raises(BackendSpecError, match="unknown backend kind 'consensus'"):
        check_config("consensus", {})
    assert sorted(BACKEND_KINDS) == ["http", "python", "subprocess"]
    with pytest.raises(BackendSpecError, match="'kind' is required"):
        check_backend_spec({"config": {}})


def test_a_spec_error_is_not_a_value_error() -> None:
    # A caller maps it to INVALID_ARGUMENT; a ValueError from a bug must not look like one.
    assert not issubclass(BackendSpecError, ValueError)
