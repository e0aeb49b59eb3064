"""/api/ab-tests end to end: a track with variations, listeners assigned deterministically through the
public assignment, exposures and completions sent as real beacons through the stream, the sequential test
looked at as data comes in, the stop rule firing on a real effect, and the winner promoted. Rights and
hostile input refused with the one error shape, nothing written."""
from __future__ import annotations

import json
import random
import time

import pytest
import sqlalchemy as sa

from companion.analytics import ingest
from companion.analytics.models import ABTest, ABVariation


@pytest.fixture
def svc(app):
    return app.extensions["scripthammer"]


def _track(client, auth, title, state="public"):
    r = client.post("/api/tracks", json={"title": title, "release_state": state}, headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def release(client, auth):
    """A released track and two unlisted renderings of it (branch main and branch 'brighter-mix')."""
    return {"track": _track(client, auth, "Variation Song"),
            "b_media": _track(client, auth, "Variation Song (brighter mix)", state="unreleased")}


def _create(client, auth, release, who="ivory", **over):
    body = {"track_id": release["track"], "name": "Brighter mix?", "metric": "completion", "alpha": 0.05,
            "variations": [{"key": "a", "label": "main", "origin": {"branch": "main", "commit": "abc1234"}},
                           {"key": "b", "label": "brighter mix", "media_track_id": release["b_media"],
                            "origin": {"branch": "brighter-mix", "mix": "bright", "seed": 7}}]}
    body.update(over)
    return client.post("/api/ab-tests", json=body, headers=auth(who))


def _counts(svc):
    with svc.db.session() as s:
        return (s.scalar(sa.select(sa.func.count()).select_from(ABTest)),
                s.scalar(sa.select(sa.func.count()).select_from(ABVariation)))


def _listen(client, test_id, track_id, unit, completes: bool, n: int):
    """One listener: ask which variation to hear, hear it, report exposure (and completion)."""
    r = client.get(f"/api/ab-tests/{test_id}/assignment?unit={unit}")
    assert r.status_code == 200, r.get_json()
    var = r.get_json()["variation"]
    now = int(time.time() * 1000)
    events = [{"type": "exposure", "track": track_id, "t": now, "data": {"test": test_id, "variation": var}},
              {"type": "play", "track": track_id, "pos": 0.0, "t": now}]
    if completes:
        events.append({"type": "complete", "track": track_id, "pos": 180.0, "t": now, "data": {"duration": 180.0}})
    r = client.post("/api/beacons", data=json.dumps({"session": unit, "seq": 0, "events": events}),
                    content_type="text/plain", environ_base={"REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})
    assert r.status_code == 202, r.get_json()
    return var


def test_assignment_is_deterministic_balanced_and_public(client, auth, release):
    test = _create(client, auth, release).get_json()
    seen = {}
    for i in range(400):
        unit = f"listener-{i:05d}"
        first = client.get(f"/api/ab-tests/{test['id']}/assignment?unit={unit}").get_json()["variation"]
        again = client.get(f"/api/ab-tests/{test['id']}/assignment?unit={unit}").get_json()["variation"]
        assert first == again
        seen[unit] = first
    share = sum(1 for v in seen.values() if v == "b") / len(seen)
    assert 0.4 < share < 0.6, share
    r = client.get(f"/api/ab-tests/{test['id']}/assignment?unit=listener-00001")
    assert r.get_json()["media_track_id"] in (None, release["b_media"])


def test_a_real_effect_stops_the_test_with_the_right_winner_and_it_is_promoted(svc, client, auth, release):
    r = _create(client, auth, release)
    assert r.status_code == 201, r.get_json()
    test = r.get_json()
    assert [v["key"] for v in test["variations"]] == ["a", "b"] and test["state"] == "running"
    assert test["variations"][1]["origin"] == {"branch": "brighter-mix", "mix": "bright", "seed": 7}
    rng = random.Random(4)
    rates = {"a": 0.25, "b": 0.55}   # the brighter mix is heard to the end far more often
    looks, n = [], 0
    stopped = None
    while n < 1200 and stopped is None:
        for _ in range(100):
            unit = f"fan-{n:06d}-x"
            var = client.get(f"/api/ab-tests/{test['id']}/assignment?unit={unit}").get_json()["variation"]
            _listen(client, test["id"], release["track"], unit, rng.random() < rates[var], n)
            n += 1
        ingest.drain(svc)
        look = client.get(f"/api/ab-tests/{test['id']}", headers=auth("crash")).get_json()
        looks.append(look)
        if look["state"] != "running":
            stopped = look
    assert stopped is not None, looks[-1]
    assert stopped["stop_reason"] == "significant" and stopped["winner"] == "b", stopped
    res = stopped["results"]
    arms = {a["key"]: a for a in res["arms"]}
    assert arms["a"]["exposed"] >= 100 and arms["b"]["exposed"] >= 100
    assert arms["b"]["rate"] > arms["a"]["rate"]
    assert res["comparisons"][0]["significant"] and res["comparisons"][0]["p_value"] <= 0.05
    # p-values only went down from look to look
    ps = [lk["results"]["comparisons"][0]["p_value"] for lk in looks]
    assert ps == sorted(ps, reverse=True)
    # once stopped with a winner, every listener hears it
    for unit in ("fan-new-000001", "fan-new-000002", "fan-new-000003", "fan-new-000004"):
        assert client.get(f"/api/ab-tests/{test['id']}/assignment?unit={unit}").get_json()["variation"] == "b"
    # promoted in one action; a second promotion is refused
    r = client.post(f"/api/ab-tests/{test['id']}/promote", json={}, headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["state"] == "promoted" and r.get_json()["winner"] == "b"
    r = client.post(f"/api/ab-tests/{test['id']}/promote", json={}, headers=auth("ivory"))
    assert r.status_code == 409 and r.get_json()["code"] == "ab_test_promoted"


def test_an_aa_test_through_the_api_does_not_stop_on_noise(svc, client, auth, release):
    test = _create(client, auth, release, name="A/A", variations=[{"key": "a"}, {"key": "a2"}]).get_json()
    rng = random.Random(9)
    for n in range(300):
        _listen(client, test["id"], release["track"], f"aa-{n:06d}-x", rng.random() < 0.4, n)
        if n % 100 == 99:
            ingest.drain(svc)
            look = client.get(f"/api/ab-tests/{test['id']}", headers=auth("crash")).get_json()
            assert look["state"] == "running", look
    assert sum(a["exposed"] for a in look["results"]["arms"]) == 300
    assert look["results"]["looks"] == 3


def test_rights_are_checked_before_the_body(svc, client, auth, release):
    assert _create(client, auth, release, who="listener").status_code == 403
    r = client.post("/api/ab-tests", data="{not json", content_type="application/json")
    assert r.status_code == 401 and r.get_json()["code"] == "auth_required"
    test = _create(client, auth, release).get_json()
    for method, url in (("get", f"/api/ab-tests/{test['id']}"), ("get", "/api/ab-tests"),
                        ("post", f"/api/ab-tests/{test['id']}/stop"), ("post", f"/api/ab-tests/{test['id']}/promote")):
        r = getattr(client, method)(url, headers=auth("listener"), json={})
        assert r.status_code == 403 and r.get_json()["code"] == "missing_right", (url, r.get_json())
        r = getattr(client, method)(url, json={})
        assert r.status_code == 401
    with svc.db.session() as s:
        assert s.get(ABTest, test["id"]).state == "running"


@pytest.mark.parametrize("over, status, code", [
    ({"variations": [{"key": "a"}]}, 422, None),
    ({"variations": [{"key": "a"}, {"key": "a"}]}, 400, "ab_variations"),
    ({"variations": [{"key": "a"}, {"key": "<b>"}]}, 422, None),
    ({"variations": [{"key": "a"}, {"key": "b", "media_track_id": 99999}]}, 400, "ab_variations"),
    ({"variations": [{"key": f"v{i}"} for i in range(9)]}, 422, None),
    ({"metric": "vibes"}, 422, None),
    ({"alpha": 0.5}, 422, None),
    ({"track_id": 99999}, 404, "track_not_found"),
    ({"name": ""}, 422, None),
    ({"variations": [{"key": "a", "origin": {"commit": "not-a-sha; rm -rf"}}, {"key": "b"}]}, 422, None),
])
def test_hostile_test_definitions_are_refused_and_nothing_is_written(svc, client, auth, release, over, status, code):
    r = _create(client, auth, release, **over)
    assert r.status_code == status, r.get_json()
    err = r.get_json()
    assert err["status"] == status and err["message"] and (code is None or err["code"] == code)
    assert _counts(svc) == (0, 0)


def test_one_running_test_per_track_stop_and_promote_rules(svc, client, auth, release):
    test = _create(client, auth, release).get_json()
    r = _create(client, auth, release)
    assert r.status_code == 409 and r.get_json()["code"] == "ab_test_running"
    r = client.post(f"/api/ab-tests/{test['id']}/promote", json={}, headers=auth("ivory"))
    assert r.status_code == 409 and r.get_json()["code"] == "ab_no_winner"
    r = client.post(f"/api/ab-tests/{test['id']}/promote", json={"variation": "b"}, headers=auth("ivory"))
    assert r.status_code == 409 and r.get_json()["code"] == "ab_test_running"
    assert client.post(f"/api/ab-tests/{test['id']}/stop", headers=auth("ivory")).get_json()["state"] == "stopped"
    r = client.post(f"/api/ab-tests/{test['id']}/stop", headers=auth("ivory"))
    assert r.status_code == 409 and r.get_json()["code"] == "ab_test_not_running"
    # stopped without a winner: everyone hears the control
    assert client.get(f"/api/ab-tests/{test['id']}/assignment?unit=anyone-123").get_json()["variation"] == "a"
    r = client.post(f"/api/ab-tests/{test['id']}/promote", json={"variation": "zz"}, headers=auth("ivory"))
    assert r.status_code == 400 and r.get_json()["code"] == "ab_variation_unknown"
    r = client.post(f"/api/ab-tests/{test['id']}/promote", json={"variation": "b"}, headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["winner"] == "b"
    assert client.get(f"/api/ab-tests/{test['id']}/assignment?unit=anyone-123").get_json()["variation"] == "b"
    # a new test may start once the old one is over
    assert _create(client, auth, release).status_code == 201


def test_the_assignment_of_a_draft_or_missing_test_gives_one_answer(client, auth):
    draft = _track(client, auth, "Secret Variations", state="draft")
    test = _create(client, auth, {"track": draft, "b_media": None},
                   variations=[{"key": "a"}, {"key": "b"}]).get_json()
    answers = set()
    for tid in (test["id"], "0" * 32, "nope"):
        r = client.get(f"/api/ab-tests/{tid}/assignment?unit=listener-0001")
        answers.add((r.status_code, r.get_data()))
    assert len(answers) == 1 and next(iter(answers))[0] == 404
    # the band may try it
    r = client.get(f"/api/ab-tests/{test['id']}/assignment?unit=listener-0001", headers=auth("crash"))
    assert r.status_code == 200
    # a hostile unit is refused
    r = client.get(f"/api/ab-tests/{test['id']}/assignment?unit=<script>", headers=auth("crash"))
    assert r.status_code == 422
