"""Benchmark: live sessions on loopback (issue 12's figures), measured by beep detection in one run.

A companion's live room on this machine (SQLite, the local object store, no HTTP: the same domain
calls the API makes) starts a session: jackd (dummy driver), scsynth in real time, the robots, the
ffmpeg capture (stems, mix, live HLS, Opus/RTP) and a Janus of its own. Then:

- "listener_webrtc_ms": beeps (9 kHz, scheduled on scsynth at known wall times, so the moment they
  leave JACK is known to a JACK period) heard by a real WebRTC peer (aiortc) watching the session's
  Janus Streaming mountpoint: the arrival of the first decoded frame holding each beep, minus the
  beep's time; median. Goal <= 500. (Anchor, from the issue: a WebRTC listener is expected well under
  a second; SonoBus-class direct peers reach ~40 ms.)
- "listener_hls_s": the same beeps found in the live HLS segments as they appear in the playlist (the
  files the companion serves): time until the segment holding the beep is listed ("hls_available_s",
  median), plus the hold-back of a standard player (hls.js starts 3 target durations behind the live
  edge). Goal <= 4. Anchors: AzuraCast/Icecast HLS about 6-30 s; Apple LL-HLS about 2 s.
- "vote_to_sound_bars": a listener votes for another key during bar n; the bar from whose line the new
  key is heard in the recording (chroma of the stems, numpy), minus n. Goal 1.
- "sessions_per_core": 1, 2, 3... sessions at once, each on its own JACK/scsynth/Janus with 4 players:
  its 3 robots and --members (1) members in its room (aiortc peers, each playing a tone and hearing its
  mix-minus, in a process per session at nice 10: the members' machines, sharing these cores but
  yielding to what is measured; their CPU is in each row), held for --hold seconds after a warm-up; the most held with no xrun
  reported by jackd or the capture and every member given at least 95% of the window's audio (the robots,
  louder than -50 dBFS) with no gap over 100 ms, divided by the cores; a count that fails gets --tries (2)
  tries. Goal >= 4 (anchor: Jamulus about 35 players per core). The members' peers (the instrument) run
  on the same cores as what they measure.
- "member_to_member_ms": two members in the session's AudioBridge room (aiortc peers in this process):
  member A's microphone carries 9 kHz beeps; the time from the frame leaving A's track to the first
  decoded frame holding the beep at member B (median). Goal <= 60. Anchors: SonoBus best about 40 ms;
  JackTrip ensembles need about 20-25 ms one way. B's jitter buffer is set to --receiver-prefetch packets
  (1: what a browser's adaptive buffer settles at on a loopback; aiortc's fixed 4 adds 60 ms of the
  instrument's own); "member_to_member_arrival_ms" is the part up to B's socket.

CPU seconds of this process and of its children (the rig's programs, reaped) beside wall time. The
last line printed is one JSON object.

Run: .venv/bin/python bench/live.py [--beeps 15] [--max-sessions 8] [--hold 8] [--members 1] [--tries 2] [--jack-period 1024]
     [--receiver-prefetch 1] [--parts listeners,members,sessions]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BEEP_HZ = 9000.0


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def beep_in(x: np.ndarray, sr: int, min_ratio: float = 0.3, min_rms: float = 0.02) -> list[int]:
    """Start samples of 20 ms windows where the 8.5-9.5 kHz band holds most of the energy (a beep)."""
    n = int(0.02 * sr)
    out = []
    freqs = np.fft.rfftfreq(n, 1 / sr)
    band = (freqs > BEEP_HZ - 500) & (freqs < BEEP_HZ + 500)
    for i in range(0, len(x) - n + 1, n // 2):
        seg = x[i:i + n]
        spec = np.abs(np.fft.rfft(seg * np.hanning(n))) ** 2
        total = spec.sum()
        if total > 0 and spec[band].sum() / total > min_ratio and np.sqrt(np.mean(seg ** 2)) > min_rms:
            out.append(i)
    return out


def make_services(root: Path, jack_period: int = 1024):
    from companion.band.service import seed_members
    from companion.config import Config
    from companion.db import upgrade
    from companion.services import Services

    cfg = Config(var_dir=root / "var", database_url=f"sqlite:///{root / 'companion.db'}",
                 redis_url="redis://127.0.0.1:1/0", testing=True, live_max_sessions=16,
                 live_jack_period=jack_period)
    upgrade(cfg.database_url)
    svc = Services(cfg)
    with svc.db.session() as s:
        seed_members(s, svc.band)
    return svc


def identities():
    from companion.band.identity import Identity

    member = Identity(kind="member", role="member", member_id="ivory", name="Ivory", rights=frozenset({"live.run"}))
    fan = Identity(kind="listener", role="listener", member_id=None, name="fan", rights=frozenset(), token_id="fan-1")
    return member, fan


def runner_of(svc, sid):
    from companion.live import service

    return service._RUNNERS[(svc.config.database_url, sid)]


def measure_listeners(svc, beeps: int) -> dict:
    """WebRTC and HLS latency of beeps, and a vote's effect, in one session."""
    from companion.live import service
    from companion.live.analysis import chroma, read_mono, scale_share
    from tests.live.webrtc import listen

    member, fan = identities()
    st = service.start_session(svc, member, {"key": "D minor", "tempo": 120}, seed=3)
    sid = st["id"]
    runner = runner_of(svc, sid)
    hls = service.hls_dir(svc, sid)
    arrivals: list[tuple[float, np.ndarray]] = []
    listed: dict[str, float] = {}
    segments: dict[str, bytes] = {}
    stop = threading.Event()

    def watch_playlist():
        while not stop.is_set():
            try:
                text = (hls / "live.m3u8").read_text()
            except OSError:
                text = ""
            now = time.time()
            for line in text.splitlines():
                if line.endswith(".m4s") and line not in listed:
                    listed[line] = now
                    try:  # kept now: the sliding window deletes old segments
                        segments[line] = (hls / line).read_bytes()
                    except OSError:
                        pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch_playlist, daemon=True)
    watcher.start()
    cues: list[float] = []
    result: dict = {}

    def schedule():
        time.sleep(2.0)  # the peer connects
        for i in range(beeps):
            at = time.time() + 0.4
            runner.band.cue(at, frequency=BEEP_HZ, amplitude=0.9)
            cues.append(at)
            time.sleep(1.7)

    sched = threading.Thread(target=schedule)
    sched.start()
    rtc = st["webrtc"]
    pcm, rate = listen(rtc["janus"], rtc["mountpoint"], seconds=2.0 + beeps * 1.7 + 1.0,
                       on_frame=lambda t, x: arrivals.append((t, x.copy())))
    sched.join()
    # WebRTC: the first frame holding each beep
    webrtc = []
    for at in cues:
        for t, x in arrivals:
            if t >= at - 0.02 and beep_in(x, rate, min_rms=0.01):
                webrtc.append((t - at) * 1000)
                break
    # HLS: the segment holding each beep, and when it was listed
    time.sleep(2.5)
    init = (hls / "init.mp4").read_bytes() if (hls / "init.mp4").exists() else b""
    found = []
    for name, t_listed in sorted(listed.items(), key=lambda kv: kv[1]):
        if name not in segments:
            continue
        data = init + segments[name]
        raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "-", "-f", "f32le", "-ac", "1", "-ar", "48000",
                              "-"], input=data, capture_output=True).stdout
        x = np.frombuffer(raw, dtype="<f4")
        if beep_in(x, 48000):
            prior = [c for c in cues if c <= t_listed]
            if prior:
                found.append(t_listed - prior[-1])
    hold = 3 * svc.config.live_hls_seconds

    # a vote for another key, heard in the recording
    def wait(pred, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            s = service.get_state(svc, sid)
            if pred(s):
                return s
            time.sleep(0.05)
        raise RuntimeError("timed out")

    vote = service.cast_vote(svc, fan, sid, "key", "E major")
    applied = wait(lambda s: s["applied"])["applied"][0]
    wait(lambda s: s["bar"] >= applied["bar"] + 2)
    time.sleep(2.5)
    final = service.stop_session(svc, member, sid)
    stop.set()
    rec = final["recording"]
    kept = service.work_dir(svc, sid) / "kept"
    tonal = read_mono(kept / "ivory.wav")[0] + read_mono(kept / "chops.wav")[0]
    sr = rec["sample_rate"]
    heard = None
    for b in final["bars"]:
        if b["number"] > vote["round"] and b["start"] + b["length"] <= rec["seconds"]:
            c = chroma(tonal, sr, b["start"], b["length"])
            if scale_share(c, "E major") > scale_share(c, "D minor") + 0.1:
                heard = b["number"]
                break
    result.update(
        listener_webrtc_ms=round(statistics.median(webrtc), 1) if webrtc else None,
        webrtc_beeps_heard=f"{len(webrtc)}/{len(cues)}",
        hls_available_s=round(statistics.median(found), 3) if found else None,
        hls_beeps_found=f"{len(found)}/{len(cues)}",
        hls_hold_back_s=hold,
        listener_hls_s=round(statistics.median(found) + hold, 2) if found else None,
        vote_round=vote["round"], vote_applied_bar=applied["bar"], vote_heard_bar=heard,
        vote_to_sound_bars=(heard - vote["round"]) if heard else None,
    )
    return result


def measure_members(svc, beeps: int, receiver_prefetch: int = 1) -> dict:
    """Mouth to ear between two members in one session's room: member A's microphone (an aiortc track)
    carries 9 kHz beeps; member B's decoded frames are searched for them (both peers in this process).

    B's receiver is the bench's instrument: aiortc's audio jitter buffer waits for a fixed 4 packets (80 ms)
    before it decodes, whatever the link; a member's browser (Chromium's NetEq) adapts its buffer to the
    jitter it sees, and on a loopback with none it settles at about one packet. ``receiver_prefetch`` sets
    the instrument's buffer to that (1 packet by default; 4 is aiortc's own), reported beside the figure."""
    import asyncio
    import fractions

    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.jitterbuffer import JitterBuffer
    from aiortc.mediastreams import AudioStreamTrack
    from av import AudioFrame

    from companion.band.identity import Identity
    from companion.live import service

    member, _ = identities()
    st = service.start_session(svc, member, {"tempo": 120}, seed=5)
    sid = st["id"]
    a_id = Identity(kind="member", role="member", member_id="chops", name="Chops", rights=frozenset({"live.run"}))
    b_id = Identity(kind="member", role="member", member_id="verse", name="Verse", rights=frozenset({"live.run"}))
    sent: list[float] = []
    heard: list[tuple[float, np.ndarray, int | None]] = []
    arrived: dict[int, float] = {}  # RTP timestamp -> when B's socket got the packet (before its jitter buffer)
    rate = 48000

    class Beeper(AudioStreamTrack):
        def __init__(self):
            super().__init__()
            self.n, self.t0, self.next_beep, self.left = 0, None, None, 0

        async def recv(self):
            if self.t0 is None:
                self.t0 = time.time()
                self.next_beep = self.t0 + 3.0
            wait = self.t0 + self.n / rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            pcm = np.zeros(960, dtype=np.int16)
            now = time.time()
            if self.left == 0 and len(sent) < beeps and now >= self.next_beep:
                self.left, self.next_beep = 3, now + 1.5
                sent.append(now)  # the frame leaves the "mouth" now
            if self.left:
                t = (np.arange(960) + self.n) / rate
                pcm = (0.8 * 32767 * np.sin(2 * np.pi * BEEP_HZ * t)).astype(np.int16)
                self.left -= 1
            frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, self.n, fractions.Fraction(1, rate)
            self.n += 960
            return frame

    async def run():
        loop = asyncio.get_running_loop()
        pcs = []
        for ident, track in ((b_id, None), (a_id, Beeper())):
            pc = RTCPeerConnection()
            pcs.append(pc)
            if track is not None:
                pc.addTrack(track)
            else:
                receiver = pc.addTransceiver("audio", direction="recvonly").receiver
                # the instrument's jitter buffer (aiortc makes it with prefetch=4, no setting for it)
                receiver._RTCRtpReceiver__jitter_buffer = JitterBuffer(capacity=16, prefetch=receiver_prefetch)
                handle = receiver._handle_rtp_packet

                async def arrival(packet, arrival_time_ms):  # the room's packet reaches member B
                    arrived.setdefault(packet.timestamp, time.time())
                    return await handle(packet, arrival_time_ms)
                receiver._handle_rtp_packet = arrival

                @pc.on("track")
                def on_track(t):
                    async def read():
                        while True:
                            try:
                                frame = await t.recv()
                            except Exception:
                                return
                            pcm = frame.to_ndarray().astype(np.float32)
                            heard.append((time.time(), pcm.reshape(-1, len(frame.layout.channels)).mean(axis=1)
                                          / 32768.0, frame.pts))
                    asyncio.ensure_future(read())
            offer = await pc.createOffer()
            await pc.setLocalDescription(offer)
            ans = await loop.run_in_executor(None, lambda: service.join_room(
                svc, ident, sid, {"type": "offer", "sdp": pc.localDescription.sdp}))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=ans["jsep"]["sdp"], type="answer"))
        await asyncio.sleep(3.0 + beeps * 1.5 + 2.0)
        for pc in pcs:
            await pc.close()

    try:
        asyncio.run(run())
    finally:
        service.stop_session(svc, member, sid)
    lat, net = [], []
    for at in sent:
        for t, x, pts in heard:
            if t >= at and beep_in(x, rate, min_rms=0.01):
                lat.append((t - at) * 1000)
                # the same packet on arrival at B (a decoded frame carries its packet's RTP time)
                got = arrived.get(pts) if pts is not None else None
                if got is not None:
                    net.append((got - at) * 1000)
                break
    out = {"member_to_member_ms": round(statistics.median(lat), 1) if lat else None,
           "member_beeps_heard": f"{len(lat)}/{len(sent)}", "member_receiver_prefetch_packets": receiver_prefetch}
    # where it goes: up to B's socket (A's encoder, Janus' prebuffer, mixing tick and encoder: the system),
    # and the rest in B's receiver (the instrument's jitter buffer, receiver_prefetch packets, and its
    # decoder: the bench's instrument, not the system)
    out["member_to_member_arrival_ms"] = round(statistics.median(net), 1) if net else None
    out["member_receiver_ms"] = (round(out["member_to_member_ms"] - out["member_to_member_arrival_ms"], 1)
                                 if lat and net else None)
    return out


