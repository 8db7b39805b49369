"""Single sign-on in a real browser: the console's authorization code flow with
PKCE against a real OpenID Connect provider (NanoIDP, started here under the
OAuth 2.1 profile: public client, S256 PKCE required, exact redirect URI, CORS
for the console's origin only), and a registry that verifies the provider's
tokens against its JWKS, behind its own Envoy."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from gateway.edge.config import EdgeConfig
from tests.gateway.edge.conftest import Edge, start_edge
from tests.harness import Mesh, free_port, start_server, stop_process, wait_serving

pytest.importorskip("nanoidp")

CLIENT_ID = "modelgw-console"
USER, PASSWORD = "ada", "correct horse battery"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[bytes]


def _provider_config(directory: Path, port: int, console_origin: str) -> None:
    settings = {
        "config_version": 1,
        "server": {"host": "127.0.0.1", "port": port},
        "oauth": {
            "issuer": f"http://127.0.0.1:{port}",
            "audience": "modelgw",
            "token_expiry_minutes": 15,
            "require_pkce": True,
            "clients": [{
                "client_id": CLIENT_ID,
                "token_endpoint_auth_method": "none",
                "redirect_uris": [f"{console_origin}/console/"],
            }],
        },
        "security_profile": "oauth21",
        "cors_allowed_origins": [console_origin],
    }  # fmt: skip
    users = {
        "config_version": 1,
        "users": {USER: {"password": PASSWORD, "email": "ada@example.org"}},
    }
    directory.mkdir(parents=True)
    # JSON is YAML: the provider reads these as its settings.yaml and users.yaml.
    (directory / "settings.yaml").write_text(json.dumps(settings), encoding="utf-8")
    (directory / "users.yaml").write_text(json.dumps(users), encoding="utf-8")


def _wait_discovery(provider: Provider, log: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    url = provider.issuer + "/.well-known/openid-configuration"
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            raise RuntimeError(f"the OIDC provider exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the OIDC provider did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def sso(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Edge, Provider]]:
    """A provider, and a registry and an Envoy configured for it (the session mesh's
    execution and admin servers stand behind that Envoy too, as they must be up)."""
    home = tmp_path_factory.mktemp("sso")
    idp_port, envoy_port, registry_port = free_port(), free_port(), free_port()
    origin = f"http://127.0.0.1:{envoy_port}"
    _provider_config(home / "idp", idp_port, origin)
    log = home / "idp.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nanoidp", "--config", str(home / "idp"), "--port", str(idp_port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=home,
        )  # fmt: skip
    provider = Provider(f"http://127.0.0.1:{idp_port}", process)
    env = {
        **mesh.env,
        "MODELGW_HOME": str(home / "gateway"),
        "MODELGW_REGISTRY_PORT": str(registry_port),
        "MODELGW_JWT_JWKS_URL": provider.issuer + "/.well-known/jwks.json",
        "MODELGW_JWT_ISSUER": provider.issuer,
        "MODELGW_JWT_AUDIENCE": "modelgw",
        "MODELGW_ENVOY_PORT": str(envoy_port),
        "MODELGW_ENVOY_ADMIN_PORT": str(free_port()),
        "MODELGW_CONSOLE_OIDC_ISSUER": provider.issuer,
        "MODELGW_CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
        "MODELGW_CONSOLE_OIDC_SCOPE": "openid profile",
    }
    registry = Mesh(
        env=env,
        addresses={"registry": f"127.0.0.1:{registry_port}"},
        logs={"registry": home / "registry.log"},
    )
    try:
        _wait_discovery(provider, log)
        start_server(registry, "registry")
        wait_serving(registry, "registry")
        with start_edge(mesh, EdgeConfig.from_env(env), env) as edge:
            yield edge, provider
    finally:
        for server in registry.processes.values():
            stop_process(server)
        stop_process(process)


def _tab(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context()
    # The provider's pages link a stylesheet on a CDN; this machine has no internet.
    context.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def test_sign_in_with_the_provider_then_out(sso: tuple[Edge, Provider], browser: Any) -> None:
    edge, provider = sso
    context, page, errors = _tab(browser)
    try:
        first = page.goto(edge.url + "/console/#/signin", wait_until="networkidle")
        csp = first.headers["content-security-policy"]
        assert f"connect-src 'self' {provider.issuer}" in csp and "default-src 'self'" in csp

        page.get_by_role(
            "button", name=f"Sign in with 127.0.0.1:{urlsplit(provider.issuer).port}"
        ).click()
        page.wait_for_url(provider.issuer + "/authorize?**")
        asked = parse_qs(urlsplit(page.url).query)
        assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
        assert asked["redirect_uri"] == [edge.url + "/console/"] and asked["client_id"] == [
            CLIENT_ID
        ]
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")

        page.wait_for_url(edge.url + "/console/#/models")
        page.wait_for_function(
            "() => /^\\d+ models?$/.test(document.querySelector('.count')?.textContent || '')"
        )
        assert "code=" not in page.url and "state=" not in page.url
        assert page.locator("#who .user").text_content() == USER
        # What the tab sends is the provider's access token, which the registry accepted.
        held = page.evaluate("() => sessionStorage.getItem('modelgw.token')")
        claims = jwt.decode(held, options={"verify_signature": False})
        assert (
            claims["iss"] == provider.issuer
            and claims["aud"] == "modelgw"
            and claims["sub"] == USER
        )

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(edge.url + "/console/#/signin")
        assert page.evaluate("() => sessionStorage.length") == 0
        assert not errors, errors
    finally:
        context.close()


def test_a_reply_this_tab_did_not_ask_for_is_refused(
    sso: tuple[Edge, Provider], browser: Any
) -> None:
    edge, _ = sso
    context, page, errors = _tab(browser)
    try:
        page.goto(
            edge.url + "/console/?code=stolen-code&state=forged#/models", wait_until="networkidle"
        )
        page.wait_for_url(edge.url + "/console/#/signin")
        notice = page.locator("#notice")
        assert "was not asked for by this tab" in (notice.text_content() or "")
        assert page.evaluate("() => sessionStorage.getItem('modelgw.token')") is None
        assert not errors, errors
    finally:
        context.close()
