"""The operator's allow-list: how it is read, what it matches, and the bypasses it refuses.
Pure logic; tests/workers/test_allow_list.py has the worker applying it."""

from __future__ import annotations

import pytest

from backendspec import BackendNotAllowed, BackendPolicy
from backendspec.policy import DEFAULT_CALLABLES
from settings import SettingsError


def test_defaults_allow_the_built_in_models_and_no_command() -> None:
    policy = BackendPolicy.from_env({})
    assert policy == BackendPolicy() == BackendPolicy(("workers.builtin",), ())
    assert DEFAULT_CALLABLES == ("workers.builtin",)


def test_lists_are_read_from_the_environment() -> None:
    policy = BackendPolicy.from_env(
        {
            "MODELGW_ALLOWED_CALLABLES": " workers.builtin, acme.models ,",
            "MODELGW_ALLOWED_COMMANDS": "/opt/tools/pka,/usr/bin/obabel",
        }
    )
    assert policy.callables == ("workers.builtin", "acme.models")
    assert policy.commands == ("/opt/tools/pka", "/usr/bin/obabel")


def test_set_but_empty_allows_nothing() -> None:
    policy = BackendPolicy.from_env({"MODELGW_ALLOWED_CALLABLES": "", "MODELGW_ALLOWED_COMMANDS": ""})
    assert (policy.callables, policy.commands) == ((), ())
    with pytest.raises(BackendNotAllowed, match=r"MODELGW_ALLOWED_CALLABLES \(empty\)"):
        policy.check_callable("workers.builtin.demo:echo")


def test_flags_replace_the_environment() -> None:
    env = {"MODELGW_ALLOWED_CALLABLES": "workers.builtin", "MODELGW_ALLOWED_COMMANDS": "/bin/true"}
    policy = BackendPolicy.from_env(env, callables="acme", commands="")
    assert (policy.callables, policy.commands) == (("acme",), ())


@pytest.mark.parametrize(
    ("env", "flags", "words"),
    [
        ({"MODELGW_ALLOWED_CALLABLES": "workers..builtin"}, {}, ["MODELGW_ALLOWED_CALLABLES", "'workers..builtin'"]),
        ({"MODELGW_ALLOWED_CALLABLES": "workers.builtin:f"}, {}, ["not a dotted module name"]),
        ({}, {"callables": ".relative"}, ["--allow-callables", "'.relative'"]),
        ({"MODELGW_ALLOWED_COMMANDS": "pka"}, {}, ["MODELGW_ALLOWED_COMMANDS", "not an absolute path"]),
        ({"MODELGW_ALLOWED_COMMANDS": "/opt/../bin/sh"}, {}, ["'.' or '..'"]),
        ({}, {"commands": "/opt/tools/"}, ["--allow-commands", "trailing '/'"]),
    ],
)
def test_bad_values_fail_loudly_naming_the_setting(
    env: dict[str, str], flags: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        BackendPolicy.from_env(env, **flags)
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("workers.builtin", True),
        ("workers.builtin.chemistry", True),
        ("workers.builtin.chemistry.deep", True),
        ("workers.builtinx", False),
        ("workers.builtin_extra", False),
        ("workers", False),
        ("workers.backends", False),
        ("os", False),
    ],
)
def test_a_prefix_matches_itself_and_its_submodules_only(module: str, allowed: bool) -> None:
    assert BackendPolicy().allows_module(module) is allowed


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("workers.builtinx:f", ["module 'workers.builtinx' is outside", "MODELGW_ALLOWED_CALLABLES"]),
        ("os:system", ["module 'os' is outside", "--allow-callables"]),
        ("workers.builtin.chemistry:os.system", ["not of the form"]),
        ("workers.builtin.chemistry:_private", ["not of the form"]),
        ("workers.builtin.chemistry", ["not of the form"]),
        (None, ["not of the form"]),
    ],
)
def test_callables_outside_the_list_or_its_form_are_refused(path: object, words: list[str]) -> None:
    with pytest.raises(BackendNotAllowed) as caught:
        BackendPolicy().check_callable(path)
    for word in words:
        assert word in caught.value.message


def test_the_built_in_callables_are_allowed_by_default() -> None:
    BackendPolicy().check("python", {"callable": "workers.builtin.chemistry:logp"})
    BackendPolicy().check("http", {"url": "http://anywhere:8000", "model_name": "m"})


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["/bin/sh", "-c", "id"], ["'/bin/sh' is not allowed", "MODELGW_ALLOWED_COMMANDS (/opt/tools/pka)"]),
        (["pka"], ["not an absolute path"]),
        (["/opt/tools/../../bin/sh"], ["'.' or '..'"]),
        (["/opt/tools//pka"], ["repeated"]),
        (["/opt/tools/pka/"], ["trailing"]),
        ("/opt/tools/pka", ["no command list"]),
        ([], ["no command list"]),
    ],
)
def test_commands_must_be_listed_exactly(command: object, words: list[str]) -> None:
    with pytest.raises(BackendNotAllowed) as caught:
        BackendPolicy(commands=("/opt/tools/pka",)).check("subprocess", {"command": command})
    for word in words:
        assert word in caught.value.message


def test_commands_are_compared_as_written_never_resolved() -> None:
    """/usr/bin/python3 is a symlink to python3.11 on Debian: listing one allows only it."""
    policy = BackendPolicy(commands=("/usr/bin/python3.11",))
    policy.check_command(["/usr/bin/python3.11", "-V"])
    with pytest.raises(BackendNotAllowed):
        policy.check_command(["/usr/bin/python3", "-V"])