def xruns(work: Path) -> list[str]:
    """The lines of jackd's and the capture's logs that report an xrun (an underrun or overrun)."""
    out = []
    for log in ("jackd.log", "capture.log"):
        try:
            text = (work / log).read_text(errors="replace")
        except OSError:
            continue
        out += [f"{log}: {line.strip()}" for line in text.splitlines() if "xrun" in line.lower()]
    return out


MEMBER_NAMES = ("verse", "reed", "brass", "form")


def _members_process(conn, nice: int) -> None:
    """The members' side (their machines), in a process of its own at a lower priority: aiortc peers, each
    playing its instrument (a tone that moves, paced at real time) into its session's room and hearing its
    mix-minus. The parent answers each offer through the companion (join_room), then asks what each heard
    over a window."""
    import asyncio
    import fractions

    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack
    from av import AudioFrame

    os.nice(nice)
    rate, heard, pcs = 48000, {}, []

    class Instrument(AudioStreamTrack):
        def __init__(self, hz):
            super().__init__()
            self.hz, self.n, self.t0 = hz, 0, None

        async def recv(self):
            if self.t0 is None:
                self.t0 = time.time()
            wait = self.t0 + self.n / rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            t = (np.arange(960) + self.n) / rate
            # a note a beat (120 bpm), a fifth apart every other beat, with its own decay
            hz = self.hz * (1.5 if int(t[0] * 2) % 2 else 1.0)
            env = np.exp(-3.0 * (t % 0.5))
            pcm = (0.3 * 32767 * env * np.sin(2 * np.pi * hz * t)).astype(np.int16)
            frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, self.n, fractions.Fraction(1, rate)
            self.n += 960
            return frame

    def window(t0, t1):
        """Per member: the share of the window's audio it was given, its longest silence (ms) and how
        loud its mix-minus was (dBFS: the robots, so not silence)."""
        out = {}
        for who, got in heard.items():
            inside = [(t, n, p) for t, n, p in got if t0 <= t <= t1]
            edges = [t0, *(t for t, _, _ in inside), t1]
            gap = max(b - a for a, b in zip(edges, edges[1:]))
            power = float(np.mean([p for _, _, p in inside])) if inside else 0.0
            out[who] = {"share": round(sum(n for _, n, _ in inside) / (rate * (t1 - t0)), 3),
                        "longest_gap_ms": round(gap * 1000),
                        "rms_dbfs": round(10 * np.log10(power), 1) if power > 0 else None}
        return out

    async def main():
        loop = asyncio.get_running_loop()
        recv = lambda: loop.run_in_executor(None, conn.recv)  # noqa: E731
        while True:
            msg = await recv()
            if msg[0] == "join":
                _, sid, name, hz = msg
                pc = RTCPeerConnection()
                pcs.append(pc)
                pc.addTrack(Instrument(hz))  # sendrecv: it plays and hears its mix-minus
                got = heard.setdefault(f"{sid}:{name}", [])

                @pc.on("track")
                def on_track(track, got=got):
                    async def read():
                        while True:
                            try:
                                frame = await track.recv()
                            except Exception:
                                return
                            x = frame.to_ndarray().astype(np.float32) / 32768.0
                            got.append((time.time(), frame.samples, float(np.mean(x * x))))
                    asyncio.ensure_future(read())
                await pc.setLocalDescription(await pc.createOffer())
                conn.send(pc.localDescription.sdp)
                answer = await recv()
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
                conn.send("joined")
            elif msg[0] == "window":
                conn.send(window(msg[1], msg[2]))
            else:  # close
                for pc in pcs:
                    await pc.close()
                use = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(round(use.ru_utime + use.ru_stime, 2))
                return

    asyncio.run(main())


