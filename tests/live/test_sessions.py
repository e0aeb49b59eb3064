"""Live sessions end to end on real programs: jackd (dummy driver, a server of the session's own),
scsynth in real time on it, ffmpeg capturing JACK into the recording and the live HLS broadcast.

What the robots play is checked in the captured audio (numpy): the count-in click starts the session
clock, and a listener's vote for another key is heard from the next bar line on."""
from __future__ import annotations

import shutil
import subprocess
import time

import m3u8
import numpy as np
import pytest
import soundfile as sf
import sqlalchemy as sa

from companion.live.analysis import chroma, read_mono, scale_share

pytestmark = pytest.mark.slow

PROGRAMS = ("jackd", "jack_lsp", "jack_connect", "scsynth", "ffmpeg")


@pytest.fixture(autouse=True)
def _programs():
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:  # a missing precondition fails, never skips
        pytest.fail(f"not installed: {missing} (scripts/setup.sh installs jackd2, supercollider-server, ffmpeg)")


def wait_for(fn, timeout=30.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {fn}")


def listener_token(app, label: str) -> str:
    from companion.band.tokens import create_token

    with app.extensions["scripthammer"].db.session() as s:
        _, secret = create_token(s, role="listener", label=label)
    return secret


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def state(client, sid):
    r = client.get(f"/api/live/sessions/{sid}")
    assert r.status_code == 200, r.json
    return r.json


def decode_hls(client, sid, tmp_path) -> np.ndarray:
    """The init segment and the newest media segment of the live playlist, decoded by ffmpeg."""
    r = client.get(f"/api/live/sessions/{sid}/hls/live.m3u8")
    assert r.status_code == 200 and r.mimetype == "application/vnd.apple.mpegurl"
    pl = m3u8.loads(r.get_data(as_text=True))
    assert pl.segments, "the live playlist lists no segment"
    assert pl.target_duration <= 2 and not pl.is_endlist
    init = client.get(f"/api/live/sessions/{sid}/hls/{pl.segment_map[0].uri}")
    seg = client.get(f"/api/live/sessions/{sid}/hls/{pl.segments[-1].uri}")
    assert init.status_code == 200 and seg.status_code == 200
    mp4 = tmp_path / "latest.mp4"
    mp4.write_bytes(init.data + seg.data)
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(mp4), "-f", "f32le", "-ac", "1", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4")


def test_robots_play_live_broadcast_over_hls_votes_change_the_key_at_a_bar_line_and_the_recording_is_kept(
        app, client, auth, tmp_path):
    r = client.post("/api/live/sessions", json={"params": {"key": "D minor", "tempo": 120}, "seed": 3},
                    headers=auth("chops"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        assert r.json["status"] == "live" and r.json["t0"]
        assert r.json["hls"] == f"/api/live/sessions/{sid}/hls/live.m3u8"
        assert set(r.json["robots"]) == {"ivory", "chops", "crash"}

        # a listener on the HLS fallback hears the robots (not silence)
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        pcm = decode_hls(client, sid, tmp_path)
        assert len(pcm) > 0.5 * 48000 and float(np.sqrt(np.mean(pcm ** 2))) > 1e-3

        # two listeners vote; the other key wins and is applied at the bar after the round
        fan1, fan2 = listener_token(app, "fan1"), listener_token(app, "fan2")
        v1 = client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "key", "value": "E major"},
                         headers=bearer(fan1))
        assert v1.status_code == 202, v1.json
        rnd = v1.json["round"]
        v2 = client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "key", "value": "E major"},
                         headers=bearer(fan2))
        assert v2.status_code == 202
        again = client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "key", "value": "A minor"},
                            headers=bearer(fan1))
        if again.status_code != 409:  # the round closed between the votes: fan1 voted in the next round
            assert again.status_code == 202 and again.json["round"] > rnd
        else:
            assert again.json["code"] == "already_voted"
        applied = wait_for(lambda: [a for a in state(client, sid)["applied"] if a["value"] == "E major"],
                           timeout=30)[0]
        switch = applied["bar"]
        assert applied["parameter"] == "key" and switch == v2.json["round"] + 1
        wait_for(lambda: state(client, sid)["bar"] >= switch + 2, timeout=30)
        time.sleep(state(client, sid)["bars"][-1]["length"] + 0.5)  # the last bar sent is heard

        stopped_at = time.time()
        r = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory"))
        assert r.status_code == 200, r.json
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory"))
    st = r.json
    assert st["status"] == "ended" and st["error"] == ""
    rec = st["recording"]
    assert set(rec["stems"]) == {"ivory", "chops", "crash"} and rec["mix"]

    # the recording: three stems and a mix, one length, the session's length (click to stop)
    files = {}
    for name in ("mix", "ivory", "chops", "crash"):
        resp = client.get(f"/api/live/sessions/{sid}/recording/{name}", headers=auth("crash"))
        assert resp.status_code == 200 and resp.mimetype == "audio/wav"
        path = tmp_path / f"{name}.wav"
        path.write_bytes(resp.data)
        files[name] = path
    infos = {n: sf.info(str(p)) for n, p in files.items()}
    assert infos["mix"].channels == 2 and all(infos[n].channels == 1 for n in ("ivory", "chops", "crash"))
    frames = {i.frames for i in infos.values()}
    assert len(frames) == 1, infos
    session_len = stopped_at - st["t0"]
    assert abs(infos["mix"].duration - session_len) < 1.0, (infos["mix"].duration, session_len)

    # the count-in click is at 0 in the kept recording (its clock), loud in the leader's stem
    ivory, sr = read_mono(files["ivory"])
    assert np.abs(ivory[: int(0.02 * sr)]).max() > 0.02

    # the key change is heard from the switch bar's line: before it the robots play D minor, after it E major
    tonal = ivory + read_mono(files["chops"])[0]
    bars = {b["number"]: b for b in st["bars"]}
    before = [n for n in range(1, switch) if n in bars]
    after = [n for n in range(switch, switch + 2)]
    share = lambda n, key: scale_share(chroma(tonal, sr, bars[n]["start"], bars[n]["length"]), key)
    assert np.mean([share(n, "D minor") - share(n, "E major") for n in before]) > 0.1
    for n in after:
        assert share(n, "E major") > share(n, "D minor") + 0.1, n
    # and at the line itself: the half bar before it and the half bar after it
    line = bars[switch]["start"]
    half = bars[switch]["length"] / 2
    pre, post = chroma(tonal, sr, line - half, half), chroma(tonal, sr, line, half)
    assert scale_share(post, "E major") - scale_share(post, "D minor") > \
        scale_share(pre, "E major") - scale_share(pre, "D minor")

    # the listeners do not get the stems; the vote for an ended session changes nothing
    assert client.get(f"/api/live/sessions/{sid}/recording/mix", headers=bearer(fan1)).status_code == 403
    late = client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "key", "value": "C major"},
                       headers=bearer(fan2))
    assert late.status_code == 409 and late.json["code"] == "live_session_not_live"


