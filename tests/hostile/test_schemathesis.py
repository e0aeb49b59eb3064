"""schemathesis against the companion's own OpenAPI document, bounded, with and without tokens.

Every operation gets generated requests (valid ones and invalid ones) as an anonymous caller and as a
band member; every answer must be what the document declares: no undeclared 5xx, the declared status
codes, content types, headers and bodies (the one error shape included). The runner is
bench/schemathesis_run.py's (bench/faults.py reports its "schemathesis_5xx").
"""
from __future__ import annotations

import json

from bench.schemathesis_run import GENEROUS_LIMITS, run

import pytest

#: generated cases per operation, per caller and per mode (valid / invalid data): bounded for CI (about
#: 600 requests; bench/schemathesis_run.py runs more)
EXAMPLES = 2


@pytest.mark.timeout(1500)
def test_schemathesis_finds_nothing(app_with):
    app = app_with(**GENEROUS_LIMITS)
    member = next(k for k in app.test_tokens if k != "listener")
    report = run(app, {"anonymous": {}, "member": {"Authorization": f"Bearer {app.test_tokens[member]}"}},
                 max_examples=EXAMPLES)
    assert report.requests > 250, report.requests  # it did explore the API
    lines = "\n".join(f.line() for f in report.distinct())
    assert report.server_errors == 0 and not report.findings, f"{len(report.findings)} findings:\n{lines}"


def test_error_shape_is_declared_once_and_matches_the_errors(client):
    """The document's error schema is the one the errors have: status an integer, code a string."""
    spec = client.get("/api/openapi.json").get_json()
    schema = spec["components"]["schemas"]["Error"]
    assert schema["properties"]["status"]["type"] == "integer"
    assert schema["properties"]["code"]["type"] == "string"
    assert set(schema["required"]) == {"status", "code", "message", "details"}
    body = client.get("/api/tracks/424242").get_json()
    assert set(body) == {"status", "code", "message", "details"} and body["status"] == 404


def test_huge_integers_are_refused_not_crashed(client, auth):
    big = 2 ** 70
    for url in (f"/api/tracks?album_id={big}", f"/api/tracks/{big}", f"/embed/track/{big}",
                f"/api/samples/{big}/audition"):
        r = client.get(url, headers=auth("listener"))
        assert r.status_code in (404, 422), (url, r.status_code, r.data[:200])
        assert r.is_json and r.get_json()["status"] == r.status_code
    r = client.post("/api/tokens", json={"role": "listener", "expires_in_minutes": big}, headers=auth(_member(client)))
    assert r.status_code == 422, r.data


def _member(client) -> str:
    return next(k for k in client.application.test_tokens if k != "listener")


def test_405_names_the_allowed_methods(client):
    r = client.delete("/api/health")
    assert r.status_code == 405
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert r.get_json()["code"] == "method_not_allowed"


def test_date_times_carry_a_timezone(client, auth):
    r = client.get("/api/tokens", headers=auth(_member(client)))
    assert r.status_code == 200
    created = r.get_json()[0]["created_at"]
    assert created.endswith("+00:00") or created.endswith("Z"), created


def test_spec_has_no_formdata_and_declares_security_and_content_types(client):
    spec = client.get("/api/openapi.json").get_json()
    text = json.dumps(spec)
    assert '"formData"' not in text
    imp = spec["paths"]["/api/compositions/import"]["post"]
    assert "file" in imp["requestBody"]["content"]["multipart/form-data"]["schema"].get("properties", {}) or \
        "ImportForm" in json.dumps(imp["requestBody"])
    for path, item in spec["paths"].items():
        if path.startswith(("/api/compositions", "/api/render", "/api/algorithms")):
            for method, op in item.items():
                if method in ("get", "post", "delete", "patch", "put"):
                    assert op.get("security"), (method, path)
    assert "text/html" in spec["paths"]["/embed/track/{track_id}"]["get"]["responses"]["200"]["content"]


def test_huge_ids_in_a_webhook_are_refused_not_crashed(client, app):
    """A signed WooCommerce body whose ids do not fit a BIGINT is a 400, and nothing is stored."""
    from companion.commerce.webhooks import webhook_secret
    from tests.commerce import payloads

    doc = payloads.order(2 ** 70, "completed", [payloads.line_item(2 ** 70, None)], customer_id=2 ** 70)
    body = payloads.body_of(doc)
    secret = webhook_secret(app.extensions["scripthammer"].config)
    r = client.post("/api/commerce/woocommerce/webhook", data=body, headers=payloads.headers(secret, body, "order.updated"))
    assert r.status_code == 400 and r.get_json()["code"] == "bad_payload", r.get_json()


def test_unicode_digits_are_not_numbers(client, auth):
    """'²'.isdigit() is True in Python, int('²') fails: a timestamp, an expiry or an id of such digits is
    refused as malformed, never a 500."""
    from companion.band.signing import sign

    headers = sign("test-shared-secret", "POST", "/api/wordpress/ping")
    headers["X-ScriptHammer-Timestamp"] = "²" + headers["X-ScriptHammer-Timestamp"][1:]
    r = client.post("/api/wordpress/ping", headers=headers)
    assert r.status_code == 401 and r.get_json()["code"] == "signature_malformed", r.get_json()
    r = client.get("/media/hls/ab/x.m3u8?exp=²³&lid=l.1&sig=" + "0" * 32)
    assert r.status_code in (401, 403, 404) and r.is_json, (r.status_code, r.data[:200])
    member = next(k for k in client.application.test_tokens if k != "listener")
    r = client.post("/api/entitlements", json={"wp_user_id": 5, "scope": "track:²"}, headers=auth(member))
    assert r.status_code in (400, 422), r.get_json()