class Members:
    """Members jamming in the sessions' rooms, for the sessions figure: each session's members' peers run in
    a process of their own (``_members_process``) niced by ``nice``, standing in for the members' own
    machines: they share these cores, but a real server would not run them, so they yield to what is
    measured. What each member hears is counted, so a room that starves its members (or a machine too busy
    to feed them) shows as a failure too."""

    def __init__(self, svc, nice: int = 10):
        self.svc, self.nice, self.sides, self.cpu_s = svc, nice, [], None

    def join(self, sids: list[int], per_session: int) -> None:
        import multiprocessing

        from companion.band.identity import Identity
        from companion.live import service

        ctx = multiprocessing.get_context("spawn")
        for sid in sids:
            conn, child = ctx.Pipe()
            proc = ctx.Process(target=_members_process, args=(child, self.nice), daemon=True)
            proc.start()
            self.sides.append((conn, proc))
            for j in range(per_session):
                name = MEMBER_NAMES[j % len(MEMBER_NAMES)]
                ident = Identity(kind="member", role="member", member_id=name, name=name.title(),
                                 rights=frozenset({"live.run"}))
                conn.send(("join", sid, name, 220.0 * (1 + j)))
                ans = service.join_room(self.svc, ident, sid, {"type": "offer", "sdp": conn.recv()})
                conn.send(ans["jsep"]["sdp"])
                if conn.recv() != "joined":
                    raise RuntimeError(f"member {name} did not join session {sid}")

    def heard_between(self, t0: float, t1: float) -> dict:
        out = {}
        for conn, _ in self.sides:
            conn.send(("window", t0, t1))
            out.update(conn.recv())
        return out

    def close(self) -> None:
        cpu = 0.0
        for conn, proc in self.sides:
            try:
                conn.send(("close",))
                if conn.poll(30):
                    cpu += conn.recv()
            finally:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
        self.cpu_s = round(cpu, 2)


