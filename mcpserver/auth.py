"""The MCP server as an OAuth 2 protected resource: the gateway's own JWTs, verified
by the gateway's own verifier (issuer, audience, algorithm and lifetime alike)."""

from __future__ import annotations

import jwt
from mcp.server.auth.provider import AccessToken

from gateway.authn import TokenVerifier as GatewayVerifier
from gateway.config import AuthConfig
from gateway.errors import Unauthenticated, Unavailable


class GatewayTokenVerifier:
    """The SDK's TokenVerifier over gateway.authn.TokenVerifier.

    A token the gateway would refuse is refused here (None: the SDK answers 401
    with a WWW-Authenticate header naming the resource metadata). The verified
    token itself is kept on the AccessToken: every tool calls the gateway with it.
    """

    def __init__(self, config: AuthConfig) -> None:
        self._verifier = GatewayVerifier(config)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The caller a bearer token names, or None when the gateway would refuse it."""
        if not token or len(token) > 16_384 or any(c in token for c in "\r\n\0 "):
            return None
        try:
            principal = await self._verifier.authenticate(f"Bearer {token}")
        except (Unauthenticated, Unavailable):
            return None
        claims = jwt.decode(token, options={"verify_signature": False})
        return AccessToken(
            token=token,
            client_id=principal.user,
            subject=principal.user,
            scopes=[],
            expires_at=int(claims["exp"]),
        )
