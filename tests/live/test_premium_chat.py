"""A premium session's chat, marks, shared studio view and members' room are gated as its sound is
(companion/live/premium.py): the band; a guest only with an invitation naming its broadcast (a guest
token's ``broadcasts`` scope); fans read (never write) the chat and marks with a ticket, a subscription or
a grant, and nobody else gets them by any route. A real premium session started by hand (jackd, scsynth,
ffmpeg's live HLS; HLS only, so its room answers ``no_webrtc`` to whoever passes the gate)."""
from __future__ import annotations

import datetime as dt

import pytest

from companion.db import utcnow
from tests.live.test_premium import bearer, entitle, error, fan
from tests.live.test_sessions import _programs, wait_for  # noqa: F401 - the programs fixture fails when missing

pytestmark = pytest.mark.slow

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}


def guest(app, scopes: dict, minutes: int = 60) -> dict:
    """A guest token with these scopes; ``minutes`` <= 0: one that expired that long ago."""
    from companion.band.tokens import create_token

    with app.extensions["scripthammer"].db.session() as s:
        row, secret = create_token(s, role="guest", label="sitter-in", expires_in=dt.timedelta(minutes=max(minutes, 1)),
                                   scopes=scopes)
        if minutes <= 0:
            row.expires_at = utcnow() - dt.timedelta(minutes=1 - minutes)
    return bearer(secret)


def lapsed_ticket(app, wp_user_id: int, scope: str, *, revoked: bool) -> None:
    """A ticket that was valid: revoked (a refund) or ended (a grant that ran out)."""
    from companion.access import service

    with app.extensions["scripthammer"].db.session() as s:
        row = service.upsert(s, listener=service.listener_for(s, wp_user_id), source="purchase",
                             source_ref=f"test:{wp_user_id}:{scope}", scope=scope, granted_by="test",
                             starts_at=utcnow() - dt.timedelta(days=2))
        if revoked:
            row.revoked_at, row.revoked_reason = utcnow() - dt.timedelta(minutes=1), "refunded"
        else:
            row.ends_at = utcnow() - dt.timedelta(minutes=1)