def hold_sessions(svc, k: int, hold: float, members: int) -> dict:
    """Start ``k`` sessions, each with the robots and ``members`` members in its room; after a warm-up, hold
    them ``hold`` seconds and say what went wrong, if anything."""
    from companion.live import service

    member, _ = identities()
    ids, peers = [], Members(svc)
    try:
        try:
            for i in range(k):
                ids.append(service.start_session(svc, member, {"tempo": 120}, seed=10 + i)["id"])
        except Exception as exc:  # a session that cannot start (jack2's limit on servers, ports): the ceiling
            say(f"session {len(ids) + 1} of {k} did not start: {exc}")
            return {"sessions": k, "players_per_session": 3 + members, "started": len(ids),
                    "error": f"{type(exc).__name__}: {exc}"[:300], "held": False}
        peers.join(ids, members)
        time.sleep(3.0)  # warm-up: connections and the first bars
        works = [service.work_dir(svc, sid) for sid in ids]
        before = [len(xruns(w)) for w in works]
        t0 = time.time()
        time.sleep(hold)
        t1 = time.time()
        new = [line for w, n in zip(works, before) for line in xruns(w)[n:]]
        statuses = [service.get_state(svc, sid)["status"] for sid in ids]
        heard = peers.heard_between(t0, t1)
    finally:
        peers.close()
        for sid in ids:
            try:
                service.stop_session(svc, member, sid)
            except Exception as exc:  # already ended (a crash): reported below
                say(f"stop {sid}: {exc}")
    starved = {who: h for who, h in heard.items()
               if h["share"] < 0.95 or h["longest_gap_ms"] > 100 or (h["rms_dbfs"] or -999) < -50}
    return {"sessions": k, "players_per_session": 3 + members, "xruns": len(new), "xrun_lines": new[:6],
            "statuses": statuses, "members_heard": len(heard), "members_starved": starved,
            "worst_member_gap_ms": max((h["longest_gap_ms"] for h in heard.values()), default=None),
            "quietest_member_dbfs": min((h["rms_dbfs"] for h in heard.values() if h["rms_dbfs"] is not None),
                                        default=None),
            "members_cpu_s": peers.cpu_s, "hold_s": round(t1 - t0, 1),
            "held": not new and all(s == "live" for s in statuses) and len(heard) == k * members and not starved}