def test_who_may_start_stop_vote_chat_and_hostile_input(app, client, auth, make_guest_token):
    from companion.live.models import LiveNote, LiveSession, LiveVote

    db = app.extensions["scripthammer"].db
    # a listener, a guest or nobody cannot start a session; bad parameters start nothing
    assert client.post("/api/live/sessions", json={}).status_code == 401
    r = client.post("/api/live/sessions", json={}, headers=auth("listener"))
    assert r.status_code == 403 and r.json["code"] == "missing_right"
    for bad in ({"params": {"key": "H minor"}}, {"params": {"tempo": 999}}, {"params": {"density": "lots"}},
                {"seed": -4}, {"params": "loud"}):
        r = client.post("/api/live/sessions", json=bad, headers=auth("ivory"))
        assert r.status_code in (400, 422), (bad, r.json)
        assert set(r.json) >= {"status", "code", "message"}
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(LiveSession)) == 0
    assert client.get("/api/live/sessions/999").status_code == 404
    assert client.post("/api/live/sessions/999/stop", headers=auth("ivory")).status_code == 404
    assert client.get("/api/live/sessions/999/hls/live.m3u8").status_code == 404

    r = client.post("/api/live/sessions", json={"seed": 5}, headers=auth("ivory"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        # stopping needs the right; hostile HLS names are refused
        r = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("listener"))
        assert r.status_code == 403
        for name in ("..%2F..%2Fcompanion.db", "capture.log", "seg1.m4s.php", "mix.wav"):
            assert client.get(f"/api/live/sessions/{sid}/hls/{name}").status_code == 404
        # votes: sign in first; a parameter that does not exist, a choice that does not, malformed bodies
        vote = lambda body, h=auth("listener"): client.post(f"/api/live/sessions/{sid}/votes", json=body, headers=h)
        assert vote({"parameter": "key", "value": "E major"}, {}).status_code == 401
        for body, code in (({"parameter": "volume", "value": "11"}, "unknown_parameter"),
                           ({"parameter": "key", "value": "H major"}, "unknown_choice"),
                           ({"parameter": ["key"], "value": "E major"}, "unknown_parameter"),
                           ({"parameter": "tempo", "value": 120}, "unknown_choice")):
            r = vote(body)
            assert r.status_code == 400 and r.json["code"] == code, r.json
        assert vote({"parameter": "key"}).status_code == 422
        assert vote({"parameter": "key", "value": "E major", "extra": 1}).status_code == 422
        with db.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(LiveVote)) == 0
        assert client.post("/api/live/sessions/999/votes", json={"parameter": "key", "value": "E major"},
                           headers=auth("listener")).status_code == 404
        before = state(client, sid)["params"]
        assert before["key"] == "D minor"

        # chat and marks: the band (members, invited guests) only, stamped with the media clock
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        guest = {"Authorization": f"Bearer {make_guest_token(label='sitter-in')}"}
        r1 = client.post(f"/api/live/sessions/{sid}/chat", json={"text": "that fill!"}, headers=auth("verse"))
        r2 = client.post(f"/api/live/sessions/{sid}/marks", json={"text": "take this groove"}, headers=guest)
        assert r1.status_code == 201 and r2.status_code == 201, (r1.json, r2.json)
        assert 0 < r1.json["media_time"] <= r2.json["media_time"] and r1.json["bar"] >= 1
        assert r2.json["author"].startswith("guest:")
        r = client.post(f"/api/live/sessions/{sid}/chat", json={"text": "hi"}, headers=auth("listener"))
        assert r.status_code == 403 and r.json["code"] == "band_only"
        r = client.post(f"/api/live/sessions/{sid}/chat", json={"text": "x" * 501}, headers=auth("verse"))
        assert r.status_code == 400 and r.json["code"] == "text_too_long" and r.json["details"]["limit_chars"] == 500
        for bad in ({"text": "  "}, {"text": 5}, {"text": ["a"]}):
            assert client.post(f"/api/live/sessions/{sid}/chat", json=bad, headers=auth("verse")).status_code == 400
        assert client.post(f"/api/live/sessions/{sid}/chat", json={}, headers=auth("verse")).status_code == 422
        assert client.post(f"/api/live/sessions/{sid}/chat", json={"text": "hi"}).status_code == 401
        notes = client.get(f"/api/live/sessions/{sid}/notes", headers=auth("chops"))
        assert [n["text"] for n in notes.json] == ["that fill!", "take this groove"]
        assert [n["kind"] for n in notes.json] == ["chat", "mark"]
        assert client.get(f"/api/live/sessions/{sid}/notes", headers=auth("listener")).status_code == 403
    finally:
        r = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory"))
    assert r.status_code == 200 and r.json["status"] == "ended"
    assert r.json["applied"] == [] and r.json["params"]["key"] == "D minor"
    again = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory"))
    assert again.status_code == 409 and again.json["code"] == "live_session_ended"
    late = client.post(f"/api/live/sessions/{sid}/chat", json={"text": "late"}, headers=auth("verse"))
    assert late.status_code == 409
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(LiveNote)) == 2


