"""Who a tool acts for: a gateway client holding the caller's own token, never more."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError

from modelgw import AsyncClient


class Callers:
    """Hands out clients sharing one channel to the gateway, one token each.

    Over HTTP the token is the one the request was authenticated with; over stdio
    (one local user) it is the `fixed_token` the server was started with.
    """

    def __init__(self, client: AsyncClient, fixed_token: str | None = None) -> None:
        self._client = client
        self._fixed_token = fixed_token

    def client(self) -> AsyncClient:
        """A client acting as the caller of the current request."""
        access = get_access_token()
        token = access.token if access is not None else self._fixed_token
        if not token:
            raise ToolError(
                "not authenticated: send 'Authorization: Bearer <token>' (over stdio, set "
                "MODELGW_TOKEN; get a local token with `modelgw token create --user NAME`)"
            )
        return self._client.with_token(token)
