"""A fan's personal data: WordPress's export and erasure tools ask the companion (companion/privacy).

WordPress's part is played by signed requests here (the plugin's scheme, companion/band/signing.py);
tests/wordpress/test_privacy.py runs the same through a real WordPress's exporter and eraser.
"""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from companion.access import service as access
from companion.access.models import DeviceAuthorization, Entitlement, Listener
from companion.access.tokens import make_listener_token
from companion.analytics.models import TrackFeedback
from companion.band.signing import sign
from companion.catalog.models import Track
from companion.commerce.models import CommerceResource, WebhookDelivery
from companion.live.models import LiveSession, LiveVote
from companion.notify.models import PushSubscription
from companion.rights.models import Delivery, Edition, EditionSeries, Licence
from companion.studio.models import CompositionComment

A, B = 41, 42


def _signed(app, client, path: str, body, secret: str | None = None):
    raw = json.dumps(body).encode()
    secret = app.extensions["scripthammer"].config.wp_shared_secret if secret is None else secret
    headers = sign(secret, "POST", path, raw)
    headers["Content-Type"] = "application/json"
    return client.post(path, data=raw, headers=headers)


def seed_fan(svc, wp_user_id: int, name: str, track_id: int, series_id: int) -> dict:
    """One fan with something of every kind the companion keeps about fans; returns what to look for."""
    tag = f"fan{wp_user_id}"
    with svc.db.session() as s:
        fan = access.listener_for(s, wp_user_id, name)
        access.upsert(s, listener=fan, source="purchase", source_ref=f"wc-order:{wp_user_id}00", scope=f"track:{track_id}")
        comment = CompositionComment(composition="song", version="abc", measure_from=3, measure_to=3,
                                     author=f"fan:{fan.id}", author_name=name, fan=True, body=f"{tag} loves bar 3")
        s.add(comment)
        s.flush()
        s.add(TrackFeedback(track_id=track_id, listener_id=fan.id, author_name=name, position=12.5, emoji="🔥",
                            text=f"{tag} loves bar 3", state="approved", comment_id=comment.id))
        s.add(PushSubscription(listener_id=fan.id, endpoint_hash=tag.ljust(64, "0"),
                               endpoint=f"https://push.example.test/{tag}", p256dh="k" * 87, auth="a" * 22,
                               topics=["releases"]))
        s.add(DeviceAuthorization(device_code_hash=(tag + "d").ljust(64, "0"), user_code=f"CODE{wp_user_id}",
                                  client_id="scripthammer-app", status="used", wp_user_id=wp_user_id,
                                  expires_at=dt.datetime(2030, 1, 1), refresh_hash=(tag + "r").ljust(64, "0"),
                                  refresh_expires_at=dt.datetime(2030, 1, 1)))
        key = f"marked/{tag}.mp3"
        svc.store.put_bytes(key, b"marked audio for " + tag.encode())
        s.add(Delivery(mark=wp_user_id * 1000, listener_id=fan.id, track_id=track_id, format="mp3-320",
                       order_ref=f"wc-order:{wp_user_id}00", key=key))
        s.add(CommerceResource(kind="order", wc_id=wp_user_id * 100, status="completed", customer_id=wp_user_id,
                               scopes=[f"track:{track_id}"]))
        s.add(WebhookDelivery(body_sha256=tag.ljust(64, "0"), delivery_id=tag, topic="order.updated", resource="order",
                              resource_id=wp_user_id * 100, state="applied",
                              payload={"id": wp_user_id * 100, "customer_id": wp_user_id,
                                       "billing": {"email": f"{tag}@example.test", "first_name": name}}))
        live = LiveSession(status="ended", started_by="ivory")
        s.add(live)
        s.flush()
        s.add(LiveVote(session_id=live.id, round=1, voter=f"l.{fan.id}", parameter="tempo", value=f"{tag}-faster"[:40]))
        s.add(Edition(series_id=series_id, number=wp_user_id, owner=f"wp:{wp_user_id}"))
        s.add(Licence(id=f"lic{wp_user_id}", owner=f"wp:{wp_user_id}", member="leader", algorithm="arp",
                      tier="personal", document={"owner": f"wp:{wp_user_id}"}))
        return {"listener_id": fan.id, "tag": tag, "key": key, "comment_id": comment.id}


@pytest.fixture
def world(app):
    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        track = Track(slug="privacy-song", title="Privacy Song", release_state="released")
        series = EditionSeries(work="song@abc", title="Song", count=100)
        s.add_all([track, series])
        s.flush()
        track_id, series_id = track.id, series.id
    fans = {A: seed_fan(svc, A, "Ada Fan", track_id, series_id), B: seed_fan(svc, B, "Bob Fan", track_id, series_id)}
    return app, svc, fans


def _export_all(app, client, wp_user_id, per_page=100) -> list[dict]:
    items, page = [], 1
    while True:
        r = _signed(app, client, "/api/privacy/export", {"wp_user_id": wp_user_id, "page": page, "per_page": per_page})
        assert r.status_code == 200, r.get_json()
        assert r.headers["Cache-Control"] == "no-store"
        got = r.get_json()
        items += got["data"]
        if got["done"]:
            return items
        page += 1


