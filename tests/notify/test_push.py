"""Web Push on the companion: the VAPID key, fans' opt-in and opt-out, the SSRF and ownership rules, and
delivery through the release and broadcast flows to a local push-service STAND-IN (tests/notify/standin.py:
it checks the VAPID JWT and decrypts the aes128gcm payload with the subscription's keys)."""
from __future__ import annotations

import datetime as dt

import pytest

from companion.access.tokens import make_listener_token
from companion.db import utcnow
from companion.notify import webpush
from tests.notify.standin import Browser, PushServiceStandIn, b64u, unb64u

# RFC 8291 section 5 ("Push Message Encryption Example"), verbatim.
RFC = {
    "plaintext": b"When I grow up, I want to be a watermelon",
    "as_private": "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
    "ua_private": "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
    "ua_public": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
    "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    "salt": "DGv6ra1nlYgDCS1FRnbzlw",
    "body": "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6"
            "PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
}


def _rfc_key(text):
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.derive_private_key(int.from_bytes(unb64u(text), "big"), ec.SECP256R1())


def test_encryption_reproduces_rfc_8291_example_and_the_standin_decrypts_it():
    body = webpush.encrypt(RFC["plaintext"], unb64u(RFC["ua_public"]), unb64u(RFC["auth"]),
                           as_private=_rfc_key(RFC["as_private"]), salt=unb64u(RFC["salt"]))
    assert b64u(body) == RFC["body"]
    ua = Browser(private=_rfc_key(RFC["ua_private"]), auth=unb64u(RFC["auth"]))
    assert b64u(ua.public) == RFC["ua_public"]
    assert ua.decrypt(unb64u(RFC["body"])) == RFC["plaintext"]
    # a fresh key and salt every time: two sends of one message differ
    fresh = [webpush.encrypt(b"hi", ua.public, ua.auth) for _ in range(2)]
    assert fresh[0] != fresh[1] and all(ua.decrypt(b) == b"hi" for b in fresh)


def fan(app, wp_user_id):
    token = make_listener_token(app.config["SCRIPTHAMMER"].wp_shared_secret, wp_user_id, display_name=f"Fan {wp_user_id}")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def standin():
    s = PushServiceStandIn()
    yield s
    s.close()


@pytest.fixture
def push_app(app_with, standin):
    application = app_with(push_trusted_origins=standin.url, job_retry_intervals="0", job_retries=2)
    standin.expected_key = application.test_client().get("/api/push/key").get_json()["public_key"]
    return application


def test_the_key_is_a_p256_point_and_stays_the_same(push_app):
    c = push_app.test_client()
    a, b = c.get("/api/push/key").get_json(), c.get("/api/push/key").get_json()
    assert a == b and a["topics"] == ["broadcasts", "releases"]
    raw = unb64u(a["public_key"])
    assert len(raw) == 65 and raw[0] == 4


@pytest.mark.parametrize("endpoint", [
    "http://push.example.com/x",                 # not https
    "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x", "https://169.254.169.254/latest/meta-data",
    "https://localhost/x", "https://printer.local/x", "https://user:pw@fcm.googleapis.com/x",
    "https://fcm.googleapis.com:8443/x", "ftp://fcm.googleapis.com/x", "https://0x7f000001/x",
    "https://no-such-host.invalid/x",
])
def test_private_or_plain_http_endpoints_are_refused_ssrf(push_app, endpoint):
    c = push_app.test_client()
    r = c.post("/api/push/subscriptions", json={"endpoint": endpoint, "keys": Browser().keys()},
               headers=fan(push_app, 501))
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["code"] == "push_endpoint_refused"
    assert c.get("/api/push/subscriptions", headers=fan(push_app, 501)).get_json() == []


def test_opt_in_needs_a_fan_and_valid_keys(push_app, standin):
    c = push_app.test_client()
    sub = standin.subscription("a")
    assert c.post("/api/push/subscriptions", json=sub).status_code == 401
    member = {"Authorization": f"Bearer {push_app.test_tokens['ivory']}"}
    assert c.post("/api/push/subscriptions", json=sub, headers=member).get_json()["code"] == "not_a_listener"
    bad = dict(sub, keys={"p256dh": b64u(b"\x04" + b"\x01" * 64), "auth": sub["keys"]["auth"]})
    r = c.post("/api/push/subscriptions", json=bad, headers=fan(push_app, 501))
    assert r.status_code == 400 and r.get_json()["code"] == "push_keys_invalid"
    r = c.post("/api/push/subscriptions", json=dict(sub, topics=["spam"]), headers=fan(push_app, 501))
    assert r.status_code == 400 and r.get_json()["code"] == "push_topics_invalid"
    assert c.get("/api/push/subscriptions", headers=fan(push_app, 501)).get_json() == []
    r = c.post("/api/push/subscriptions", json=dict(sub, topics=["releases"]), headers=fan(push_app, 501))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["topics"] == ["releases"]
    r = c.post("/api/push/subscriptions", json=sub, headers=fan(push_app, 501))  # again: updated, both topics
    assert r.status_code == 200 and r.get_json()["topics"] == ["broadcasts", "releases"]
    assert [s["endpoint"] for s in c.get("/api/push/subscriptions", headers=fan(push_app, 501)).get_json()] == [
        sub["endpoint"]]


