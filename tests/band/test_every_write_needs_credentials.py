"""Every write route of the app, tried anonymously with an empty body: 401 before anything else.

The routes are walked from the app's own url_map (so a route added later is tried too), each
write method (POST, PUT, PATCH, DELETE) with ``{}`` as the body and made-up ids. The answer must be
401 — not 422 (the body validated before the caller was known), not 404 (the id looked up before
the caller was known) — except for the public writes listed below, each with the reason it is
public (docs/rights.md keeps the same list).
"""
from __future__ import annotations

import re

import pytest

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

#: Public writes: (method, rule) -> why no credentials are needed.
PUBLIC_WRITES = {
    ("POST", "/api/beacons"): "playback beacons from any page with the player (navigator.sendBeacon cannot send "
                              "credentials); validated, capped at 32 KiB and rate-limited per client",
    ("POST", "/api/auth/device"): "an app not signed in yet asks for a device code (RFC 8628, a public client); "
                                  "rate-limited per client, the fan approves in WordPress",
    ("POST", "/api/auth/token"): "the app polls with its device code or refresh token, which are its credentials "
                                 "(RFC 8628/6749); rate-limited per client",
}


def _example_path(rule) -> str:
    def value(match: re.Match) -> str:
        converter = match.group(1) or "default"
        return "1" if converter in ("int", "float") else "anything"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", value, rule.rule)


def _write_routes():
    from companion import create_app
    from companion.config import Config

    app = create_app(Config(var_dir="/nonexistent-var-for-url-map", redis_url="redis://127.0.0.1:1/0"))
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods or ()) & set(WRITE_METHODS)):
            routes.append((method, rule.rule, _example_path(rule)))
    return sorted(routes)


ROUTES = _write_routes()


def test_the_walk_finds_the_write_routes():
    rules = {rule for _, rule, _ in ROUTES}
    assert {"/api/tokens", "/api/compositions/", "/api/compositions/<comp_id>/merge", "/api/tracks",
            "/api/beacons"} <= rules
    assert all((m, r) in {(m2, r2) for m2, r2, _ in ROUTES} for m, r in PUBLIC_WRITES), "stale allowlist entry"


@pytest.mark.parametrize("method, rule, path", [r for r in ROUTES if (r[0], r[1]) not in PUBLIC_WRITES],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_an_anonymous_write_is_401_before_its_body_or_ids_are_looked_at(client, method, rule, path):
    r = client.open(path, method=method, json={})
    body = r.get_json(silent=True) or {}
    assert r.status_code == 401, f"{method} {rule}: {r.status_code} {body}"
    assert set(body) == {"status", "code", "message", "details"} and body["status"] == 401


@pytest.mark.parametrize("method, rule", sorted(PUBLIC_WRITES))
def test_public_writes_refuse_an_empty_body_as_invalid_not_as_unauthenticated(client, method, rule):
    r = client.open(rule, method=method, json={})
    assert r.status_code in (400, 422), r.get_json()
