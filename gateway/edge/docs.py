"""Swagger UI at /docs, served offline from the swagger-ui-bundle-v2 wheel.

Envoy serves these files itself (direct responses read at start-up), so the docs
need no process of their own. The page is ours: the bundle's index.html points at
the Petstore, ours at /openapi.json and keeps the bearer token across reloads.
"""

from __future__ import annotations

from pathlib import Path

from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"

# File of the bundle -> its content type. Only what the page loads.
STATIC_FILES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "index.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Model Gateway API</title>
  <link rel="stylesheet" type="text/css" href="{docs}/swagger-ui.css">
  <link rel="stylesheet" type="text/css" href="{docs}/index.css">
  <link rel="icon" type="image/png" href="{docs}/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="{docs}/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{docs}/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="{docs}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {{
      window.ui = SwaggerUIBundle({{
        url: "{openapi}",
        dom_id: "#swagger-ui",
        deepLinking: true,
        persistAuthorization: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl],
        layout: "StandaloneLayout"
      }});
    }};
  </script>
</body>
</html>
"""


def static_dir() -> Path:
    """The bundle's directory of Swagger UI files."""
    return Path(str(swagger_ui_path))


def write_page(path: Path) -> Path:
    """Writes the Swagger UI page that loads /openapi.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PAGE.format(docs=DOCS_PATH, openapi=OPENAPI_PATH), encoding="utf-8")
    return path
