"""Every registry REST route through a real Envoy: success and the errors, each
as JSON {code, message, details} with the HTTP status mapped from the gRPC code."""

from __future__ import annotations

import json
import subprocess

import pytest
from google.protobuf import json_format

from tests.harness import Fixture, any_object_version, unique_name

from .conftest import Edge

pytestmark = pytest.mark.usefixtures("edge")


def _version(version: str) -> dict[str, object]:
    return json_format.MessageToDict(any_object_version(version), preserving_proto_field_name=True)


def _assert_error(reply: tuple[int, object], status: int, code: int) -> dict[str, object]:
    got_status, body = reply
    assert got_status == status, body
    assert isinstance(body, dict), body
    assert body["code"] == code
    assert body["message"]
    assert body["details"] == []
    return body


def test_create_get_list_and_delete_a_model(edge: Edge) -> None:
    su = edge.bearer("root", superuser=True)
    name = unique_name("rest")
    status, created = edge.call("POST", "/v1/models", {"name": name, "tags": [name]}, headers=su)
    assert status == 200, created
    # proto field names, every field printed, enums as names, timestamps as RFC 3339
    assert created["model"]["visibility"] == "VISIBILITY_PRIVATE"
    assert created["model"]["resolved_version"] == ""
    assert created["model"]["create_time"].endswith("Z")
    status, got = edge.call("GET", f"/v1/models/{name}", headers=su)
    assert (status, got["model"]["name"]) == (200, name)
    status, listed = edge.call("GET", f"/v1/models?tag={name}&page_size=5", headers=su)
    assert status == 200
    assert [m["name"] for m in listed["models"]] == [name]
    assert edge.call("DELETE", f"/v1/models/{name}", headers=su) == (200, {})
    _assert_error(edge.call("GET", f"/v1/models/{name}", headers=su), 404, 5)
    _assert_error(edge.call("DELETE", f"/v1/models/{name}", headers=su), 404, 5)


def test_create_model_errors(edge: Edge) -> None:
    name = unique_name("rest")
    owner = edge.bearer("olga")
    _assert_error(edge.call("POST", "/v1/models", {"name": name}), 401, 16)
    _assert_error(edge.call("POST", "/v1/models", {"name": name}, headers=owner), 403, 7)
    su = edge.bearer("root", superuser=True)
    _assert_error(edge.call("POST", "/v1/models", {"name": "Not A Name"}, headers=su), 400, 3)
    assert edge.call("POST", "/v1/models", {"name": name}, headers=su)[0] == 200
    _assert_error(edge.call("POST", "/v1/models", {"name": name}, headers=su), 409, 6)


def test_update_model_with_update_mask(edge: Edge, model: Fixture) -> None:
    owner = edge.bearer(model.owner)
    path = f"/v1/models/{model.name}?update_mask=description,tags"
    status, body = edge.call("PATCH", path, {"description": "new", "tags": ["x"]}, headers=owner)
    assert status == 200, body
    assert (body["model"]["description"], body["model"]["tags"]) == ("new", ["x"])
    reader = edge.bearer(model.reader)
    _assert_error(edge.call("PATCH", path, {"description": "no"}, headers=reader), 403, 7)
    no_mask = f"/v1/models/{model.name}"
    _assert_error(edge.call("PATCH", no_mask, {"description": "no"}, headers=owner), 400, 3)


def test_model_limits_over_rest(edge: Edge, model: Fixture) -> None:
    owner = edge.bearer(model.owner)
    path = f"/v1/models/{model.name}?update_mask=limits.maxQueuedJobs"
    status, body = edge.call("PATCH", path, {"limits": {"max_queued_jobs": 7}}, headers=owner)
    assert status == 200, body
    assert body["model"]["limits"]["max_queued_jobs"] == 7
    assert body["model"]["effective_limits"]["max_queued_jobs"] == 7
    above = edge.call("PATCH", path, {"limits": {"max_queued_jobs": 10**9}}, headers=owner)
    assert "above its cap" in str(_assert_error(above, 400, 3)["message"])
    caps = f"/v1/models/{model.name}?update_mask=limit_caps"
    _assert_error(edge.call("PATCH", caps, {"limit_caps": {"max_queued_jobs": 5}}, headers=owner), 403, 7)


def test_versions_routes(edge: Edge, model: Fixture) -> None:
    owner, reader = edge.bearer(model.owner), edge.bearer(model.reader)
    base = f"/v1/models/{model.name}/versions"
    status, created = edge.call("POST", base, _version("3.0.0"), headers=owner)
    assert status == 200, created
    assert created["version"]["input_schema"]["required"] == ["smiles"]
    status, got = edge.call("GET", f"{base}/3.0.0", headers=reader)
    assert (status, got["version"]["version"], got["resolved"]) == (200, "3.0.0", False)
    status, listed = edge.call("GET", f"{base}?page_size=2", headers=reader)
    assert [v["version"] for v in listed["versions"]] == ["1.0.0", "2.0.0"]
    assert listed["next_page_token"]
    _assert_error(edge.call("GET", f"{base}/9.9.9", headers=reader), 404, 5)
    _assert_error(edge.call("POST", base, _version("4.0.0"), headers=reader), 403, 7)
    _assert_error(edge.call("POST", base, _version("3.0.0"), headers=owner), 409, 6)