def _flat(items) -> str:
    return json.dumps(items, ensure_ascii=False)


def _holdings(svc, wp_user_id: int, listener_id: int) -> dict:
    """What the database holds linked to one fan, by kind."""
    with svc.db.session() as s:
        def count(model, *where):
            return s.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
        return {
            "listener": count(Listener, Listener.wp_user_id == wp_user_id),
            "entitlements": count(Entitlement, Entitlement.listener_id == listener_id),
            "feedback": count(TrackFeedback, TrackFeedback.listener_id == listener_id),
            "push": count(PushSubscription, PushSubscription.listener_id == listener_id),
            "votes": count(LiveVote, LiveVote.voter == f"l.{listener_id}"),
            "devices": count(DeviceAuthorization, DeviceAuthorization.wp_user_id == wp_user_id),
            "downloads": count(Delivery, Delivery.listener_id == listener_id),
            "orders": count(CommerceResource, CommerceResource.customer_id == wp_user_id),
        }


@pytest.mark.parametrize("config", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_export_holds_the_fans_data_and_erasure_leaves_nothing_of_theirs(world):
    app, svc, fans = world
    client = app.test_client()
    items = _export_all(app, client, A, per_page=3)  # paginated: several pages, nothing lost or repeated
    assert len({i["item_id"] for i in items}) == len(items)
    text = _flat(items)
    for needle in ("Ada Fan", "fan41 loves bar 3", "🔥", "https://push.example.test/fan41", "scripthammer-app",
                   "mp3-320", "wc-order:4100", "4100", "arp", "pseudonymous", "fan41-faster"):
        assert needle in text, needle
    assert "fan42" not in text and "Bob Fan" not in text and "4200" not in text
    groups = {i["group_id"] for i in items}
    assert groups == {"scripthammer-account", "scripthammer-entitlements", "scripthammer-feedback", "scripthammer-push",
                      "scripthammer-votes",
                      "scripthammer-devices", "scripthammer-downloads", "scripthammer-orders",
                      "scripthammer-editions", "scripthammer-analytics"}
    assert all(set(d) == {"name", "value"} for i in items for d in i["data"])

    before_b = _holdings(svc, B, fans[B]["listener_id"])
    assert all(v >= 1 for v in before_b.values()), before_b
    r = _signed(app, client, "/api/privacy/erase", {"wp_user_id": A})
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert got["done"] is True
    assert got["removed"] == {"account": 1, "entitlements": 1, "feedback": 1, "comments": 1, "push": 1, "votes": 1,
                              "devices": 1,
                              "downloads": 1, "order_customer": 1, "order_payloads": 1}
    assert got["retained"] == {"orders": 1, "editions": 1, "transfers": 0, "licences": 1}
    assert got["items_removed"] == 9 and got["items_retained"] == 3
    assert any("ownership log" in m for m in got["messages"])

    assert _holdings(svc, A, fans[A]["listener_id"]) == dict.fromkeys(before_b, 0)
    assert _holdings(svc, B, fans[B]["listener_id"]) == before_b  # the other fan untouched
    with svc.db.session() as s:
        tomb = s.get(Listener, fans[A]["listener_id"])
        assert tomb.display_name == "" and tomb.wp_user_id < 0 and tomb.last_seen_at is None
        comment = s.get(CompositionComment, fans[A]["comment_id"])
        assert "fan41" not in comment.body and comment.author_name == "A fan (erased)"
        assert "fan42" in s.get(CompositionComment, fans[B]["comment_id"]).body
        payloads = {d.delivery_id: d.payload for d in s.scalars(sa.select(WebhookDelivery))}
        assert payloads["fan41"] == {} and payloads["fan42"]["billing"]["email"] == "fan42@example.test"
        order = s.scalar(sa.select(CommerceResource).where(CommerceResource.wc_id == 4100))
        assert order.customer_id == 0 and order.status == "completed"
    assert not svc.store.exists(fans[A]["key"]) and svc.store.exists(fans[B]["key"])

    # the export now says nothing personal; the erasure is idempotent
    text = _flat(_export_all(app, client, A))
    assert "Ada Fan" not in text and "fan41" not in text and "4100" not in text
    again = _signed(app, client, "/api/privacy/erase", {"wp_user_id": A}).get_json()
    assert again["items_removed"] == 0 and again["removed"]["account"] == 0
    assert _holdings(svc, B, fans[B]["listener_id"]) == before_b


def test_a_listener_token_minted_before_the_erasure_cannot_bring_the_account_back(world):
    app, svc, fans = world
    client = app.test_client()
    secret = svc.config.wp_shared_secret
    old = make_listener_token(secret, A, display_name="Ada Fan", now=time.time() - 5)
    assert client.get("/api/offline/key", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    old_key = client.get("/api/offline/key", headers={"Authorization": f"Bearer {old}"}).get_json()["key"]
    assert _signed(app, client, "/api/privacy/erase", {"wp_user_id": A}).status_code == 200
    r = client.get("/api/push/subscriptions", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and r.get_json()["code"] == "listener_token_revoked"
    with svc.db.session() as s:
        assert s.scalar(sa.select(Listener).where(Listener.wp_user_id == A)) is None
    # a token minted after the erasure: the fan starts afresh, under a new number and a new offline store
    new = make_listener_token(secret, A, display_name="Ada Fan", now=time.time() + 2)
    r = client.get("/api/offline/key", headers={"Authorization": f"Bearer {new}"})
    assert r.status_code == 200 and r.get_json()["key"] != old_key
    with svc.db.session() as s:
        assert s.scalar(sa.select(Listener.id).where(Listener.wp_user_id == A)) != fans[A]["listener_id"]
    # the other fan's tokens work on
    other = make_listener_token(secret, B, display_name="Bob Fan")
    assert client.get("/api/push/subscriptions", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_only_wordpress_signed_requests_may_export_or_erase(world):
    app, svc, fans = world
    client = app.test_client()
    listener = make_listener_token(svc.config.wp_shared_secret, A, display_name="Ada Fan")
    member = next(v for k, v in app.test_tokens.items() if k != "listener")
    for path in ("/api/privacy/export", "/api/privacy/erase"):
        body = json.dumps({"wp_user_id": B}).encode()
        cases = {
            "unsigned": client.post(path, data=body, content_type="application/json"),
            "listener token": client.post(path, data=body, content_type="application/json",
                                          headers={"Authorization": f"Bearer {listener}"}),
            "member token": client.post(path, data=body, content_type="application/json",
                                        headers={"Authorization": f"Bearer {member}"}),
            "api listener token": client.post(path, data=body, content_type="application/json",
                                              headers={"Authorization": f"Bearer {app.test_tokens['listener']}"}),
            "wrong secret": _signed(app, client, path, {"wp_user_id": B}, secret="not-the-secret"),
        }
        for name, r in cases.items():
            assert r.status_code in (401, 403), (path, name, r.status_code)
            assert set(r.get_json()) == {"status", "code", "message", "details"}, (path, name)
            assert "fan42" not in r.get_data(as_text=True)
    assert _holdings(svc, B, fans[B]["listener_id"])["listener"] == 1
    assert all(v >= 1 for v in _holdings(svc, B, fans[B]["listener_id"]).values())


@pytest.mark.parametrize("body", [{"wp_user_id": "41"}, {"wp_user_id": 41.5}, {"wp_user_id": True},
                                  {"wp_user_id": 0}, {"wp_user_id": -41}, {"wp_user_id": 2**31},
                                  {"wp_user_id": 10**30}, {"wp_user_id": None}, {}, [41], "41"])
def test_bad_ids_are_refused_with_400_and_nothing_is_erased(world, body):
    app, svc, fans = world
    client = app.test_client()
    for path in ("/api/privacy/export", "/api/privacy/erase"):
        r = _signed(app, client, path, body)
        assert r.status_code == 400, (path, body, r.get_json())
        got = r.get_json()
        assert set(got) == {"status", "code", "message", "details"} and got["code"] in ("bad_wp_user_id", "bad_body")
    assert _holdings(svc, A, fans[A]["listener_id"])["listener"] == 1


def test_bad_pages_are_refused(world):
    app, _svc, _fans = world
    client = app.test_client()
    for extra in ({"page": 0}, {"page": "2"}, {"per_page": 501}, {"per_page": 0}):
        r = _signed(app, client, "/api/privacy/export", {"wp_user_id": A, **extra})
        assert r.status_code == 400 and r.get_json()["code"] == "bad_page", extra


def test_fans_vote_as_themselves_and_an_erasure_takes_their_votes_only(app):
    """Two fans with the same display name are two voters (votes are kept under the listener, l.<id>),
    and erasing one removes that fan's vote, not the other's, nor what the round counted."""
    from companion.access.identity import listener_identity
    from companion.live.service import cast_vote

    svc = app.extensions["scripthammer"]
    secret = svc.config.wp_shared_secret
    with svc.db.session() as s:
        live = LiveSession(status="live", started_by="ivory", round=3)
        s.add(live)
        s.flush()
        sid = live.id
    one = listener_identity(svc, make_listener_token(secret, 51, display_name="Sam"))
    two = listener_identity(svc, make_listener_token(secret, 52, display_name="Sam"))
    assert cast_vote(svc, one, sid, "tempo", "120")["round"] == 3
    assert cast_vote(svc, two, sid, "tempo", "90")["round"] == 3  # not "already voted": another fan
    with svc.db.session() as s:
        voters = sorted(v.voter for v in s.scalars(sa.select(LiveVote).where(LiveVote.session_id == sid)))
    assert voters == sorted([f"l.{one.scopes['listener_id']}", f"l.{two.scopes['listener_id']}"])
    got = _signed(app, app.test_client(), "/api/privacy/erase", {"wp_user_id": 51}).get_json()
    assert got["removed"]["votes"] == 1
    with svc.db.session() as s:
        left = [(v.voter, v.value) for v in s.scalars(sa.select(LiveVote).where(LiveVote.session_id == sid))]
    assert left == [(f"l.{two.scopes['listener_id']}", "90")]
