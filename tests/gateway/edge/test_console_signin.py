"""The console's single sign-on settings: refused precisely when unusable, and
what they change in the rendered Envoy config (the CSP) and settings.json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.edge.console_signin import OidcSignIn
from settings import SettingsError

ISSUER = "https://login.example.org/realms/rd"


def test_unset_means_no_single_sign_on() -> None:
    assert OidcSignIn.from_env({}) is None


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"MODELGW_CONSOLE_OIDC_CLIENT_ID": ""}, "set MODELGW_CONSOLE_OIDC_CLIENT_ID"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": ""}, "set MODELGW_CONSOLE_OIDC_ISSUER"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": "login.example.org"}, "http(s) issuer URL"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": "javascript:alert(1)"}, "http(s) issuer URL"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": ISSUER + "?x=1"}, "without query"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": ISSUER, "MODELGW_CONSOLE_OIDC_SCOPE": "profile"}, "'openid'"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": ISSUER, "MODELGW_CONSOLE_OIDC_TOKEN": "refresh_token"},
         "access_token or id_token"),
        ({"MODELGW_CONSOLE_OIDC_ISSUER": ISSUER, "MODELGW_CONSOLE_OIDC_CLIENT_ID": "a\nb"},
         "printable"),
    ],
)  # fmt: skip
def test_unusable_settings_are_refused_with_what_to_fix(env: dict[str, str], words: str) -> None:
    env = {
        "MODELGW_CONSOLE_OIDC_ISSUER": ISSUER,
        "MODELGW_CONSOLE_OIDC_CLIENT_ID": "console",
        **env,
    }
    with pytest.raises(SettingsError, match=re.escape(words)):
        OidcSignIn.from_env(env)


def test_defaults_and_origin() -> None:
    oidc = OidcSignIn.from_env(
        {"MODELGW_CONSOLE_OIDC_ISSUER": ISSUER + "/", "MODELGW_CONSOLE_OIDC_CLIENT_ID": "console"}
    )
    assert oidc == OidcSignIn(issuer=ISSUER, client_id="console")
    assert oidc.scope == "openid" and oidc.bearer == "access_token"
    assert oidc.origin == "https://login.example.org"


def _render(home: Path, **env: str) -> tuple[dict[str, object], set[str]]:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "envoy-config"],
        env={**os.environ, "MODELGW_HOME": str(home), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(Path(result.stdout.strip()).read_text())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    policies = {
        header["header"]["value"]
        for route in routes if route["match"].get("path", "").startswith("/console")
        for header in route.get("response_headers_to_add", [])
        if header["header"]["key"] == "content-security-policy"
    }  # fmt: skip
    settings = json.loads((home / "envoy" / "console-settings.json").read_text())
    return settings, policies


def test_the_csp_lets_the_console_reach_the_provider_and_nothing_else(tmp_path: Path) -> None:
    settings, policies = _render(tmp_path / "plain")
    assert "oidc" not in settings
    assert policies == {
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    settings, policies = _render(
        tmp_path / "sso",
        MODELGW_CONSOLE_OIDC_ISSUER=ISSUER,
        MODELGW_CONSOLE_OIDC_CLIENT_ID="console",
        MODELGW_CONSOLE_OIDC_SCOPE="openid  profile",
    )
    assert settings["oidc"] == {
        "issuer": ISSUER, "client_id": "console", "scope": "openid profile", "token": "access_token",
    }  # fmt: skip
    assert len(policies) == 1
    assert policies.pop().endswith("; connect-src 'self' https://login.example.org")


def test_envoy_config_refuses_half_a_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "envoy-config"],
        env={**os.environ, "MODELGW_HOME": str(tmp_path), "MODELGW_CONSOLE_OIDC_ISSUER": ISSUER},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "MODELGW_CONSOLE_OIDC_CLIENT_ID" in result.stderr and "Traceback" not in result.stderr
