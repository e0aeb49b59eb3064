"""The one error shape, including the answers that used to leave things out (413's limit)."""
from __future__ import annotations

import json

from tests.band.test_signed_requests import CountingStream


def test_a_body_over_the_global_limit_gets_413_stating_the_limit(app_with):
    application = app_with(max_upload_mb=1)
    client = application.test_client()
    h = {"Authorization": "Bearer " + application.test_tokens["ivory"], "Content-Type": "application/json"}
    body = CountingStream(3 * 1024 * 1024)
    r = client.post("/api/tokens", input_stream=body, headers=h)
    assert r.status_code == 413
    err = r.get_json()
    assert set(err) == {"status", "code", "message", "details"}
    assert err["code"] == "payload_too_large" and err["details"]["limit_bytes"] == 1024 * 1024
    assert "1 MiB" in err["message"] and "1048576 bytes" in err["message"]
    assert body.read_bytes == 0


def test_payload_too_large_over_states_its_limit():
    from companion.errors import PayloadTooLarge, describe_bytes

    err = PayloadTooLarge.over("A thing", 1536, code="thing_too_large", kind="x")
    assert err.to_dict() == {"status": 413, "code": "thing_too_large",
                             "message": "A thing may be at most 1.5 KiB (1536 bytes).",
                             "details": {"limit_bytes": 1536, "kind": "x"}}
    assert [describe_bytes(n) for n in (10, 8 << 20, 1 << 30)] == ["10 bytes", "8 MiB", "1 GiB"]


def test_domain_errors_of_every_room_take_the_one_shape(client, auth):
    r = client.post("/api/compositions/", headers=auth("ivory"), json={"title": "Shape", "parts": [
        {"id": "p", "kind": "no-such-kind"}]})
    assert r.status_code == 400 and set(r.get_json()) == {"status", "code", "message", "details"}
    r = client.post("/api/beacons", data=json.dumps({"session": "x"}), content_type="text/plain")
    assert r.status_code == 422 and set(r.get_json()) == {"status", "code", "message", "details"}
