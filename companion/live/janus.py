"""Janus (Debian's ``janus``): the WebRTC server listeners hear a live session through.

:class:`JanusServer` runs one Janus with a configuration folder of its own (written here from the
Debian layout: the HTTP transport on its own ports, the admin API on, only the plugins the live room
uses loaded), in a process group of its own. :class:`JanusClient` speaks Janus' plain HTTP API
(sessions, plugin handles, messages, the long-poll event stream) and its admin API. The session's
mix reaches Janus as Opus over RTP from the rig's ffmpeg into a Streaming-plugin mountpoint that
:meth:`JanusClient.create_rtp_mountpoint` makes; a listener's browser (or aiortc) watches it.
"""
from __future__ import annotations

import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from companion.errors import ServiceUnavailable
from companion.live.engine import need, stop_process

LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
KEEP_PLUGINS = ("libjanus_streaming.so", "libjanus_audiobridge.so", "libjanus_textroom.so")
KEEP_TRANSPORTS = ("libjanus_http.so",)
#: Opus at music settings in the members' room: what Janus encodes each mix-minus at, and what the
#: browsers are asked to send (their SDP's fmtp; studio/src/session-room.js)
MUSIC_BITRATE = 128000
#: the room's groups: humans (members and guests) and the robots
GROUPS = ("band", "robots")
MUSIC_FMTP = {"stereo": "1", "sprop-stereo": "1", "maxaveragebitrate": str(MUSIC_BITRATE), "usedtx": "0"}


def music_fmtp(sdp: str) -> str:
    """``sdp`` with every Opus payload's fmtp asking for music settings (:data:`MUSIC_FMTP`): stereo,
    128 kbit/s, no DTX; the other fmtp parameters kept. The same rule as the browser's
    (studio/src/session-room.js), applied by the companion to Janus' answer too."""
    import re

    lines = sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n")
    pts = {m.group(1) for line in lines if (m := re.match(r"a=rtpmap:(\d+) opus/48000", line, re.I))}
    out = []
    for line in lines:
        m = re.match(r"a=fmtp:(\d+) ?(.*)", line)
        if m and m.group(1) in pts:
            params = [p.strip() for p in m.group(2).split(";") if p.strip()]
            kept = [p for p in params if p.split("=")[0].strip().lower() not in MUSIC_FMTP]
            line = f"a=fmtp:{m.group(1)} " + ";".join(kept + [f"{k}={v}" for k, v in MUSIC_FMTP.items()])
            pts.discard(m.group(1))
        out.append(line)
        am = re.match(r"a=rtpmap:(\d+) opus/48000", line, re.I)
        if am and not any(x.startswith(f"a=fmtp:{am.group(1)} ") for x in lines):
            out.append(f"a=fmtp:{am.group(1)} " + ";".join(f"{k}={v}" for k, v in MUSIC_FMTP.items()))
            pts.discard(am.group(1))
    return ("\r\n" if "\r\n" in sdp else "\n").join(out)


class JanusError(ServiceUnavailable):
    code = "janus_failed"


def _free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lib_dir() -> Path:
    for cand in (LIB, Path("/usr/lib/janus"), Path("/usr/local/lib/janus")):
        if (cand / "plugins").is_dir():
            return cand
    raise ServiceUnavailable("Janus' plugins are not installed (apt-get install janus).", code="live_program_missing",
                             details={"program": "janus", "package": "janus"})


def _disable(folder: Path, keep: tuple[str, ...]) -> str:
    names = sorted({p.name.split(".so")[0] + ".so" for p in folder.glob("*.so*")})
    return ",".join(n for n in names if n not in keep)


