"""Every route is rate-limited for a caller without credentials (and for one with made-up ones):
the limit answers 429 in the one JSON error shape, with Retry-After, before the view runs."""
from __future__ import annotations

import re

import pytest

LIMIT = "2 per minute"


def _url(rule) -> str:
    """A URL of ``rule`` with its arguments filled in (ints 1, paths and strings a name)."""
    values = {name: 1 if "Int" in type(conv).__name__ else ("x.m3u8" if "Path" in type(conv).__name__ else "x")
              for name, conv in rule._converters.items()}
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD"}):
            if method == "OPTIONS" and rule.endpoint != "analytics.Beacons":
                continue  # Flask's automatic OPTIONS (CORS preflight); the beacons declare their own
            yield rule, method


@pytest.fixture
def limited(app_with):
    return app_with(public_rate_limit=LIMIT)


def test_every_route_is_limited_for_anonymous_callers(limited):
    client = limited.test_client()
    routes = list(_routes(limited))
    assert len(routes) > 60
    unlimited = []
    for rule, method in routes:
        url = _url(rule)
        answers = [client.open(url, method=method, json={} if method in ("POST", "PATCH", "PUT") else None)
                   for _ in range(3)]
        last = answers[-1]
        if last.status_code != 429:
            unlimited.append(f"{method} {rule.rule} -> {[a.status_code for a in answers]}")
            continue
        body = last.get_json()
        assert body["status"] == 429 and body["code"] and body["message"], (rule.rule, body)
        assert int(last.headers["Retry-After"]) >= 1, rule.rule
        assert body["details"]["retry_after_seconds"] >= 1
    assert not unlimited, "routes without a limit:\n" + "\n".join(unlimited)


def test_a_made_up_token_does_not_lift_the_limit(limited):
    client = limited.test_client()
    answers = [client.get("/api/health", headers={"Authorization": f"Bearer made-up-{i}"}) for i in range(3)]
    assert answers[-1].status_code == 429


def test_the_limit_is_per_client_address(limited):
    client = limited.test_client()
    for _ in range(3):
        client.get("/oembed?url=x")
    assert client.get("/oembed?url=x").status_code == 429
    other = client.get("/oembed?url=x", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code != 429


def test_default_limit_is_generous(app):
    """A listener's player (embed page, playlist, segments, peaks, beacons) never comes near the default."""
    client = app.test_client()
    codes = {client.get("/api/health").status_code for _ in range(60)}
    assert 429 not in codes
    from limits import parse_many

    limits = parse_many(app.config["SCRIPTHAMMER"].public_rate_limit)
    per_minute = min(item.amount * 60 / item.get_expiry() for item in limits)
    assert per_minute >= 600
