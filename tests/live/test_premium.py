"""Premium broadcasts: a broadcast marked premium is heard (WebRTC listen, the live HLS playlist and its
segments) only by the band, subscribers, ticket holders (``live:<broadcast id>``, sold through
WooCommerce) and grantees; everyone else gets a clear JSON error, and a premium session's segments are
never fetchable without a signature bound to their listener.

The first test runs a real session (jackd, scsynth, ffmpeg's live HLS) HLS-only; the second the
commerce side (a ticket order through the signed WooCommerce webhook grants, a refund revokes) against a
broadcast whose session has ended."""
from __future__ import annotations

import datetime as dt
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import m3u8
import numpy as np
import pytest
import sqlalchemy as sa

from companion.access.tokens import make_listener_token
from companion.db import utcnow
from tests.commerce import payloads

from tests.live.test_sessions import _programs, state, wait_for  # noqa: F401 - the programs fixture fails when missing

WEBHOOK = "/api/commerce/woocommerce/webhook"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def fan(app, wp_user_id: int) -> dict:
    return bearer(make_listener_token(app.extensions["scripthammer"].config.wp_shared_secret, wp_user_id,
                                      display_name=f"fan {wp_user_id}"))


def entitle(app, wp_user_id: int, scope: str, source: str = "purchase") -> None:
    from companion.access import service

    with app.extensions["scripthammer"].db.session() as s:
        service.upsert(s, listener=service.listener_for(s, wp_user_id), source=source,
                       source_ref=f"test:{wp_user_id}:{scope}", scope=scope, granted_by="test")


def schedule(client, headers, **over):
    body = {"wp_post_id": 77, "title": "Premium robots", "premium": True,
            "starts_at": (utcnow() + dt.timedelta(hours=1)).replace(microsecond=0).isoformat() + "Z", **over}
    return client.post("/api/live/broadcasts", json=body, headers=headers)


def went_live(app, broadcast_id: int, session_id: int, status: str | None = None) -> None:
    """What the start job does once due: the broadcast is live with its session."""
    from companion.live.models import LiveBroadcast, LiveSession

    with app.extensions["scripthammer"].db.session() as s:
        row = s.get(LiveBroadcast, broadcast_id)
        row.state, row.session_id = "live", session_id
        if status:
            s.get(LiveSession, session_id).status = status


