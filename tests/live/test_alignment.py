"""The room's stems and the robots' stems are on one clock, within 10 ms (real programs: jackd, scsynth,
ffmpeg, Janus; a member as an aiortc peer). Two beeps at known wall times:

- a robots' beep (scsynth, at a wall time through OSC) reaches the robots' stems through JACK and the
  room through the robots' RTP into Janus; located in the kept robot stem and in the room's "robots"
  stem, both sit at (its time - t0) on the session clock;
- a member's beep (their microphone, at a known wall time) is located in the room's stem of that member
  at (its time - t0).

Each beep is found by a matched filter (its own tone and envelope), so the music around it does not move it."""
from __future__ import annotations

import asyncio
import fractions
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from tests.live.test_sessions import _programs, wait_for  # noqa: F401 - the programs fixture fails when missing

pytestmark = pytest.mark.slow

ROBOT_HZ, MEMBER_HZ, SR = 3520.0, 2640.0, 48000
TOLERANCE = 0.010


def envelope(sr: int = SR) -> np.ndarray:
    t = np.arange(int(0.06 * sr)) / sr
    return np.minimum(t / 0.001, 1.0) * np.exp(-t / 0.012)


def template(hz: float, sr: int = SR) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(int(0.06 * sr)) / sr) * envelope(sr)


def locate(x: np.ndarray, sr: int, hz: float, near: float, span: float = 0.5) -> float:
    """The time (s) where the beep of ``hz`` starts in ``x``, searched within ``near`` ± ``span``: the peak
    of a quadrature matched filter (its tone under its envelope, phase-blind)."""
    a, b = max(0, int((near - span) * sr)), min(len(x), int((near + span) * sr))
    seg = x[a:b].astype(np.float64)
    t = np.arange(int(0.06 * sr)) / sr
    i_f, q_f = np.sin(2 * np.pi * hz * t) * envelope(sr), np.cos(2 * np.pi * hz * t) * envelope(sr)
    assert len(seg) > len(t), ("the stem is too short", len(x) / sr, near)
    c = np.hypot(np.correlate(seg, i_f, "valid"), np.correlate(seg, q_f, "valid"))
    assert c.max() > 0, "silence where the beep should be"
    return (a + int(np.argmax(c))) / sr


def beeping_track(at_wall: float, hz: float):
    """An aiortc microphone: silence, and a beep of ``hz`` starting at wall time ``at_wall``."""
    from aiortc.mediastreams import AudioStreamTrack
    from av import AudioFrame

    tpl = (0.8 * 32767 * template(hz)).astype(np.int16)

    class Beep(AudioStreamTrack):
        def __init__(self):
            super().__init__()
            self.n = 0

        async def recv(self):
            samples = 960
            if self.n == 0:
                self._t0 = time.time()
            wait = self._t0 + self.n / SR - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            pcm = np.zeros(samples, dtype=np.int16)
            start = int(round((at_wall - self._t0) * SR)) - self.n  # the beep's first sample in this frame
            for i in range(samples):
                j = i - start
                if 0 <= j < len(tpl):
                    pcm[i] = tpl[j]
            frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SR, self.n, fractions.Fraction(1, SR)
            self.n += samples
            return frame

    return Beep()


def member_with_beep(http, sid, headers, at_wall: float, seconds: float) -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    async def run():
        pc = RTCPeerConnection()
        pc.addTrack(beeping_track(at_wall, MEMBER_HZ))
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, lambda: http.post(
            f"/api/live/sessions/{sid}/join", headers=headers,
            json={"jsep": {"type": "offer", "sdp": pc.localDescription.sdp}}))
        assert r.status_code == 201, r.json
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r.json["jsep"]["sdp"], type="answer"))
        await asyncio.sleep(seconds)
        await pc.close()

    asyncio.run(run())


def test_a_beep_sits_at_the_same_session_time_in_the_room_and_the_robots_stems(app, client, auth, tmp_path):
    from companion.live.service import _RUNNERS

    r = client.post("/api/live/sessions", json={"params": {"tempo": 120, "density": 0.2}, "seed": 8},
                    headers=auth("ivory"))
    assert r.status_code == 201, r.json
    sid, t0 = r.json["id"], r.json["t0"]
    try:
        runner = _RUNNERS[(app.extensions["scripthammer"].config.database_url, sid)]
        robot_at = time.time() + 3.0
        member_at = time.time() + 4.0
        runner.band.cue(robot_at, frequency=ROBOT_HZ, amplitude=0.9, channel=0)
        t = threading.Thread(target=member_with_beep, args=(client.application.test_client(), sid, auth("chops"),
                                                            member_at, 6.0))
        t.start()
        t.join(60)
        time.sleep(0.5)
    finally:
        st = client.post(f"/api/live/sessions/{sid}/stop", headers=auth("ivory")).json
    assert st["status"] == "ended", st
    rec = st["recording"]
    store = app.extensions["scripthammer"].store

    def read(key: str) -> np.ndarray:
        path = tmp_path / key.replace("/", "_")
        path.write_bytes(store.get_bytes(key))
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
        assert sr == SR
        return x.mean(axis=1)

    robot_expected, member_expected = robot_at - t0, member_at - t0
    in_stem = locate(read(rec["stems"]["ivory"]), SR, ROBOT_HZ, robot_expected)
    in_room = locate(read(rec["room"]["participants"]["robots"]["stem"]), SR, ROBOT_HZ, robot_expected)
    member = locate(read(rec["room"]["participants"]["chops"]["stem"]), SR, MEMBER_HZ, member_expected)
    offsets = {"robots_stem": in_stem - robot_expected, "room_robots": in_room - robot_expected,
               "room_member": member - member_expected, "room_vs_stem": in_room - in_stem}
    print("alignment offsets (ms):", {k: round(v * 1000, 2) for k, v in offsets.items()})
    assert abs(offsets["robots_stem"]) <= TOLERANCE, offsets
    assert abs(offsets["room_vs_stem"]) <= TOLERANCE, offsets
    assert abs(offsets["room_member"]) <= TOLERANCE, offsets
