"""The http kind's config: a model on an Open Inference Protocol v2 server.

  {"url": "http://host:port", "model_name": "m", "model_version": "1", "timeout_s": 30}
(model_version and timeout_s optional).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from backendspec.base import BackendSpecError, reject_unknown_keys, require_mapping

HTTP_CONFIG_KEYS = ("url", "model_name", "model_version", "timeout_s")


def check_http_config(config: object) -> None:
    checked = require_mapping(config)
    reject_unknown_keys("http", checked, HTTP_CONFIG_KEYS)
    _check_url(checked.get("url"))
    name = checked.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise BackendSpecError(
            "http backend config key 'model_name' is required: the model's name on the "
            "inference server"
        )
    version = checked.get("model_version")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise BackendSpecError("http backend config key 'model_version' must be a non-empty string")
    timeout = checked.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600
    ):
        raise BackendSpecError(
            "http backend config key 'timeout_s' must be a number of seconds in (0, 3600]"
        )


def _check_url(url: object) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendSpecError(
            "http backend config key 'url' is required: the inference server's base URL, "
            "for example 'http://triton:8000'"
        )
    if parts.query or parts.fragment:
        raise BackendSpecError("http backend config key 'url' must have no query or fragment")