def error(r, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.json["code"] == code and r.json["message"], r.json


def signed_segments(text: str) -> tuple[str, str]:
    pl = m3u8.loads(text)
    assert pl.segments and not pl.is_endlist
    return pl.segment_map[0].uri, pl.segments[-1].uri


@pytest.mark.slow
def test_a_premium_broadcast_is_heard_by_entitled_fans_only_on_every_route(app_with, tmp_path):
    app = app_with(live_webrtc=False)
    client = app.test_client()
    band = bearer(app.test_tokens["ivory"])

    # the flag: set by whoever may schedule, validated, public (the countdown shows it)
    error(schedule(client, band, premium="yes"), 400, "invalid_premium")
    error(schedule(client, fan(app, 599)), 403, "missing_right")
    r = schedule(client, band)
    assert r.status_code == 201, r.json
    bid = r.json["id"]
    assert r.json["premium"] is True and client.get(f"/api/live/broadcasts/{bid}").json["premium"] is True
    other = schedule(client, band, wp_post_id=78, premium=False).json["id"]

    r = client.post("/api/live/sessions", json={}, headers=band)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        went_live(app, bid, sid)
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        entitle(app, 501, "all", source="subscription")  # a subscriber
        entitle(app, 502, f"live:{bid}")  # a ticket holder
        entitle(app, 504, f"live:{other}")  # a ticket to another broadcast
        entitle(app, 505, "track:1")  # a track purchase is no ticket
        sub, ticket, none, wrong, track = fan(app, 501), fan(app, 502), fan(app, 503), fan(app, 504), fan(app, 505)
        hls = f"/api/live/sessions/{sid}/hls"

        # anonymous: told to sign in, on every route; the state names no playlist and no Janus
        st = client.get(f"/api/live/sessions/{sid}").json
        assert st["premium"] is True and st["hls"] is None and st["access"]["why"] == "sign_in"
        assert st["recording"] == {"available": False}
        error(client.post(f"/api/live/sessions/{sid}/listen"), 401, "auth_required")
        error(client.get(f"{hls}/live.m3u8"), 401, "premium_sign_in")
        error(client.get(f"{hls}/init.mp4"), 401, "premium_sign_in")
        # not entitled: told to buy a ticket, on every route
        for who in (none, wrong, track):
            st = client.get(f"/api/live/sessions/{sid}", headers=who).json
            assert st["hls"] is None and st["access"] == {"allowed": False, "why": "ticket", "buy_url": None}
            error(client.post(f"/api/live/sessions/{sid}/listen", headers=who), 403, "premium_ticket_required")
            error(client.post(f"/api/live/sessions/{sid}/listen/1-2", headers=who,
                              json={"jsep": {"type": "answer", "sdp": "v=0"}}), 403, "premium_ticket_required")
            error(client.get(f"{hls}/live.m3u8", headers=who), 403, "premium_ticket_required")
            error(client.get(f"/api/live/sessions/{sid}/recording/mix", headers=who), 403, "missing_right")
            error(client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "key", "value": "E major"},
                              headers=who), 403, "premium_ticket_required")
        before = client.get(f"/api/live/sessions/{sid}", headers=band).json
        assert not any(a["value"] == "E major" for a in before["applied"])  # the refused votes counted nowhere

        # entitled (subscriber, ticket holder): past the gate to WebRTC (this session is HLS only), and a
        # playlist of their own whose every segment is signed for them
        urls = {}
        for name, who, lid in (("sub", sub, None), ("ticket", ticket, None)):
            st = client.get(f"/api/live/sessions/{sid}", headers=who).json
            assert st["access"]["allowed"] is True and st["access"]["why"] == "entitled"
            error(client.post(f"/api/live/sessions/{sid}/listen", headers=who), 409, "no_webrtc")
            urls[name] = st["hls"]
            v = client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "density", "value": "busy"},
                            headers=who)
            assert v.status_code == 202, v.json  # the audience that may listen steers
            assert st["hls"].startswith(f"{hls}/live.m3u8?exp=")
        assert urls["sub"] != urls["ticket"]
        # the signed playlist URL works by itself (hls.js sends no bearer token)
        r = client.get(urls["ticket"])
        assert r.status_code == 200 and r.mimetype == "application/vnd.apple.mpegurl"
        assert r.headers["Cache-Control"] == "private, no-store"
        init_uri, seg_uri = signed_segments(r.get_data(as_text=True))
        lid = parse_qs(urlsplit(init_uri).query)["lid"][0]
        assert lid.startswith("l.") and parse_qs(urlsplit(seg_uri).query)["lid"] == [lid]
        init, seg = client.get(f"{hls}/{init_uri}"), client.get(f"{hls}/{seg_uri}")
        assert init.status_code == 200 and seg.status_code == 200
        mp4 = tmp_path / "premium.mp4"
        mp4.write_bytes(init.data + seg.data)
        raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(mp4), "-f", "f32le", "-ac", "1", "-"],
                             capture_output=True, check=True).stdout
        pcm = np.frombuffer(raw, dtype="<f4")
        assert len(pcm) > 0.5 * 48000 and float(np.sqrt(np.mean(pcm ** 2))) > 1e-3  # the robots, not silence
        # the sliding window: a later fetch lists newer segments, signed too
        first = m3u8.loads(r.get_data(as_text=True)).media_sequence
        wait_for(lambda: m3u8.loads(client.get(urls["ticket"]).get_data(as_text=True)).media_sequence > first,
                 timeout=30)
        # an entitled caller's bearer token also gets its own playlist; the band's too
        assert client.get(f"{hls}/live.m3u8", headers=sub).status_code == 200
        band_st = client.get(f"/api/live/sessions/{sid}", headers=band).json
        assert band_st["access"]["why"] == "band" and client.get(band_st["hls"]).status_code == 200

        # adversarial: an unsigned segment, even with an entitled bearer token
        seg_name = seg_uri.split("?")[0]
        error(client.get(f"{hls}/{seg_name}", headers=ticket), 403, "signature_invalid")
        error(client.get(f"{hls}/{seg_name}"), 401, "premium_sign_in")
        q = parse_qs(urlsplit(seg_uri).query)
        exp, sig = q["exp"][0], q["sig"][0]
        # the segment URL of another listener's playlist, claimed by someone else (lid swapped)
        error(client.get(f"{hls}/{seg_name}?exp={exp}&lid=l.999999&sig={sig}", headers=none), 403, "signature_invalid")
        # a forged signature, a lengthened expiry, another segment with this signature
        error(client.get(f"{hls}/{seg_name}?exp={exp}&lid={lid}&sig={'0' * 32}"), 403, "signature_invalid")
        error(client.get(f"{hls}/{seg_name}?exp={int(exp) + 3600}&lid={lid}&sig={sig}"), 403, "signature_invalid")
        error(client.get(f"{hls}/init.mp4?exp={exp}&lid={lid}&sig={sig}"), 403, "signature_invalid")
        # an expired (genuine) signature
        from companion.access.signing import signer_for
        from companion.live.premium import key

        past = signer_for(app.extensions["scripthammer"].config).sign_until(key(sid, seg_name), lid,
                                                                            int(time.time()) - 60)
        error(client.get(f"{hls}/{seg_name}?{past.query()}"), 403, "signature_expired")
        # the segment URL really is bound to its listener: the other fan's playlist signs it differently
        mine = client.get(urls["sub"]).get_data(as_text=True)
        assert seg_name in mine and f"{seg_name}?{urlsplit(seg_uri).query}" not in mine
        # a listener token of another fan gets that fan's answer, not this one's
        error(client.get(f"{hls}/live.m3u8", headers=none), 403, "premium_ticket_required")

        # the ticket refunded: the same playlist URL stops at its next refresh
        from companion.access import service as access

        with app.extensions["scripthammer"].db.session() as s:
            access.revoke(s, source="purchase", source_ref=f"test:502:live:{bid}", reason="refunded")
        error(client.get(urls["ticket"]), 403, "premium_ticket_required")
        error(client.post(f"/api/live/sessions/{sid}/listen", headers=ticket), 403, "premium_ticket_required")
        assert client.get(urls["sub"]).status_code == 200  # the subscriber still hears it

        # a free broadcast's session stays public: the same session under the free broadcast
        from companion.live.models import LiveBroadcast

        with app.extensions["scripthammer"].db.session() as s:
            s.get(LiveBroadcast, bid).session_id = None
        went_live(app, other, sid)
        st = client.get(f"/api/live/sessions/{sid}").json
        assert st["premium"] is False and st["hls"] == f"{hls}/live.m3u8"
        assert client.get(f"{hls}/live.m3u8").status_code == 200
    finally:
        r = client.post(f"/api/live/sessions/{sid}/stop", headers=band)
    assert r.json["status"] == "ended"