def test_a_session_whose_companion_process_died_is_failed_not_left_live(app, client, auth):
    import datetime as dt

    from companion.live.models import LiveSession

    with app.extensions["scripthammer"].db.session() as s:
        row = LiveSession(started_by="ivory", status="live", t0=1.0, robots=["ivory"],
                          heartbeat_at=dt.datetime.utcnow() - dt.timedelta(minutes=5))
        fresh = LiveSession(started_by="ivory", status="live", t0=1.0, robots=["ivory"])
        s.add_all([row, fresh])
        s.flush()
        stale_id, fresh_id = row.id, fresh.id
    st = state(client, stale_id)
    assert st["status"] == "failed" and st["error"] == "companion_lost"
    assert state(client, fresh_id)["status"] == "live"  # a runner elsewhere wrote recently
    r = client.post(f"/api/live/sessions/{stale_id}/votes", json={"parameter": "key", "value": "E major"},
                    headers=auth("listener"))
    assert r.status_code == 409


def test_votes_are_rate_limited_per_client(app_with):
    app = app_with(live_vote_rate_limit="2 per minute")
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['listener']}"}
    codes = [client.post("/api/live/sessions/1/votes", json={"parameter": "key", "value": "E major"},
                         headers=h).status_code for _ in range(3)]
    assert codes[:2] == [404, 404] and codes[2] == 429
    r = client.post("/api/live/sessions/1/votes", json={"parameter": "key", "value": "E major"}, headers=h)
    assert r.json["code"] == "too_many_votes" and r.headers.get("Retry-After")


