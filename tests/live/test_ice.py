"""TURN for WebRTC peers: the companion hands out coturn REST-API credentials (use-auth-secret) with the
ICE servers, and a real coturn accepts them until they expire; a tampered or expired one is refused.
The secret never leaves the companion."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.conftest import free_port
from tests.live.test_sessions import bearer, listener_token

SECRET = "turn-test-secret-0123456789"


@pytest.fixture
def coturn(tmp_path):
    exe = shutil.which("turnserver")
    if exe is None:
        pytest.fail("coturn is not installed (scripts/setup.sh installs it)")
    port = free_port()
    relay = free_port()
    proc = subprocess.Popen([exe, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
                             "--use-auth-secret", f"--static-auth-secret={SECRET}", "--realm=scripthammer",
                             "--no-tls", "--no-dtls", "--no-cli", f"--log-file={tmp_path / 'turn.log'}",
                             "--allow-loopback-peers", f"--min-port={relay}", f"--max-port={relay + 40}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline and "listener opened" not in ((tmp_path / "turn.log").read_text()
                                                               if (tmp_path / "turn.log").exists() else ""):
        time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(10)


def allocates(port: int, username: str, password: str) -> bool:
    """turnutils_uclient allocates a relay on the server with these credentials and sends through it."""
    r = subprocess.run(["turnutils_uclient", "-n", "2", "-m", "1", "-y", "-u", username, "-w", password,
                        "-p", str(port), "127.0.0.1"], capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and "tot_recv_msgs=" in r.stdout + r.stderr


def test_peers_get_turn_credentials_that_coturn_accepts_until_they_expire(app_with, coturn):
    from companion.live import ice

    app = app_with(turn_urls=f"turn:127.0.0.1:{coturn}?transport=udp", turn_secret=SECRET, turn_ttl=600)
    client = app.test_client()
    ivory = bearer(app.test_tokens["ivory"])
    r = client.post("/api/live/sessions", json={"seed": 3}, headers=ivory)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        fan = bearer(listener_token(app, "turn-fan"))
        assert client.get(f"/api/live/sessions/{sid}/ice").status_code == 401
        assert client.get("/api/live/sessions/999999/ice", headers=fan).status_code == 404
        got = client.get(f"/api/live/sessions/{sid}/ice", headers=fan)
        assert got.status_code == 200, got.json
        (server,) = got.json["ice_servers"]
        assert server["urls"] == [f"turn:127.0.0.1:{coturn}?transport=udp"]
        assert abs(got.json["expires_at"] - (time.time() + 600)) < 30
        assert SECRET not in got.get_data(as_text=True)
        assert allocates(coturn, server["username"], server["credential"])
        # a listener also gets them with Janus' offer (the browser makes its peer connection then)
        offer = client.post(f"/api/live/sessions/{sid}/listen", headers=fan)
        assert offer.status_code == 201 and offer.json["jsep"]["type"] == "offer"
        (with_offer,) = offer.json["ice_servers"]
        assert with_offer["username"].endswith(f":listener-{offer.json['listener']}")
        assert allocates(coturn, with_offer["username"], with_offer["credential"])
        # a member asking before their offer gets theirs, named for them
        mine = client.get(f"/api/live/sessions/{sid}/ice", headers=ivory).json["ice_servers"][0]
        assert mine["username"].endswith(":ivory") and allocates(coturn, mine["username"], mine["credential"])
        # tampered: another name with the same password, or a longer life, is refused by coturn
        expiry, _, who = server["username"].partition(":")
        assert not allocates(coturn, f"{expiry}:ivory", server["credential"])
        assert not allocates(coturn, f"{int(expiry) + 86400}:{who}", server["credential"])
        # expired: a credential made an hour ago for ten minutes is refused
        old = ice.ice_servers(app.extensions["scripthammer"].config, "fan", now=time.time() - 3600)["ice_servers"][0]
        assert not allocates(coturn, old["username"], old["credential"])
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=ivory)
    assert client.get(f"/api/live/sessions/{sid}/ice", headers=fan).json["code"] == "session_ended"
    assert app.extensions["scripthammer"].config.public()["turn_secret"] == "***"


def test_without_turn_configured_no_servers_are_handed_out():
    from companion.config import Config
    from companion.live import ice

    assert ice.ice_servers(Config(), "fan") == {"ice_servers": [], "expires_at": None}
    stun_only = Config(turn_urls="stun:stun.example.org:3478")
    assert ice.ice_servers(stun_only, "fan") == {"ice_servers": [{"urls": ["stun:stun.example.org:3478"]}],
                                                 "expires_at": None}
