"""Fans' timed feedback: who may post, moderate, delete; rate limit and markup; the mapping to the
composition's measures and the studio's comments (companion/analytics/feedback.py)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from companion.access.tokens import make_listener_token
from companion.analytics.models import TrackFeedback
from companion.band.signing import sign


def fan(app, wp_user_id: int, name: str = "") -> dict:
    tok = make_listener_token(app.config["SCRIPTHAMMER"].wp_shared_secret, wp_user_id, display_name=name)
    return {"Authorization": f"Bearer {tok}"}


def signed(app, method: str, path: str, body: dict | None = None) -> dict:
    """Kwargs for the test client: a request signed as WordPress signs it (the companion client)."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = sign(app.config["SCRIPTHAMMER"].wp_shared_secret, method, path, data)
    kw = {"headers": headers}
    if body is not None:
        kw.update(data=data, content_type="application/json")
    return kw


def make_track(client, auth, release_state="public", duration=30.0, link=None, app=None) -> int:
    r = client.post("/api/tracks", json={"title": "Feedback Song", "release_state": release_state},
                    headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    tid = r.get_json()["id"]
    from companion.catalog.models import Track

    with app.extensions["scripthammer"].db.session() as s:
        t = s.get(Track, tid)
        t.duration = duration
        if link:  # what companion/render/publish.py sets when a render is published into the track
            t.composition_id, t.composition_commit = link
    return tid


@pytest.fixture
def track(client, auth, app):
    return make_track(client, auth, app=app)


def test_a_fan_posts_and_sees_it_pending_others_see_it_once_approved(db_kind, app, client, auth, track):
    r = client.post(f"/api/tracks/{track}/feedback", json={"position": 12.5, "emoji": "fire", "text": "that drop!"},
                    headers=fan(app, 7, "Ada"))
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert (made["state"], made["emoji"], made["glyph"], made["text"], made["mine"]) == (
        "pending", "fire", "\U0001F525", "that drop!", True)
    assert made["measure"] is None and made["composition"] is None  # no composition behind this track
    # the author sees their pending item; another fan and anonymous callers do not
    assert [f["id"] for f in client.get(f"/api/tracks/{track}/feedback", headers=fan(app, 7)).get_json()["feedback"]] \
        == [made["id"]]
    assert client.get(f"/api/tracks/{track}/feedback", headers=fan(app, 8)).get_json()["feedback"] == []
    assert client.get(f"/api/tracks/{track}/feedback").get_json()["feedback"] == []
    # WordPress (signed) lists it for moderation and approves it
    path = "/api/feedback?state=pending"
    listed = client.get(path, **signed(app, "GET", path)).get_json()["feedback"]
    assert [(f["id"], f["track_title"], f["position"], f["text"]) for f in listed] == [
        (made["id"], "Feedback Song", 12.5, "that drop!")]
    path = f"/api/feedback/{made['id']}"
    r = client.post(path, **signed(app, "POST", path, {"state": "approved"}))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["moderated_by"] == "wordpress"
    public = client.get(f"/api/tracks/{track}/feedback").get_json()["feedback"]
    assert [(f["position"], f["emoji"], f["author_name"], f["mine"]) for f in public] == [(12.5, "fire", "Ada", False)]
    assert "listener" not in public[0]  # no fan id on the public list
    # hidden: off the waveform again, for everyone but still listed for moderators
    r = client.post(path, **signed(app, "POST", path, {"state": "hidden"}))
    assert r.get_json()["state"] == "hidden"
    assert client.get(f"/api/tracks/{track}/feedback").get_json()["feedback"] == []
    assert client.get(f"/api/tracks/{track}/feedback", headers=fan(app, 7)).get_json()["feedback"] == []


def test_rights_anonymous_members_and_other_fans(app, client, auth, track):
    url = f"/api/tracks/{track}/feedback"
    r = client.post(url, json={"position": 1, "emoji": "heart"})
    assert r.status_code == 401 and r.get_json()["code"] == "auth_required"
    r = client.post(url, json={})  # no body check before the caller is known
    assert r.status_code == 401
    r = client.post(url, json={"position": 1, "emoji": "heart"}, headers=auth("ivory"))
    assert r.status_code == 403 and r.get_json()["code"] == "listeners_only"
    r = client.post(url, json={"position": 1, "emoji": "heart"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    mine = client.post(url, json={"position": 1, "emoji": "heart"}, headers=fan(app, 7)).get_json()
    # a fan cannot moderate (their own or any)
    r = client.post(f"/api/feedback/{mine['id']}", json={"state": "approved"}, headers=fan(app, 7))
    assert r.status_code == 403 and r.get_json()["code"] == "missing_right"
    r = client.get("/api/feedback", headers=fan(app, 7))
    assert r.status_code == 403
    # nor can a member without the right (only the leader and WordPress's client hold it)
    r = client.post(f"/api/feedback/{mine['id']}", json={"state": "approved"}, headers=auth("crash"))
    assert r.status_code == 403
    r = client.post(f"/api/feedback/{mine['id']}", json={"state": "approved"})
    assert r.status_code == 401
    # another fan cannot delete it; its author can
    r = client.delete(f"{url}/{mine['id']}", headers=fan(app, 8))
    assert r.status_code == 403 and r.get_json()["code"] == "not_yours"
    r = client.delete(f"{url}/{mine['id']}")
    assert r.status_code == 401
    with app.extensions["scripthammer"].db.session() as s:
        assert s.get(TrackFeedback, mine["id"]) is not None
    assert client.delete(f"{url}/{mine['id']}", headers=fan(app, 7)).status_code == 204
    with app.extensions["scripthammer"].db.session() as s:
        assert s.get(TrackFeedback, mine["id"]) is None
    # the leader may moderate
    again = client.post(url, json={"position": 2, "emoji": "clap"}, headers=fan(app, 7)).get_json()
    r = client.post(f"/api/feedback/{again['id']}", json={"state": "spam"}, headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["state"] == "spam"
    r = client.post(f"/api/feedback/{again['id']}", json={"state": "pending"}, headers=auth("ivory"))
    assert r.status_code == 422


def test_bad_input_is_refused_and_nothing_is_stored(app, client, auth, track):
    url = f"/api/tracks/{track}/feedback"
    me = fan(app, 9)
    for body, field in [({"position": 3, "text": "<script>alert(1)</script>"}, "text"),
                        ({"position": 3, "text": "bold &amp; brave"}, "text"),
                        ({"position": 3, "emoji": "poop"}, "emoji"),
                        ({"position": -1, "emoji": "fire"}, "position"),
                        ({"position": 3}, None),
                        ({"position": 3, "text": "x" * 281}, "text"),
                        ({"position": 31.0, "emoji": "fire"}, "position")]:  # the track is 30 s
        r = client.post(url, json=body, headers=me)
        assert r.status_code == 422, (body, r.get_json())
        err = r.get_json()
        assert set(err) >= {"code", "message"}
        if field:
            assert field in json.dumps(err), (body, err)
    # a track that is not released, and one that does not exist, answer the same
    draft = make_track(client, auth, release_state="draft", app=app)
    a = client.post(f"/api/tracks/{draft}/feedback", json={"position": 1, "emoji": "fire"}, headers=me)
    b = client.post("/api/tracks/999999/feedback", json={"position": 1, "emoji": "fire"}, headers=me)
    assert a.status_code == b.status_code == 404 and a.get_json() == b.get_json()
    assert client.get(f"/api/tracks/{draft}/feedback").status_code == 404
    with app.extensions["scripthammer"].db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(TrackFeedback)) == 0


def test_rate_limit_per_fan(app_with, auth):
    app = app_with(feedback_rate_limit="3 per minute")
    client = app.test_client()
    tid = make_track(client, lambda who: {"Authorization": f"Bearer {app.test_tokens[who]}"}, app=app)
    url = f"/api/tracks/{tid}/feedback"
    for i in range(3):
        assert client.post(url, json={"position": i, "emoji": "wow"}, headers=fan(app, 11)).status_code == 201
    r = client.post(url, json={"position": 4, "emoji": "wow"}, headers=fan(app, 11))
    assert r.status_code == 429
    err = r.get_json()
    assert err["code"] == "too_much_feedback" and err["details"]["retry_after_seconds"] >= 1
    assert int(r.headers["Retry-After"]) >= 1
    # per fan, not per address: another fan from the same address still may
    assert client.post(url, json={"position": 4, "emoji": "wow"}, headers=fan(app, 12)).status_code == 201
    with app.extensions["scripthammer"].db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(TrackFeedback)) == 4


PARTS = [{"id": "piano", "name": "Piano", "kind": "melody", "owner": "ivory", "program": 0, "channel": 0}]


def make_composition(app, cid="fan-song"):
    """A four-bar 4/4 piece: bars 1-2 at 120 bpm (2 s each), bars 3-4 at 60 bpm (4 s each): 12 s."""
    from companion.band.roster import load_band
    from companion.compositions import service as S
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store

    cfg = app.config["SCRIPTHAMMER"]
    store = Store(cfg.compositions_dir)
    band = app.extensions["scripthammer"].band
    iv = member_actor(band, "ivory")
    r = S.create_composition(store, band, iv, "Fan Song", comp_id=cid, parts=PARTS, measures=4)
    c = S.commit_change(store, band, iv, cid, "main", r["head"], "Tempo", {
        "global": {"measures": {"1": "0 meter 4/4 ; 0 tempo 500000us", "3": "0 tempo 1000000us"}},
        "parts": {"piano": {"measures": {"1": "0 C4 4 v80", "2": "0 D4 4 v80", "3": "0 E4 4 v80",
                                         "4": "0 F4 4 v80"}}}})
    del load_band
    return cid, c["id"]


def test_feedback_maps_to_the_measure_and_reaches_the_studio_once_approved(db_kind, app, client, auth):
    cid, commit = make_composition(app)
    tid = make_track(client, auth, duration=12.5, link=(cid, commit), app=app)
    url = f"/api/tracks/{tid}/feedback"
    made = {}
    for t, want in [(1.0, 1), (2.5, 2), (5.0, 3), (8.5, 4), (12.2, None)]:
        r = client.post(url, json={"position": t, "emoji": "heart", "text": f"at {t}"}, headers=fan(app, 21, "Bo"))
        assert r.status_code == 201, r.get_json()
        f = r.get_json()
        assert (f["composition"], f["version"], f["part"], f["measure"]) == (
            cid, commit, None, want if want else None), (t, f)
        made[t] = f["id"]
    comments = f"/api/studio/{cid}/comments"
    assert client.get(comments, headers=auth("ivory")).get_json() == []  # pending: not in the studio
    for t in (5.0, 8.5, 12.2):
        r = client.post(f"/api/feedback/{made[t]}", json={"state": "approved"}, headers=auth("ivory"))
        assert r.status_code == 200
    got = client.get(comments, headers=auth("ivory")).get_json()
    # the one past the last bar has no measure: on the waveform, not in the studio
    assert [(c["version"], c["part"], c["measure_from"], c["measure_to"], c["fan"], c["author_name"]) for c in got] == [
        (commit, None, 3, 3, True, "Bo"), (commit, None, 4, 4, True, "Bo")]
    assert got[0]["body"].startswith("\u2764\ufe0f at 5.0") and "0:05" in got[0]["body"]
    assert got[0]["author"].startswith("listener:")
    assert client.get(comments, headers=auth("ivory"), query_string={"version": commit}).get_json() == got
    # hidden afterwards: out of the studio too
    assert client.post(f"/api/feedback/{made[5.0]}", json={"state": "hidden"}, headers=auth("ivory")).status_code == 200
    got = client.get(comments, headers=auth("ivory")).get_json()
    assert [c["measure_from"] for c in got] == [4]
    # approving again brings it back (once)
    client.post(f"/api/feedback/{made[5.0]}", json={"state": "approved"}, headers=auth("ivory"))
    client.post(f"/api/feedback/{made[5.0]}", json={"state": "approved"}, headers=auth("ivory"))
    assert sorted(c["measure_from"] for c in client.get(comments, headers=auth("ivory")).get_json()) == [3, 4]
    # the public waveform shows the three approved items by position
    public = client.get(url).get_json()["feedback"]
    assert [f["position"] for f in public] == [5.0, 8.5, 12.2]