def test_a_killed_scsynth_ends_the_session_with_the_recording_kept(app, client, auth):
    import os
    import signal

    from companion.live import service

    r = client.post("/api/live/sessions", json={}, headers=auth("crash"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        runner = service._RUNNERS[(app.extensions["scripthammer"].config.database_url, sid)]
        os.kill(runner.rig.procs["scsynth"].pid, signal.SIGKILL)
        st = wait_for(lambda: (s := state(client, sid))["status"] not in service.RUNNING and s, timeout=30)
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory"))
    assert st["status"] == "failed" and st["error"] == "scsynth_died"
    assert "recording so far is kept" in st["message"]
    rec = st["recording"]
    assert rec["mix"] and set(rec["stems"]) == {"ivory", "chops", "crash"} and rec["seconds"] > 2
    mix = client.get(f"/api/live/sessions/{sid}/recording/mix", headers=auth("ivory"))
    assert mix.status_code == 200 and len(mix.data) > 48000 * 4
    # nothing of the rig is left running, nor scsynth's shared memory (a killed scsynth leaves it behind)
    assert all(p.poll() is not None for p in runner.rig.procs.values())
    assert not runner.rig.shared_memory.exists(), runner.rig.shared_memory


def test_a_listener_on_webrtc_hears_the_robots_through_janus_and_a_killed_janus_ends_the_session(
        app, client, auth):
    import os
    import signal

    from companion.live import service
    from tests.live.webrtc import listen_via_companion

    r = client.post("/api/live/sessions", json={"seed": 9}, headers=auth("ivory"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        rtc = r.json["webrtc"]
        assert rtc["mountpoint"] == sid and rtc["janus"].startswith("http://127.0.0.1:")
        # a listener's browser signals through the companion (an aiortc peer here)
        fan = auth("listener")
        assert client.post(f"/api/live/sessions/{sid}/listen").status_code == 401
        pcm, rate = listen_via_companion(client, sid, fan, seconds=3.0)
        assert rate == 48000 and len(pcm) >= 3 * rate
        assert float(np.sqrt(np.mean(pcm ** 2))) > 1e-3  # the robots, not silence

        # malformed signalling: a clear 400, and the session plays on
        offer = client.post(f"/api/live/sessions/{sid}/listen", headers=fan)
        assert offer.status_code == 201 and offer.json["jsep"]["sdp"].startswith("v=0")
        lid = offer.json["listener"]
        for listener, body in ((lid, {"jsep": {"type": "offer", "sdp": "v=0"}}),
                               (lid, {"jsep": {"type": "answer", "sdp": "hello"}}),
                               (lid, {"jsep": "v=0"}),
                               (lid, {"jsep": {"type": "answer", "sdp": "v=0" + "x" * 70000}}),
                               ("../admin", {"jsep": {"type": "answer", "sdp": "v=0"}}),
                               ("1-2", {"jsep": {"type": "answer", "sdp": "v=0\r\n"}}),
                               (lid, {"jsep": {"type": "answer", "sdp": "v=0\r\nnot an sdp\r\n"}})):
            bad = client.post(f"/api/live/sessions/{sid}/listen/{listener}", json=body, headers=fan)
            assert bad.status_code in (400, 404), (listener, body, bad.json)
            if bad.status_code == 400:
                assert bad.json["code"] == "malformed_signalling", bad.json
        assert client.post(f"/api/live/sessions/{sid}/listen/{lid}", json={}, headers=fan).status_code == 422
        assert client.post(f"/api/live/sessions/{sid}/listen/{lid}", json={}).status_code == 401
        assert state(client, sid)["status"] == "live"

        # more than 3 s recorded before the crash, whatever the load (bar 2 is sent 0.3 s before its line at 4 s)
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        runner = service._RUNNERS[(app.extensions["scripthammer"].config.database_url, sid)]
        os.kill(runner.janus.proc.pid, signal.SIGKILL)
        st = wait_for(lambda: (s := state(client, sid))["status"] not in service.RUNNING and s, timeout=30)
    finally:
        client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory"))
    assert st["status"] == "failed" and st["error"] == "janus_died"
    assert st["recording"]["mix"] and st["recording"]["seconds"] > 3
    assert all(p.poll() is not None for p in runner.rig.procs.values())


def test_a_listener_forced_onto_hls_when_the_session_has_no_webrtc(app_with, tmp_path):
    app = app_with(live_webrtc=False)
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['ivory']}"}
    r = client.post("/api/live/sessions", json={}, headers=h)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        assert r.json["webrtc"] is None
        no = client.post(f"/api/live/sessions/{sid}/listen", headers=h)
        assert no.status_code == 409 and no.json["code"] == "no_webrtc" and no.json["details"]["hls"]
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        pcm = decode_hls(client, sid, tmp_path)
        assert float(np.sqrt(np.mean(pcm ** 2))) > 1e-3
    finally:
        r = client.post(f"/api/live/sessions/{sid}/stop", headers=h)
    assert r.json["status"] == "ended"


def test_two_sessions_side_by_side_do_not_cross(app, client, auth, tmp_path):
    """Two sessions at once, in different keys, each on its own JACK server, scsynth, Janus and
    ports: each recording holds its own key only."""
    from companion.live import service

    ids = []
    try:
        for who, key, seed in (("ivory", "D minor", 4), ("crash", "E major", 4)):
            r = client.post("/api/live/sessions", json={"params": {"key": key}, "seed": seed}, headers=auth(who))
            assert r.status_code == 201, r.json
            ids.append(r.json["id"])
        cfg = app.extensions["scripthammer"].config
        rigs = [service._RUNNERS[(cfg.database_url, sid)].rig for sid in ids]
        assert rigs[0].server_name != rigs[1].server_name and rigs[0].osc_port != rigs[1].osc_port
        assert all(rig.shared_memory.exists() for rig in rigs)  # scsynth's, while it runs
        assert len({state(client, sid)["webrtc"]["janus"] for sid in ids}) == 2
        # a third is refused while two run (live_max_sessions), and nothing of it is left
        r = client.post("/api/live/sessions", json={}, headers=auth("chops"))
        assert r.status_code == 503 and r.json["code"] == "live_sessions_full"
        from companion.live.models import LiveSession
        with app.extensions["scripthammer"].db.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(LiveSession)) == 2
        wait_for(lambda: all(state(client, sid)["bar"] >= 4 for sid in ids), timeout=40)
    finally:
        finals = [client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory")).json for sid in ids]
    # a session that ends gives back scsynth's shared memory (8 MB each, kept until a reboot otherwise)
    assert [rig.shared_memory.exists() for rig in rigs] == [False, False]
    for st, key, other in zip(finals, ("D minor", "E major"), ("E major", "D minor")):
        assert st["status"] == "ended", st
        resp = client.get(f"/api/live/sessions/{st['id']}/recording/mix", headers=auth("ivory"))
        path = tmp_path / f"mix-{st['id']}.wav"
        path.write_bytes(resp.data)
        x, sr = read_mono(path)
        bars = [b for b in st["bars"] if 1 <= b["number"] <= 3]
        own = np.mean([scale_share(chroma(x, sr, b["start"], b["length"]), key) for b in bars])
        theirs = np.mean([scale_share(chroma(x, sr, b["start"], b["length"]), other) for b in bars])
        assert own > theirs + 0.15, (st["id"], own, theirs)


def test_a_session_hosted_by_a_live_queue_worker(app_with, tmp_path):
    """live_runner=queue: a real `scripthammer worker --queues live` process hosts the session; the API
    (another process) starts it, steers it and stops it through the database."""
    from companion.tasks.models import Job
    from tests.conftest import stop_group
    from tests.faults.procs import start_worker

    app = app_with(live_runner="queue")
    cfg = app.extensions["scripthammer"].config
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['crash']}"}
    worker = start_worker(cfg, "live", tmp_path / "worker.log")
    try:
        r = client.post("/api/live/sessions", json={"params": {"key": "D minor"}}, headers=h)
        assert r.status_code == 201, (r.json, (tmp_path / "worker.log").read_text()[-2000:])
        sid = r.json["id"]
        assert r.json["status"] == "live"
        wait_for(lambda: state(client, sid)["bar"] >= 2, timeout=30)
        v = client.post(f"/api/live/sessions/{sid}/votes", json={"parameter": "density", "value": "busy"},
                        headers={"Authorization": f"Bearer {app.test_tokens['listener']}"})
        assert v.status_code == 202
        wait_for(lambda: state(client, sid)["applied"], timeout=30)
        r = client.post(f"/api/live/sessions/{sid}/stop", headers=h)
        assert r.status_code == 200 and r.json["status"] == "ended", r.json
        assert r.json["params"]["density"] == 0.9 and r.json["recording"]["seconds"] > 3
        mix = client.get(f"/api/live/sessions/{sid}/recording/mix", headers=h)
        assert mix.status_code == 200 and len(mix.data) > 48000 * 4 * 3
        with app.extensions["scripthammer"].db.session() as s:
            job = s.scalars(sa.select(Job).where(Job.kind == "live")).one()
            wait_for(lambda: s.get(Job, job.id) and (s.refresh(job) or job.state == "finished"), timeout=20)
            assert job.result["ran"] is True and job.result["status"] == "ended"
    finally:
        stop_group(worker)


def test_no_live_worker_fails_the_start_clearly(app_with):
    app = app_with(live_runner="queue")
    client = app.test_client()
    import companion.live.service as service

    h = {"Authorization": f"Bearer {app.test_tokens['crash']}"}
    orig = service._start_on_queue
    service._start_on_queue = lambda svc, job, sid, timeout=90.0: orig(svc, job, sid, timeout=1.0)
    try:
        r = client.post("/api/live/sessions", json={}, headers=h)
    finally:
        service._start_on_queue = orig
    assert r.status_code == 503 and r.json["code"] == "no_live_worker"
    sid = r.json["details"]["session"]
    assert state(client, sid)["status"] == "failed"
    # the job, should a worker take it later, does nothing: the session runs once
    from jobs.live import run_session
    from companion.tasks.models import Job
    with app.extensions["scripthammer"].db.session() as s:
        job_id = s.scalars(sa.select(Job.id).where(Job.kind == "live")).one()
    assert run_session(job_id) == {"session": sid, "ran": False, "status": "failed"}


def test_an_ended_sessions_mix_goes_through_the_release_pipeline_once(app, client, auth, run_jobs, tmp_path):
    """The kept mix (here a recording put in the store as a session leaves it) becomes a draft track
    through the real release pipeline; only members release; once per session; not while it runs."""
    from companion.live.models import LiveSession
    from tests.conftest import make_audio

    svc = app.extensions["scripthammer"]
    wav = make_audio(tmp_path / "mix.wav", seconds=4.0, rate=48000)
    svc.store.put_file("live/77/mix.wav", wav, "audio/wav")
    with svc.db.session() as s:
        ended = LiveSession(started_by="ivory", status="ended", robots=["ivory"],
                            recording={"mix": "live/77/mix.wav", "stems": {}, "seconds": 4.0})
        running = LiveSession(started_by="ivory", status="live", robots=["ivory"])
        bare = LiveSession(started_by="ivory", status="failed", robots=["ivory"], recording={})
        s.add_all([ended, running, bare])
        s.flush()
        sid, live_id, bare_id = ended.id, running.id, bare.id

    assert client.post(f"/api/live/sessions/{sid}/release", json={}, headers=auth("listener")).status_code == 403
    r = client.post(f"/api/live/sessions/{sid}/release", json={"title": ""}, headers=auth("ivory"))
    assert r.status_code == 400 and r.json["code"] == "invalid_title"
    r = client.post(f"/api/live/sessions/{live_id}/release", json={}, headers=auth("ivory"))
    assert r.status_code == 409 and r.json["code"] == "live_session_running"
    r = client.post(f"/api/live/sessions/{bare_id}/release", json={}, headers=auth("ivory"))
    assert r.status_code == 409 and r.json["code"] == "no_recording"

    r = client.post(f"/api/live/sessions/{sid}/release", json={"title": "Blue Dot Live"}, headers=auth("crash"))
    assert r.status_code == 202, r.json
    track_id = r.json["track_id"]
    again = client.post(f"/api/live/sessions/{sid}/release", json={}, headers=auth("ivory"))
    assert again.status_code == 409 and again.json["details"]["track_id"] == track_id
    run_jobs()
    track = client.get(f"/api/tracks/{track_id}", headers=auth("ivory")).json
    assert track["status"] == "ready" and track["title"] == "Blue Dot Live" and track["release_state"] == "draft"
    assert abs(track["duration"] - 4.0) < 0.1 and track["renditions"]
    assert state(client, sid)["track_id"] == track_id


def test_two_members_and_the_robots_jam_in_the_room(app, client, auth, make_guest_token):
    """Two members join the session's AudioBridge room over WebRTC (aiortc peers, a sine each as the
    microphone); each hears the robots and the other (mix-minus); the room records everyone."""
    import threading

    from tests.live.webrtc import join_as_member

    r = client.post("/api/live/sessions", json={"seed": 2}, headers=auth("ivory"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    heard = {}
    try:
        assert r.json["webrtc"]["room"] == sid
        # hostile signalling first: clear 400s, nothing joins
        for body in ({"jsep": {"type": "answer", "sdp": "v=0"}}, {"jsep": {"type": "offer", "sdp": "nope"}},
                     {"jsep": {"type": "offer", "sdp": "v=0\r\nbroken\r\n"}}):
            bad = client.post(f"/api/live/sessions/{sid}/join", json=body, headers=auth("chops"))
            assert bad.status_code == 400 and bad.json["code"] == "malformed_signalling", bad.json
        assert client.post(f"/api/live/sessions/{sid}/join", json={"jsep": {"type": "offer", "sdp": "v=0"}},
                           headers=auth("listener")).status_code == 403

        def member(who, freq, headers):
            heard[who] = join_as_member(client.application.test_client(), sid, headers, freq, seconds=4.0)

        threads = [threading.Thread(target=member, args=("chops", 480.0, auth("chops"))),
                   threading.Thread(target=member, args=("guest", 720.0,
                                                         {"Authorization": f"Bearer {make_guest_token()}"}))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        st = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory")).json
    assert st["status"] == "ended", st
    for who, other_hz, own_hz in (("chops", 720.0, 480.0), ("guest", 480.0, 720.0)):
        pcm, rate = heard[who]
        assert len(pcm) >= 3 * rate and float(np.sqrt(np.mean(pcm ** 2))) > 1e-3, who
        spec = np.abs(np.fft.rfft(pcm[-2 * rate:]))
        f = np.fft.rfftfreq(2 * rate, 1 / rate)
        band = lambda hz: spec[(f > hz - 3) & (f < hz + 3)].max()
        assert band(other_hz) > 5 * band(own_hz), (who, band(other_hz), band(own_hz))  # mix-minus
        power = spec ** 2
        tones = sum(power[(f > hz - 5) & (f < hz + 5)].sum() for hz in (480.0, 720.0))
        assert 1 - tones / power.sum() > 0.2, who  # the robots are in what a member hears
    # the room's recordings: its mix and one stream per participant (robots, the member, the guest)
    room = st["recording"]["room"]
    assert room["mix"] and set(room["participants"]) >= {"robots", "chops"}
    assert any(k.startswith("guest:") for k in room["participants"])
    svc = app.extensions["scripthammer"]
    for who, part in room["participants"].items():
        assert svc.store.exists(part["stem"]) and len(part["spans"]) == 1 and part["gaps"] == [], who


def test_a_member_who_drops_and_rejoins_keeps_one_stem_with_the_gap_marked(app, client, auth, tmp_path):
    from tests.live.webrtc import join_as_member

    r = client.post("/api/live/sessions", json={"seed": 6}, headers=auth("ivory"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    try:
        join_as_member(client, sid, auth("chops"), 480.0, seconds=2.5)
        time.sleep(2.5)  # dropped
        join_as_member(client, sid, auth("chops"), 480.0, seconds=2.5)
        time.sleep(0.5)
    finally:
        st = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory")).json
    assert st["status"] == "ended", st
    part = st["recording"]["room"]["participants"]["chops"]
    assert len(part["spans"]) == 2 and len(part["gaps"]) == 1, part
    gap = part["gaps"][0]
    assert 1.5 < gap[1] - gap[0] < 6.0, gap
    path = tmp_path / "chops.wav"
    path.write_bytes(app.extensions["scripthammer"].store.get_bytes(part["stem"]))
    x, sr = sf.read(str(path), dtype="float32")
    assert abs(len(x) / sr - st["recording"]["seconds"]) < 1.5  # one stem on the session clock
    rms = lambda a, b: float(np.sqrt(np.mean(x[int(a * sr):int(b * sr)] ** 2)))
    for a, b in part["spans"]:
        assert rms(a + 0.3, b - 0.1) > 0.02  # the member's sine where they were in
    assert rms(gap[0] + 0.1, gap[1] - 0.1) == 0.0  # silence where they were out