def test_default_version_and_visibility(edge: Edge, model: Fixture) -> None:
    owner = edge.bearer(model.owner)
    path = f"/v1/models/{model.name}:setDefaultVersion"
    status, body = edge.call("POST", path, {"version": "1.0.0"}, headers=owner)
    assert (status, body["model"]["resolved_version"]) == (200, "1.0.0")
    _assert_error(edge.call("POST", path, {"version": "7.0.0"}, headers=owner), 404, 5)
    stranger = edge.bearer(unique_name("trudy"))
    _assert_error(edge.call("GET", f"/v1/models/{model.name}", headers=stranger), 404, 5)
    visibility = f"/v1/models/{model.name}:setVisibility"
    status, body = edge.call("POST", visibility, {"visibility": "VISIBILITY_PUBLIC"}, headers=owner)
    assert (status, body["model"]["visibility"]) == (200, "VISIBILITY_PUBLIC")
    assert edge.call("GET", f"/v1/models/{model.name}", headers=stranger)[0] == 200
    _assert_error(edge.call("POST", visibility, {"visibility": "PURPLE"}, headers=owner), 400, 3)


def test_grant_revoke_and_list_access(edge: Edge, model: Fixture) -> None:
    owner = edge.bearer(model.owner)
    rita = unique_name("rita")
    grant = {"user": rita, "role": "ACCESS_ROLE_READER"}
    status, body = edge.call("POST", f"/v1/models/{model.name}:grantAccess", grant, headers=owner)
    assert status == 200, body
    assert rita in body["model"]["readers"]
    status, access = edge.call("GET", f"/v1/models/{model.name}/access", headers=owner)
    assert status == 200
    assert {"user": rita, "role": "ACCESS_ROLE_READER"} in access["grants"]
    _assert_error(
        edge.call("GET", f"/v1/models/{model.name}/access", headers=edge.bearer(rita)), 403, 7
    )
    owner_grant = {"user": rita, "role": "ACCESS_ROLE_OWNER"}
    _assert_error(
        edge.call("POST", f"/v1/models/{model.name}:grantAccess", owner_grant, headers=owner),
        403,
        7,
    )
    revoke = f"/v1/models/{model.name}:revokeAccess"
    status, body = edge.call("POST", revoke, grant, headers=owner)
    assert (status, rita in body["model"]["readers"]) == (200, False)
    _assert_error(edge.call("POST", revoke, grant, headers=owner), 404, 5)
    status, history = edge.call("GET", f"/v1/models/{model.name}/history?page_size=2", headers=owner)
    assert status == 200 and history["next_page_token"]
    assert [
        {k: e.get(k, "") for k in ("kind", "actor", "from_value", "to_value", "user")}
        for e in history["events"]
    ] == [
        {"kind": "MODEL_HISTORY_KIND_REVOKE", "actor": model.owner, "from_value": "reader", "to_value": "", "user": rita},
        {"kind": "MODEL_HISTORY_KIND_GRANT", "actor": model.owner, "from_value": "", "to_value": "reader", "user": rita},
    ]
    _assert_error(
        edge.call("GET", f"/v1/models/{model.name}/history?page_token=x", headers=owner), 400, 3
    )


def test_envoys_own_errors_are_json(edge: Edge) -> None:
    su = edge.bearer("root", superuser=True)
    _assert_error(edge.call("GET", "/v1/nothing/here", headers=su), 404, 5)
    _assert_error(edge.call("PUT", "/v1/models", {}, headers=su), 404, 5)
    _assert_error(edge.call("GET", "/v1/models?colour=red", headers=su), 400, 3)
    _assert_error(edge.call("POST", "/v1/models", raw=b'{"name": ', headers=su), 400, 3)


def test_an_oversized_body_is_refused(edge: Edge) -> None:
    su = edge.bearer("root", superuser=True)
    body = {"name": unique_name("big"), "description": "x" * (2 * 1024 * 1024)}
    _assert_error(edge.call("POST", "/v1/models", body, headers=su), 413, 8)


def _curl(edge: Edge, *args: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    text, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(text)


def test_curl_as_a_user_would(edge: Edge) -> None:
    name = unique_name("curl")
    su = f"authorization: Bearer {edge.mesh.token('root', superuser=True)}"
    status, created = _curl(
        edge, "-H", su, "-H", "content-type: application/json",
        "-d", json.dumps({"name": name, "description": "via curl"}), f"{edge.url}/v1/models",
    )  # fmt: skip
    assert (status, created["model"]["name"]) == (200, name)
    status, got = _curl(edge, "-H", su, f"{edge.url}/v1/models/{name}")
    assert (status, got["model"]["description"]) == (200, "via curl")
    # No token: the server's own message comes back, so the header really is forwarded.
    status, denied = _curl(edge, f"{edge.url}/v1/models/{name}")
    assert (status, denied["code"]) == (401, 16)
    assert "missing credentials" in str(denied["message"])
    status, bad = _curl(
        edge, "-H", "authorization: Bearer not-a-jwt", f"{edge.url}/v1/models/{name}"
    )
    assert (status, bad["code"]) == (401, 16)


def test_search_models_over_rest(edge: Edge) -> None:
    su = edge.bearer("root", superuser=True)
    tag, name = unique_name("rest"), unique_name("rest")
    model = {"name": name, "tags": [tag, "chemistry"], "description": "Aqueous solubility, fast."}
    assert edge.call("POST", "/v1/models", model, headers=su)[0] == 200
    path = f"/v1/models:search?q=aqueous%20solubility&tags=chemistry&tags={tag}"
    status, body = edge.call("GET", path, headers=su)
    assert status == 200, body
    [hit] = body["hits"]
    assert hit["model"]["name"] == name and hit["score"] > 0
    assert "[Aqueous] [solubility]" in hit["snippet"]
    assert hit["matched_fields"] == ["description"]
    assert body["next_page_token"] == ""
    stranger = edge.bearer("stranger")
    assert edge.call("GET", path, headers=stranger) == (200, {"hits": [], "next_page_token": ""})
    _assert_error(edge.call("GET", "/v1/models:search?page_size=500", headers=su), 400, 3)
