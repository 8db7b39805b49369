"""The web console at /console: static HTML, CSS and ES modules from console/,
served by Envoy itself (direct responses read at start-up), like /docs.

Every console response carries a Content-Security-Policy of `default-src
'self'`: no inline script or style, no other origin, so text a user wrote can
never run as script even if it reached the page as markup (it does not: the
console builds every element from data, never from HTML strings). With single
sign-on configured, the one other origin is the identity provider's, and only
for fetch (its discovery document and token endpoint).
"""

from __future__ import annotations

import json
from pathlib import Path

from gateway.edge.console_signin import OidcSignIn

CONSOLE_PATH = "/console"
CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


def console_files(root: Path = CONSOLE_DIR) -> dict[str, tuple[Path, str]]:
    """URL path -> (file, content type) of every file the console serves."""
    files = {
        f"{CONSOLE_PATH}/{path.relative_to(root).as_posix()}": (path, CONTENT_TYPES[path.suffix])
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in CONTENT_TYPES
    }
    index = root / "index.html"
    files[CONSOLE_PATH] = files[f"{CONSOLE_PATH}/"] = (index, CONTENT_TYPES[".html"])
    return files


def security_headers(oidc: OidcSignIn | None) -> dict[str, str]:
    """The headers of every console response: the CSP, and no sniffing or referrer
    (a sign-in's code is in the address bar until the page removes it)."""
    csp = CSP if oidc is None else f"{CSP}; connect-src 'self' {oidc.origin}"
    return {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


def write_settings(path: Path, superuser_claim: str, oidc: OidcSignIn | None = None) -> Path:
    """/console/settings.json: what the pages need to know of this deployment.
    The superuser claim only decides which controls a page shows; the API decides
    what a caller may do. `oidc`: the provider of the "Sign in with" button."""
    settings: dict[str, object] = {"superuser_claim": superuser_claim}
    if oidc is not None:
        settings["oidc"] = oidc.settings()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings) + "\n", encoding="utf-8")
    return path
