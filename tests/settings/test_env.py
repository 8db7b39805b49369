"""settings.env: each reader's default, its bounds and the message a bad value gets."""

from __future__ import annotations

import pytest

from settings import SettingsError
from settings.env import choice, items, number, optional_whole, port, whole
from settings.process import ProcessSettings

X = "MODELGW_X"


def test_whole_numbers() -> None:
    assert whole({}, X, 7) == 7
    assert whole({X: ""}, X, 7) == 7  # blank is unset
    assert whole({X: " 12 "}, X, 7, minimum=1) == 12
    assert optional_whole({}, X) is None
    for raw, complaint in (
        ("abc", "MODELGW_X='abc' is not a whole number"),
        ("1.5", "MODELGW_X='1.5' is not a whole number"),
        ("0", "MODELGW_X='0' must be at least 1"),
    ):
        with pytest.raises(SettingsError, match=complaint):
            whole({X: raw}, X, 7, minimum=1)


def test_numbers() -> None:
    assert number({}, X, 2.5) == 2.5
    assert number({X: "0"}, X, 2.5) == 0.0
    assert number({X: "0.25"}, X, 2.5, positive=True) == 0.25
    for env, positive, complaint in (
        ({X: "soon"}, False, "MODELGW_X='soon' is not a number"),
        ({X: "-1"}, False, "MODELGW_X=-1.0 must not be negative"),
        ({X: "0"}, True, "MODELGW_X=0.0 must be positive"),
    ):
        with pytest.raises(SettingsError, match=complaint):
            number(env, X, 2.5, positive=positive)
    with pytest.raises(SettingsError, match="must be positive"):
        number({}, X, 0.0, positive=True)  # a default must pass the same check


def test_ports() -> None:
    assert port({}, X, 8080) == 8080
    assert port({X: "0"}, X, 8080) == 0
    assert port({X: "65535"}, X, 8080) == 65535
    for raw, minimum in (("five", 0), ("65536", 0), ("-1", 0), ("0", 1)):
        with pytest.raises(SettingsError, match=f"MODELGW_X='{raw}' is not a TCP port number"):
            port({X: raw}, X, 8080, minimum=minimum)


def test_choices() -> None:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR")
    assert choice({}, X, "INFO", levels) == "INFO"
    assert choice({X: "debug"}, X, "INFO", levels) == "DEBUG"
    with pytest.raises(SettingsError, match="MODELGW_X='LOUD': use DEBUG, INFO, WARNING or ERROR"):
        choice({X: "loud"}, X, "INFO", levels)


def test_items_tell_missing_from_empty() -> None:
    assert items({}, X) is None
    assert items({X: ""}, X) == ()  # set but empty: a list that allows nothing
    assert items({X: " a, b ,,c,"}, X) == ("a", "b", "c")


def test_process_settings() -> None:
    assert ProcessSettings.from_env({}, "worker") == ProcessSettings("worker", "127.0.0.1", "INFO", 9465)
    env = {"MODELGW_HOST": "0.0.0.0", "MODELGW_LOG_LEVEL": "debug", "MODELGW_AUDIT_METRICS_PORT": "0"}
    assert ProcessSettings.from_env(env, "audit") == ProcessSettings("audit", "0.0.0.0", "DEBUG", 0)
