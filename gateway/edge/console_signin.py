"""Single sign-on for the web console: OpenID Connect's authorization code flow
with PKCE (RFC 7636), run by the console's own script in the browser.

The console is a public client: it has no secret, so PKCE is what binds the
code to the tab that asked for it. The browser talks to the identity provider
itself (its discovery document and token endpoint), so the console's
Content-Security-Policy must allow connections to the issuer's origin, and the
provider must allow the console's origin (CORS) and its redirect URI
(`<console origin>/console/`). The gateway then verifies the token the console
sends like any other: against the provider's JWKS (MODELGW_JWT_JWKS_URL), with
MODELGW_JWT_ISSUER and MODELGW_JWT_AUDIENCE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from settings import SettingsError

ISSUER = "MODELGW_CONSOLE_OIDC_ISSUER"
CLIENT_ID = "MODELGW_CONSOLE_OIDC_CLIENT_ID"
SCOPE = "MODELGW_CONSOLE_OIDC_SCOPE"
BEARER = "MODELGW_CONSOLE_OIDC_TOKEN"
# Which of the token endpoint's replies the console sends as its bearer token:
# the access token (a JWT whose audience is the API) for most providers, or the
# ID token (whose audience is the client id) for providers with opaque access tokens.
BEARERS = ("access_token", "id_token")


@dataclass(frozen=True)
class OidcSignIn:
    """The identity provider the console's "Sign in with" button goes to."""

    issuer: str
    client_id: str
    scope: str = "openid"
    bearer: str = "access_token"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSignIn | None:
        """MODELGW_CONSOLE_OIDC_ISSUER and _CLIENT_ID (both, or neither: then
        no single sign-on), _SCOPE (default "openid") and _TOKEN."""
        issuer = (env.get(ISSUER) or "").strip()
        client_id = (env.get(CLIENT_ID) or "").strip()
        if not issuer and not client_id:
            return None
        if not issuer or not client_id:
            missing = ISSUER if not issuer else CLIENT_ID
            raise SettingsError(
                f"console single sign-on needs {ISSUER} and {CLIENT_ID}: set {missing}"
            )
        parts = urlsplit(issuer)
        usable = parts.scheme in ("http", "https") and parts.netloc
        if not usable or parts.query or parts.fragment:
            raise SettingsError(
                f"{ISSUER} must be the provider's http(s) issuer URL without query or fragment, "
                f"e.g. https://login.example.org/realms/rd; got {issuer[:100]!r}"
            )
        if not client_id.isprintable() or len(client_id) > 256:
            raise SettingsError(f"{CLIENT_ID} must be 1 to 256 printable characters")
        scope = " ".join((env.get(SCOPE) or "openid").split())
        if "openid" not in scope.split(" "):
            raise SettingsError(f"{SCOPE} must include 'openid' (it is an OpenID Connect sign-in)")
        bearer = (env.get(BEARER) or "access_token").strip()
        if bearer not in BEARERS:
            raise SettingsError(f"{BEARER}={bearer[:40]!r}: use access_token or id_token")
        return cls(issuer=issuer.rstrip("/"), client_id=client_id, scope=scope, bearer=bearer)

    @property
    def origin(self) -> str:
        """The issuer's scheme://host[:port]: what the CSP lets the console connect to."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    def settings(self) -> dict[str, Any]:
        """What /console/settings.json tells the page."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scope": self.scope,
            "token": self.bearer,
        }