def measure_sessions(svc, max_sessions: int, hold: float, members: int, tries: int) -> tuple[int, list[dict]]:
    """1, 2, 3... sessions at once; the most held with no xrun (jackd, the capture) and every member given
    its audio (the robots, louder than -50 dBFS) without a gap over 100 ms. A count that fails is tried
    again, up to ``tries`` times (the machine is shared: one stray xrun from a neighbour is not a ceiling);
    every try is in the rows."""
    best, rows = 0, []
    for k in range(1, max_sessions + 1):
        held = False
        for attempt in range(1, tries + 1):
            row = hold_sessions(svc, k, hold, members)
            row["try"] = attempt
            rows.append(row)
            if "error" in row:
                continue
            say(f"{k} session(s) of 3 robots + {members} member(s), try {attempt}: {row['xruns']} xruns after "
                f"warm-up {row['xrun_lines'][:2]}, {row['statuses']}, worst member gap "
                f"{row['worst_member_gap_ms']} ms, quietest {row['quietest_member_dbfs']} dBFS, "
                f"starved {sorted(row['members_starved'])}")
            if row["held"]:
                held = True
                break
        if not held:
            break
        best = k
    return best, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beeps", type=int, default=15)
    ap.add_argument("--max-sessions", type=int, default=8)
    ap.add_argument("--hold", type=float, default=8.0)
    ap.add_argument("--members", type=int, default=1,
                    help="members (aiortc peers) in each session's room beside its 3 robots (1: 4 players)")
    ap.add_argument("--jack-period", type=int, default=1024,
                    help="the sessions' JACK period in frames at 48 kHz (SCRIPTHAMMER_LIVE_JACK_PERIOD; default 1024)")
    ap.add_argument("--tries", type=int, default=2, help="tries for a count of sessions before it is the ceiling")
    ap.add_argument("--parts", default="listeners,members,sessions",
                    help="which figures to measure (comma-separated: listeners, members, sessions)")
    ap.add_argument("--receiver-prefetch", type=int, default=1,
                    help="packets member B's receiver (aiortc) buffers before decoding (aiortc's own: 4)")
    args = ap.parse_args()
    t_wall = time.time()
    with tempfile.TemporaryDirectory(prefix="shm-bench-live-") as tmp:
        svc = make_services(Path(tmp), args.jack_period)
        try:
            out, parts, best, rows = {}, set(args.parts.split(",")), 0, []
            if "listeners" in parts:
                say("one session: WebRTC and HLS listeners, a vote")
                out.update(measure_listeners(svc, args.beeps))
                say(json.dumps(out))
            if "members" in parts:
                say("two members in the room")
                out.update(measure_members(svc, args.beeps, args.receiver_prefetch))
                say(json.dumps(out))
            if "sessions" in parts:
                say("sessions at once")
                best, rows = measure_sessions(svc, args.max_sessions, args.hold, args.members, args.tries)
        finally:
            svc.close()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cores = os.cpu_count() or 1
    if "sessions" in parts:
        out.update(sessions_per_core=round(best / cores, 2), sessions_held=best, sessions_tried=rows,
                   players_per_session=3 + args.members)
    out.update(
        jack_period=args.jack_period, wall_s=round(time.time() - t_wall, 1), cpu_s=round(me.ru_utime + me.ru_stime, 2),
        children_cpu_s=round(kids.ru_utime + kids.ru_stime, 2), cores=cores,
        load_avg_1m=round(os.getloadavg()[0], 2), python=platform.python_version(),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
