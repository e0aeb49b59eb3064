"""A real WebRTC listener (aiortc) of a live session's Janus Streaming mountpoint: signalling over
Janus' HTTP API, then the decoded audio frames as numpy (shared by the tests and bench/live.py)."""
from __future__ import annotations

import asyncio
import time

import numpy as np

from companion.live.janus import JanusClient


def _offer(client: JanusClient, handle: int, timeout: float = 15.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for ev in client.events(wait=5):
            if ev.get("jsep", {}).get("type") == "offer":
                return ev["jsep"]
    raise AssertionError("Janus sent no offer for the mountpoint")


def listen(janus_url: str, mountpoint: int, seconds: float = 3.0, on_frame=None) -> tuple[np.ndarray, int]:
    """Watch ``mountpoint`` on Janus directly for ``seconds`` of audio; returns (mono float samples,
    sample rate). ``on_frame(time.time(), samples)`` is called per decoded frame (the bench times arrivals)."""
    client = JanusClient(janus_url)
    client.create_session()
    handle = client.attach("janus.plugin.streaming")
    client.message(handle, {"request": "watch", "id": mountpoint})
    offer = _offer(client, handle)
    try:
        return receive(offer, lambda sdp: client.message(handle, {"request": "start"},
                                                         jsep={"type": "answer", "sdp": sdp}), seconds, on_frame)
    finally:
        client.destroy()


def listen_via_companion(http, session_id: int, headers: dict, seconds: float = 3.0) -> tuple[np.ndarray, int]:
    """The same through the companion's signalling (``http``: a Flask test client; ``headers``: a
    signed-in listener's)."""
    r = http.post(f"/api/live/sessions/{session_id}/listen", headers=headers)
    assert r.status_code == 201, r.json
    listener, offer = r.json["listener"], r.json["jsep"]

    def answer(sdp: str) -> None:
        a = http.post(f"/api/live/sessions/{session_id}/listen/{listener}", headers=headers,
                      json={"jsep": {"type": "answer", "sdp": sdp}})
        assert a.status_code == 200, a.json

    return receive(offer, answer, seconds)


def receive(offer: dict, send_answer, seconds: float, on_frame=None) -> tuple[np.ndarray, int]:
    """An aiortc peer answering ``offer`` (``send_answer(sdp)``) and collecting ``seconds`` of audio."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    async def run() -> tuple[np.ndarray, int]:
        pc = RTCPeerConnection()
        got: list[np.ndarray] = []
        rate = [48000]
        done = asyncio.Event()

        @pc.on("track")
        def on_track(track):
            async def read():
                total = 0
                try:
                    while total < seconds * rate[0]:
                        frame = await track.recv()
                        pcm = frame.to_ndarray().astype(np.float32)
                        channels = len(frame.layout.channels)
                        mono = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
                        rate[0] = frame.sample_rate
                        if on_frame is not None:
                            on_frame(time.time(), mono)
                        got.append(mono)
                        total += len(mono)
                finally:
                    done.set()
            asyncio.ensure_future(read())

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: send_answer(pc.localDescription.sdp))
        try:
            await asyncio.wait_for(done.wait(), timeout=seconds + 20)
        finally:
            await pc.close()
        return (np.concatenate(got) if got else np.zeros(0, dtype=np.float32)), rate[0]

    return asyncio.run(run())


def sine_track(frequency: float, amplitude: float = 0.3):
    """An aiortc audio track playing a sine (a member's fake microphone)."""
    import fractions

    from aiortc.mediastreams import AudioStreamTrack
    from av import AudioFrame

    class Sine(AudioStreamTrack):
        def __init__(self):
            super().__init__()
            self.n = 0

        async def recv(self):
            rate, samples = 48000, 960
            if self.n == 0:
                self._t0 = time.time()
            wait = self._t0 + self.n / rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            t = (np.arange(samples) + self.n) / rate
            pcm = (amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
            frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, self.n, fractions.Fraction(1, rate)
            self.n += samples
            return frame

    return Sine()


def join_as_member(http, session_id: int, headers: dict, frequency: float, seconds: float = 4.0
                   ) -> tuple[np.ndarray, int]:
    """A member joining the session's room through the companion: sends a sine as their microphone,
    returns what they hear (their mix-minus) for ``seconds``."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    async def run():
        pc = RTCPeerConnection()
        pc.addTrack(sine_track(frequency))
        got, rate, done = [], [48000], asyncio.Event()

        @pc.on("track")
        def on_track(track):
            async def read():
                total = 0
                try:
                    while total < seconds * rate[0]:
                        frame = await track.recv()
                        pcm = frame.to_ndarray().astype(np.float32)
                        mono = pcm.reshape(-1, len(frame.layout.channels)).mean(axis=1) / 32768.0
                        rate[0] = frame.sample_rate
                        got.append(mono)
                        total += len(mono)
                finally:
                    done.set()
            asyncio.ensure_future(read())

        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, lambda: http.post(
            f"/api/live/sessions/{session_id}/join", headers=headers,
            json={"jsep": {"type": "offer", "sdp": pc.localDescription.sdp}}))
        assert r.status_code == 201, r.json
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r.json["jsep"]["sdp"], type="answer"))
        try:
            await asyncio.wait_for(done.wait(), timeout=seconds + 20)
        finally:
            await pc.close()
        return (np.concatenate(got) if got else np.zeros(0, dtype=np.float32)), rate[0]

    return asyncio.run(run())