def test_a_premium_sessions_chat_marks_view_and_room_are_for_who_may_be_in_it(app_with):
    app = app_with(live_webrtc=False)
    client = app.test_client()
    band = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    verse = {"Authorization": f"Bearer {app.test_tokens['verse']}"}
    leader = {"Authorization": f"Bearer {app.test_tokens['ivory']}"}
    # the leader invites guests to a premium broadcast by its id; anything but ids is refused
    error(client.post("/api/tokens", headers=leader, json={"role": "guest", "expires_in_minutes": 60,
                                                           "scopes": {"broadcasts": ["all"]}}), 400, "bad_scopes")
    error(client.post("/api/tokens", headers=leader, json={"role": "guest", "expires_in_minutes": 60,
                                                           "scopes": {"broadcasts": [0]}}), 400, "bad_scopes")

    r = client.post("/api/live/sessions", json={"premium": True, "params": {"tempo": 120}}, headers=band)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        bid = client.get(f"/api/live/sessions/{sid}", headers=band).json["broadcast_id"]
        assert bid
        made = client.post("/api/tokens", headers=leader, json={"role": "guest", "expires_in_minutes": 60,
                                                                "label": "invited", "scopes": {"broadcasts": [bid]}})
        assert made.status_code == 201, made.json
        invited = bearer(made.json["token"])
        wait_for(lambda: client.get(f"/api/live/sessions/{sid}/hls/live.m3u8", headers=band).status_code == 200,
                 timeout=30)
        # the band talks and marks; an invited guest too
        assert client.post(f"/api/live/sessions/{sid}/chat", json={"text": "that fill!"}, headers=band).status_code == 201
        assert client.post(f"/api/live/sessions/{sid}/marks", json={"text": "keep this"}, headers=verse).status_code == 201
        r = client.post(f"/api/live/sessions/{sid}/chat", json={"text": "from the guest"}, headers=invited)
        assert r.status_code == 201 and r.json["author"].startswith("guest:"), r.json
        said = ["that fill!", "keep this", "from the guest"]
        view = client.get(f"/api/live/sessions/{sid}/view", headers=invited)
        assert view.status_code == 200 and [n["text"] for n in view.json["notes"]] == said
        # past the gate, the HLS-only room says so (the gate came first)
        error(client.post(f"/api/live/sessions/{sid}/join", json={"jsep": OFFER}, headers=invited), 409, "no_webrtc")
        # the invited guest also hears it: their own signed playlist
        st = client.get(f"/api/live/sessions/{sid}", headers=invited).json
        assert st["access"] == {"allowed": True, "why": "invited", "buy_url": None} and "sig=" in st["hls"]
        assert client.get(st["hls"]).status_code == 200

        def refused_everywhere(headers, status, code, reads=None):
            """Every route to the chat, the marks, the view and the room refuses; nothing is written."""
            for path, body in (("chat", {"text": "let me in"}), ("marks", {"text": "mine"}),
                               ("join", {"jsep": OFFER})):
                error(client.post(f"/api/live/sessions/{sid}/{path}", json=body, headers=headers), status, code)
            error(client.get(f"/api/live/sessions/{sid}/view", headers=headers), status, code)
            error(client.get(f"/api/live/sessions/{sid}/notes", headers=headers), status, reads or code)

        # anonymous
        refused_everywhere({}, 401, "auth_required")
        # guests: not invited, invited to another broadcast, an expired invitation
        refused_everywhere(guest(app, {}), 403, "premium_not_invited")
        refused_everywhere(guest(app, {"broadcasts": [bid + 1000], "compositions": ["dawn"]}), 403,
                           "premium_not_invited")
        expired = guest(app, {"broadcasts": [bid]}, minutes=0)
        refused_everywhere(expired, 401, "invalid_token")
        # fans: never write nor see the studio view; read the chat and marks only with what lets them listen
        refused_everywhere(fan(app, 601), 403, "band_only", reads="premium_ticket_required")
        entitle(app, 602, f"live:{bid + 1000}")  # a ticket to another broadcast
        refused_everywhere(fan(app, 602), 403, "band_only", reads="premium_ticket_required")
        entitle(app, 603, "track:1")  # a track purchase is no ticket
        refused_everywhere(fan(app, 603), 403, "band_only", reads="premium_ticket_required")
        lapsed_ticket(app, 604, f"live:{bid}", revoked=True)
        refused_everywhere(fan(app, 604), 403, "band_only", reads="premium_ticket_required")
        lapsed_ticket(app, 605, f"live:{bid}", revoked=False)
        refused_everywhere(fan(app, 605), 403, "band_only", reads="premium_ticket_required")
        r = client.get(f"/api/live/sessions/{sid}/notes", headers=fan(app, 601))
        assert "that fill!" not in r.get_data(as_text=True)
        # a ticket holder and a subscriber read the chat and the marks (and still cannot write or look in)
        entitle(app, 606, f"live:{bid}")
        entitle(app, 607, "all", source="subscription")
        for who in (606, 607):
            notes = client.get(f"/api/live/sessions/{sid}/notes", headers=fan(app, who))
            assert notes.status_code == 200 and [n["text"] for n in notes.json] == said
            assert [n["kind"] for n in notes.json] == ["chat", "mark", "chat"]
            error(client.post(f"/api/live/sessions/{sid}/chat", json={"text": "hi band"}, headers=fan(app, who)),
                  403, "band_only")
        # nothing the refused callers sent was kept
        assert [n["text"] for n in client.get(f"/api/live/sessions/{sid}/notes", headers=band).json] == said

        # the invitation revoked: the guest's bearer fails, and the playlist they were signed no longer plays
        signed = st["hls"]
        assert client.delete(f"/api/tokens/{made.json['id']}", headers=leader).status_code in (200, 204)
        error(client.get(f"/api/live/sessions/{sid}/notes", headers=invited), 401, "invalid_token")
        error(client.get(signed), 403, "premium_ticket_required")
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=band)


def test_a_free_sessions_chat_stays_the_bands_and_any_guest_sits_in(app_with):
    """Free sessions are unchanged: members and any guest chat and read; fans do not read."""
    app = app_with(live_webrtc=False)
    client = app.test_client()
    band = {"Authorization": f"Bearer {app.test_tokens['chops']}"}
    r = client.post("/api/live/sessions", json={"params": {"tempo": 120}}, headers=band)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        assert client.post(f"/api/live/sessions/{sid}/marks", json={"text": "here"},
                           headers=guest(app, {})).status_code == 201
        entitle(app, 611, "all", source="subscription")
        error(client.get(f"/api/live/sessions/{sid}/notes", headers=fan(app, 611)), 403, "band_only")
        assert [n["text"] for n in client.get(f"/api/live/sessions/{sid}/notes", headers=band).json] == ["here"]
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=band)