@dataclass
class JanusServer:
    work: Path
    http_port: int = field(default_factory=_free_tcp_port)
    admin_port: int = field(default_factory=_free_tcp_port)
    admin_secret: str = field(default_factory=lambda: secrets.token_hex(12))
    rtp_range: str = "20000-40000"
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/admin"

    def write_config(self) -> Path:
        lib = _lib_dir()
        conf = self.work / "janus-conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "janus.jcfg").write_text(f"""general: {{
	configs_folder = "{conf}"
	plugins_folder = "{lib / 'plugins'}"
	transports_folder = "{lib / 'transports'}"
	events_folder = "{lib / 'events'}"
	loggers_folder = "{lib / 'loggers'}"
	debug_level = 4
	admin_secret = "{self.admin_secret}"
	server_name = "scripthammer-live"
	session_timeout = 0
}}
media: {{
	rtp_port_range = "{self.rtp_range}"
}}
nat: {{
	nice_debug = false
	ice_ignore_list = "vmnet"
}}
plugins: {{
	disable = "{_disable(lib / 'plugins', KEEP_PLUGINS)}"
}}
transports: {{
	disable = "{_disable(lib / 'transports', KEEP_TRANSPORTS)}"
}}
events: {{
	broadcast = false
	disable = "{_disable(lib / 'events', ())}"
}}
loggers: {{
	disable = "{_disable(lib / 'loggers', ())}"
}}
""")
        (conf / "janus.transport.http.jcfg").write_text(f"""general: {{
	json = "compact"
	base_path = "/janus"
	http = true
	port = {self.http_port}
	ip = "127.0.0.1"
	https = false
}}
admin: {{
	admin_base_path = "/admin"
	admin_http = true
	admin_port = {self.admin_port}
	admin_ip = "127.0.0.1"
	admin_https = false
}}
cors: {{
}}
""")
        (conf / "janus.plugin.streaming.jcfg").write_text("general: {\n}\n")
        # plain-RTP participants (the robots) on loopback: nothing of the session leaves the host that way
        (conf / "janus.plugin.audiobridge.jcfg").write_text('general: {\n\tlocal_ip = "127.0.0.1"\n}\n')
        (conf / "janus.plugin.textroom.jcfg").write_text("general: {\n\tjson = \"compact\"\n}\n")
        return conf

    def start(self, timeout: float = 20.0) -> None:
        exe = need("janus", "janus")
        conf = self.write_config()
        log = open(self.work / "janus.log", "wb")
        self.proc = subprocess.Popen([exe, "-F", str(conf), "-C", str(conf / "janus.jcfg"), "-o"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.work)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise JanusError("janus exited while starting", details={"log": self.log()})
            try:
                r = requests.post(self.url, json={"janus": "info", "transaction": "t"}, timeout=1)
                if r.ok and "janus.plugin.streaming" in r.json().get("plugins", {}):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise JanusError("janus did not answer", details={"log": self.log()})

    def log(self) -> str:
        try:
            return (self.work / "janus.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def dead(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> None:
        stop_process(self.proc)


class JanusClient:
    """Janus' plain HTTP API: one Janus session, plugin handles, synchronous requests and events."""

    def __init__(self, url: str, admin_url: str | None = None, admin_secret: str | None = None, timeout: float = 10):
        self.url = url
        self.admin_url = admin_url
        self.admin_secret = admin_secret
        self.timeout = timeout
        self.session_id: int | None = None

    def _post(self, url: str, body: dict) -> dict:
        body = {"transaction": uuid.uuid4().hex[:12], **body}
        try:
            r = requests.post(url, json=body, timeout=self.timeout)
            data = r.json()
        except (requests.RequestException, ValueError) as exc:
            raise JanusError(f"Janus did not answer: {exc}") from exc
        if data.get("janus") == "error":
            raise JanusError(f"Janus refused {body.get('janus')}: {data['error'].get('reason')}",
                             details={"janus_code": data["error"].get("code")})
        return data

    def create_session(self) -> int:
        self.session_id = self._post(self.url, {"janus": "create"})["data"]["id"]
        return self.session_id

    def attach(self, plugin: str) -> int:
        if self.session_id is None:
            self.create_session()
        return self._post(f"{self.url}/{self.session_id}", {"janus": "attach", "plugin": plugin})["data"]["id"]

    def message(self, handle: int, body: dict, jsep: dict | None = None) -> dict:
        """A plugin request; synchronous answers come back at once, asynchronous ones as events."""
        msg = {"janus": "message", "body": body}
        if jsep:
            msg["jsep"] = jsep
        return self._post(f"{self.url}/{self.session_id}/{handle}", msg)

    def plugin_data(self, handle: int, body: dict) -> dict:
        data = self.message(handle, body)
        out = (data.get("plugindata") or {}).get("data") or {}
        if out.get("error"):
            raise JanusError(f"Janus plugin refused {body.get('request')}: {out['error']}",
                             details={"plugin_code": out.get("error_code")})
        return out

    def events(self, wait: float = 10.0) -> list[dict]:
        """Events for this Janus session (one long poll)."""
        try:
            r = requests.get(f"{self.url}/{self.session_id}", params={"maxev": 10, "rid": int(time.time() * 1000)},
                             timeout=wait + 35)
            data = r.json()
        except (requests.RequestException, ValueError) as exc:
            raise JanusError(f"Janus did not answer: {exc}") from exc
        return data if isinstance(data, list) else [data]

    def keepalive(self) -> None:
        self._post(f"{self.url}/{self.session_id}", {"janus": "keepalive"})

    def admin(self, request: str, **fields) -> dict:
        """An admin API request (``list_sessions``, ``get_status``, ...), with the admin secret."""
        return self._post(self.admin_url, {"janus": request, "admin_secret": self.admin_secret, **fields})

    def create_rtp_mountpoint(self, mount_id: int, port: int, description: str = "live") -> dict:
        """A Streaming mountpoint fed by Opus over RTP on ``port`` (payload type 111)."""
        handle = self.attach("janus.plugin.streaming")
        return self.plugin_data(handle, {"request": "create", "type": "rtp", "id": mount_id,
                                         "description": description, "media": [{
                                             "type": "audio", "mid": "a", "label": "mix", "port": port,
                                             "pt": 111, "codec": "opus",
                                             "fmtp": "stereo=1;sprop-stereo=1;maxaveragebitrate=128000"}]})

    def wait_event(self, handle: int, pred, timeout: float = 10.0) -> dict:
        """The first event from plugin handle ``handle`` that ``pred(event)`` accepts."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for ev in self.events(wait=2):
                if ev.get("sender") != handle:
                    continue
                data = (ev.get("plugindata") or {}).get("data") or {}
                if data.get("error"):
                    raise JanusError(f"Janus plugin refused: {data['error']}",
                                     details={"plugin_code": data.get("error_code")})
                if pred(ev):
                    return ev
        raise JanusError("Janus did not answer in time", code="janus_timeout")

    def create_room(self, room_id: int, record_dir: Path, description: str = "live", prebuffer: int = 1) -> dict:
        """An AudioBridge room at music settings, recording the mix and every participant: 48 kHz, stereo
        mixes (``spatial_audio``: Janus answers ``stereo=1; sprop-stereo=1``, every participant in the
        middle), Opus at 128 kbit/s for every mix-minus (``default_bitrate``), Janus' own encoder
        without DTX (it never turns DTX on), and each participant's level (the browser's RTP audio-level
        extension, averaged over half a second: ``audio-level-dBov`` in the admin API's handle info,
        which the studio's session view shows)."""
        handle = self.attach("janus.plugin.audiobridge")
        return self.plugin_data(handle, {"request": "create", "room": room_id, "description": description,
                                         "sampling_rate": 48000, "record": True, "record_dir": str(record_dir),
                                         "record_file": "room-mix.wav", "mjrs": True,
                                         "mjrs_dir": str(record_dir), "spatial_audio": True,
                                         "default_bitrate": MUSIC_BITRATE,
                                         "audiolevel_event": True, "audio_active_packets": 25,
                                         "audio_level_average": 70,
                                         # packets held per participant before mixing (Janus: 6)
                                         "default_prebuffering": int(prebuffer),
                                         # the members and the robots in groups of their own: the robots
                                         # hear the members' group (rtp_forward_group)
                                         "groups": list(GROUPS),
                                         "allow_rtp_participants": True})

    def forward_group(self, room_id: int, group: str, port: int, payload_type: int = 100) -> int:
        """Forward the mix of ``group``'s participants (Opus, stereo) as RTP to 127.0.0.1:``port``;
        returns the forwarder's id."""
        handle = self.attach("janus.plugin.audiobridge")
        out = self.plugin_data(handle, {"request": "rtp_forward", "room": room_id, "group": group,
                                        "host": "127.0.0.1", "port": port, "codec": "opus",
                                        "ptype": payload_type})
        return int(out.get("stream_id") or 0)

    def list_participants(self, room_id: int) -> list[dict]:
        """Who is in the AudioBridge room now: ``[{"id", "display", "muted", "talking"?}]``."""
        handle = self.attach("janus.plugin.audiobridge")
        return self.plugin_data(handle, {"request": "listparticipants", "room": room_id}).get("participants") or []

    def handle_info(self, session_id: int, handle_id: int) -> dict:
        """The admin API's view of one plugin handle (the AudioBridge's: level, bitrate, stereo...)."""
        return (self.admin("handle_info", session_id=session_id, handle_id=handle_id).get("info") or {})

    def join_plain_rtp(self, room_id: int, display: str, recv_port: int) -> tuple[int, int]:
        """Join ``room_id`` as a plain-RTP participant (Opus, pt 111) that receives its mix-minus on
        ``recv_port``; returns (the port Janus takes the participant's RTP on, the participant id)."""
        handle = self.attach("janus.plugin.audiobridge")
        self.message(handle, {"request": "join", "room": room_id, "display": display, "codec": "opus",
                              "group": "robots", "rtp": {"ip": "127.0.0.1", "port": recv_port, "payload_type": 111}})
        ev = self.wait_event(handle, lambda e: "rtp" in ((e.get("plugindata") or {}).get("data") or {}))
        data = ev["plugindata"]["data"]
        return int(data["rtp"]["port"]), int(data.get("id") or 0)

    def join_webrtc(self, room_id: int, display: str, offer: dict) -> tuple[int, dict, int]:
        """Join ``room_id`` over WebRTC with the peer's SDP ``offer``: (handle, Janus' answer, participant id)."""
        handle = self.attach("janus.plugin.audiobridge")
        # the mix-minus Janus encodes for this member: Opus at 128 kbit/s (music, not speech)
        self.message(handle, {"request": "join", "room": room_id, "display": display, "muted": False,
                              "group": "band",
                              "bitrate": MUSIC_BITRATE}, jsep=offer)
        ev = self.wait_event(handle, lambda e: (e.get("jsep") or {}).get("type") == "answer")
        data = (ev.get("plugindata") or {}).get("data") or {}
        # Janus answers stereo (the room's spatial audio); the bitrate and DTX the member's browser sends
        # with are what the answer's fmtp says, so it says them explicitly
        return handle, {"type": "answer", "sdp": music_fmtp(ev["jsep"]["sdp"])}, int(data.get("id") or 0)

    def destroy(self) -> None:
        if self.session_id is not None:
            try:
                self._post(f"{self.url}/{self.session_id}", {"janus": "destroy"})
            except JanusError:
                pass
            self.session_id = None


__all__ = ["JanusServer", "JanusClient", "JanusError", "music_fmtp", "MUSIC_FMTP", "MUSIC_BITRATE"]