def test_a_ticket_bought_through_woocommerce_opens_the_broadcast_and_a_refund_closes_it(app, client, auth,
                                                                                       run_jobs, db_kind):
    from companion.commerce.webhooks import webhook_secret
    from companion.live.models import LiveSession

    svc = app.extensions["scripthammer"]
    r = schedule(client, auth("ivory"))
    assert r.status_code == 201, r.json
    bid = r.json["id"]
    with svc.db.session() as s:
        row = LiveSession(status="ended", started_by="ivory", ended_at=utcnow())
        s.add(row)
        s.flush()
        sid = row.id
    went_live(app, bid, sid)
    secret = webhook_secret(svc.config)

    def deliver(doc):
        body = payloads.body_of(doc)
        r = client.post(WEBHOOK, data=body, headers=payloads.headers(secret, body, "order.updated"))
        assert r.status_code == 202, r.json
        run_jobs()

    buyer = fan(app, 4242)
    listen = f"/api/live/sessions/{sid}/listen"
    error(client.post(listen, headers=buyer), 403, "premium_ticket_required")
    t0 = dt.datetime(2026, 12, 1, 10, 0, 0)
    # a ticket to a broadcast that does not exist, and a malformed scope, grant nothing
    deliver(payloads.order(9001, "completed", [payloads.line_item(801, "live:999999"),
                                                payloads.line_item(804, "live:9999999999"),
                                                payloads.line_item(802, f"live:{bid}x")],
                           customer_id=4242, modified=t0))
    error(client.post(listen, headers=buyer), 403, "premium_ticket_required")
    # the ticket: a completed order whose line item the plugin annotated with live:<id>
    deliver(payloads.order(9002, "completed", [payloads.line_item(803, f"live:{bid}", total="5.00")],
                           customer_id=4242, modified=t0))
    error(client.post(listen, headers=buyer), 409, "live_session_not_live")  # past the gate
    st = client.get(f"/api/live/sessions/{sid}", headers=buyer).json
    assert st["access"]["allowed"] is True and st["hls"].startswith(f"/api/live/sessions/{sid}/hls/live.m3u8?exp=")
    error(client.post(listen, headers=fan(app, 4243)), 403, "premium_ticket_required")  # someone else's order
    # refunded: the ticket is revoked
    deliver(payloads.order(9002, "refunded", [payloads.line_item(803, f"live:{bid}", total="5.00")],
                           customer_id=4242, modified=t0 + dt.timedelta(minutes=5)))
    error(client.post(listen, headers=buyer), 403, "premium_ticket_required")
    from companion.access.models import Entitlement

    with svc.db.session() as s:
        rows = s.scalars(sa.select(Entitlement).where(Entitlement.scope.like("live:%"))).all()
        assert [(r.scope, r.source_ref, r.revoked_reason is not None) for r in rows] == \
            [(f"live:{bid}", "wc-order:9002", True)]


def test_the_leader_grants_a_ticket_and_bad_ticket_scopes_are_refused(app, client, auth, db_kind):
    r = schedule(client, auth("ivory"))
    bid = r.json["id"]
    g = client.post("/api/entitlements", json={"wp_user_id": 77, "scope": f"live:{bid}"},
                    headers=auth("ivory"))
    assert g.status_code == 201, g.json
    assert g.json["scope"] == f"live:{bid}" and g.json["source"] == "grant"
    error(client.post("/api/entitlements", json={"wp_user_id": 77, "scope": "live:999999"},
                      headers=auth("ivory")), 400, "bad_scope")
    error(client.post("/api/entitlements", json={"wp_user_id": 77, "scope": "live:99999999999"},
                      headers=auth("ivory")), 400, "bad_scope")
    bad = client.post("/api/entitlements", json={"wp_user_id": 77, "scope": "live:abc"}, headers=auth("ivory"))
    assert bad.status_code == 422
    # a member without the leader's right grants nothing
    nope = client.post("/api/entitlements", json={"wp_user_id": 77, "scope": f"live:{bid}"},
                       headers=auth("crash"))
    error(nope, 403, "missing_right")