def test_another_fan_can_neither_unsubscribe_nor_take_over_a_subscription(db_kind, push_app, standin):
    c = push_app.test_client()
    sub = standin.subscription("mine")
    assert c.post("/api/push/subscriptions", json=sub, headers=fan(push_app, 601)).status_code == 201
    r = c.delete("/api/push/subscriptions", json={"endpoint": sub["endpoint"]}, headers=fan(push_app, 602))
    assert r.status_code == 404 and r.get_json()["code"] == "push_subscription_not_found"
    attacker = Browser()  # the same endpoint with the attacker's keys: would redirect the fan's news to them
    r = c.post("/api/push/subscriptions", json={"endpoint": sub["endpoint"], "keys": attacker.keys()},
               headers=fan(push_app, 602))
    assert r.status_code == 409 and r.get_json()["code"] == "push_subscription_taken"
    assert c.get("/api/push/subscriptions", headers=fan(push_app, 602)).get_json() == []
    assert len(c.get("/api/push/subscriptions", headers=fan(push_app, 601)).get_json()) == 1
    assert c.delete("/api/push/subscriptions", json={"endpoint": sub["endpoint"]},
                    headers=fan(push_app, 601)).status_code == 204
    assert c.get("/api/push/subscriptions", headers=fan(push_app, 601)).get_json() == []


def _work(app):
    from rq import SimpleWorker

    svc = app.extensions["scripthammer"]
    svc.worker(SimpleWorker, kinds=["default"]).work(burst=True, with_scheduler=False)


def test_standin_a_scheduled_broadcast_reaches_subscribers_encrypted_and_signed(db_kind, push_app, standin):
    from companion.notify.models import PushSubscription

    c = push_app.test_client()
    for name, who, topics in (("fan1", 701, ["broadcasts"]), ("fan2", 702, ["broadcasts", "releases"]),
                              ("releases-only", 703, ["releases"]), ("gone", 704, ["broadcasts"]),
                              ("flaky", 705, ["broadcasts"])):
        r = c.post("/api/push/subscriptions", json=dict(standin.subscription(name), topics=topics),
                   headers=fan(push_app, who))
        assert r.status_code == 201, r.get_json()
    standin.answers["gone"] = [410]          # the browser unsubscribed at the push service
    standin.answers["flaky"] = [503, 500]    # down twice, then takes it (retried with backoff)
    starts = (utcnow() + dt.timedelta(days=2)).replace(microsecond=0).isoformat() + "Z"
    band = {"Authorization": f"Bearer {push_app.test_tokens['chops']}"}
    r = c.post("/api/live/broadcasts", json={"wp_post_id": 31, "title": "Robots at dawn", "starts_at": starts},
               headers=band)
    assert r.status_code == 201, r.get_json()
    bid = r.get_json()["id"]
    _work(push_app)
    assert standin.refused == []
    got = sorted(standin.received, key=lambda x: x["endpoint"])
    assert [g["endpoint"] for g in got] == ["fan1", "fan2", "flaky"]
    for g in got:
        assert g["message"]["title"] == "Broadcast: Robots at dawn"
        assert g["message"]["url"].endswith(f"/embed/broadcast/{bid}")
        assert g["message"]["topic"] == "broadcasts"
    assert standin.attempts == {"fan1": 1, "fan2": 1, "gone": 1, "flaky": 3}
    svc = push_app.extensions["scripthammer"]
    with svc.db.session() as s:  # the 410 deleted that subscription; the others stay
        left = sorted(r.endpoint.rsplit("/", 1)[-1] for r in s.query(PushSubscription))
    assert left == ["fan1", "fan2", "flaky", "releases-only"]


def test_standin_a_push_service_down_past_the_retries_keeps_the_subscription(push_app, standin):
    from companion.notify import service
    from companion.notify.models import PushSubscription

    c = push_app.test_client()
    assert c.post("/api/push/subscriptions", json=standin.subscription("down"), headers=fan(push_app, 801)).status_code == 201
    standin.answers["down"] = [502, 502, 502, 502]
    svc = push_app.extensions["scripthammer"]
    service.enqueue_announcement(svc, "release", {"kind": "album", "id": 5, "title": "Gold", "artist": "Robots"})
    _work(push_app)
    assert standin.attempts["down"] == 3 and standin.received == []  # 1 + job_retries
    with svc.db.session() as s:
        row = s.query(PushSubscription).one()
        assert row.last_error == "HTTP 502"


def test_standin_a_release_announcement_reaches_release_subscribers_only(push_app, standin):
    """What publish() (companion/wordpress/service.py) queues once WordPress took a new release's post."""
    from companion.notify.service import enqueue_announcement

    c = push_app.test_client()
    for name, who, topics in (("r", 901, ["releases"]), ("b", 902, ["broadcasts"])):
        assert c.post("/api/push/subscriptions", json=dict(standin.subscription(name), topics=topics),
                      headers=fan(push_app, who)).status_code == 201
    svc = push_app.extensions["scripthammer"]
    enqueue_announcement(svc, "release", {"kind": "album", "id": 12, "title": "Night Shift", "artist": "Robots"})
    _work(push_app)
    assert standin.refused == []
    assert [(g["endpoint"], g["message"]["title"]) for g in standin.received] == [("r", "New album: Night Shift")]
    assert standin.received[0]["message"]["url"] == f"{svc.config.public_url}/embed/album/12"
