"""The real-time rig of one live session: a JACK server (dummy driver where there is no sound card),
scsynth running in real time on it, and ffmpeg capturing the session's JACK ports into the recording
(one mono WAV stem per robot, a stereo WAV mix) and the live HLS broadcast (fMP4/AAC, a sliding-window
playlist of short segments) at once, so stems, mix and broadcast share one clock.

Every program runs in a process group of its own with the session's own JACK server name
(``JACK_DEFAULT_SERVER``) and UDP port, so several sessions on one machine never cross. The companion
never carries audio itself: it starts these programs, wires their ports with ``jack_connect`` and
sends scsynth OSC.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from companion.errors import ServiceUnavailable


class RigError(ServiceUnavailable):
    code = "live_rig_failed"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: jack2 keeps one registry of at most 8 servers a machine (its MAX_SERVERS). A server that dies without
#: unregistering (SIGKILL, a crash) keeps its entry, and only a server of the same name reclaims it: with a
#: fresh name per session, 8 such deaths would leave no JACK server startable on the machine until a
#: reboot. So rigs take their server names from 8 slots, each held by a file lock for the rig's life (a
#: dead holder's lock goes with it), and a stale entry is reclaimed by the next rig in its slot.
JACK_SLOTS = 8


def _slot_dir() -> Path:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    path = base / f"scripthammer-jack-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def take_jack_slot(lsp: str) -> tuple[str, int]:
    """A free JACK server slot: its server name and the locked file descriptor holding it (close it to
    give the slot back). A slot whose name still answers (a server left running by a companion that was
    killed) is passed over."""
    folder = _slot_dir()
    for n in range(JACK_SLOTS):
        fd = os.open(folder / f"slot-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        name = f"scripthammer-live-{n}"
        env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
        answered = subprocess.run([lsp], env=env, capture_output=True, timeout=10).returncode == 0
        if not answered:
            return name, fd
        os.close(fd)
    raise RigError("Every JACK server slot on this machine is in use (jack2 runs at most 8 servers).",
                   code="live_jack_slots_full", details={"slots": JACK_SLOTS})


def need(program: str, package: str) -> str:
    exe = shutil.which(program)
    if exe is None:
        raise ServiceUnavailable(f"{program} is not installed (apt-get install {package}).",
                                 code="live_program_missing", details={"program": program, "package": package})
    return exe


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
    """Stop ``proc``'s process group: ``sig``, then SIGKILL after ``timeout``; reap it."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(5)


@dataclass
class Rig:
    """jackd + scsynth + the ffmpeg capture of one session, in ``work`` (logs, recording, HLS)."""

    work: Path
    stems: list[str]  # one mono stem (and scsynth output channel) per robot, in this order
    sample_rate: int = 48000
    period: int = 1024
    hls_time: float = 1.0
    hls_list_size: int = 6
    driver: str = "dummy"
    server_name: str | None = None  # taken from a JACK slot (take_jack_slot) when the rig starts
    osc_port: int = field(default_factory=free_udp_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    capture_started: float | None = None  # time.time() when the capture was wired
    # also send the mix as Opus/RTP to these ports (Janus), each from a local port when given (an
    # AudioBridge plain-RTP participant takes RTP only from the address it sends the mix-minus to)
    rtp_ports: list[tuple[int, int | None]] = field(default_factory=list)
    slot_fd: int | None = None  # the lock holding this rig's JACK slot

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "JACK_DEFAULT_SERVER": self.server_name, "JACK_NO_START_SERVER": "1"}

    @property
    def hls_dir(self) -> Path:
        return self.work / "hls"

    @property
    def mix_path(self) -> Path:
        return self.work / "mix.wav"

    def stem_path(self, name: str) -> Path:
        return self.work / f"stem-{name}.wav"

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=self.env, start_new_session=True, cwd=self.work)
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        try:
            return (self.work / f"{name}.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _wait_ports(self, wanted: list[str], timeout: float = 15.0) -> None:
        lsp = need("jack_lsp", "jackd2")
        deadline = time.time() + timeout
        have: set[str] = set()
        while time.time() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RigError(f"{name} exited while the live rig started", details={"log": self.log(name)})
            r = subprocess.run([lsp], env=self.env, capture_output=True, text=True)
            have = set(r.stdout.split())
            if all(w in have for w in wanted):
                return
            time.sleep(0.1)
        raise RigError("the live rig's JACK ports did not appear", details={"wanted": wanted, "have": sorted(have)})

    def start(self) -> None:
        """Start JACK, scsynth and the capture, and wire scsynth's outputs into the capture."""
        self.work.mkdir(parents=True, exist_ok=True)
        self.hls_dir.mkdir(exist_ok=True)
        jackd = need("jackd", "jackd2")
        scsynth = need("scsynth", "supercollider-server")
        ffmpeg = need("ffmpeg", "ffmpeg")
        n = len(self.stems)
        if self.server_name is None:
            self.server_name, self.slot_fd = take_jack_slot(need("jack_lsp", "jackd2"))
        try:
            self._spawn("jackd", [jackd, "-n", self.server_name, "-d", self.driver,
                                  "-r", str(self.sample_rate), "-p", str(self.period)])
            self._wait_ports([], timeout=10)
            # wait until the server answers (jack_lsp lists system ports once it runs)
            self._wait_ports(["system:playback_1"] if self.driver == "dummy" else [], timeout=10)
            self._spawn("scsynth", [scsynth, "-u", str(self.osc_port), "-B", "127.0.0.1", "-H", "sc",
                                    "-i", "0", "-o", str(n), "-R", "0", "-l", "4"])
            self._wait_ports([f"sc:out_{i + 1}" for i in range(n)])
            # timestamps from the sample count (JACK's wall-clock ones jitter), then one branch per output
            graph = f"[0:a]asetpts=N/SR/TB,asplit={n + 1}" + "".join(f"[in{i}]" for i in range(n + 1)) + ";"
            outs = 2 + len(self.rtp_ports)
            graph += ";".join(f"[in{i}]pan=mono|c0=c{i}[s{i}]" for i in range(n))
            mixsum = "+".join(f"c{i}" for i in range(n))
            graph += f";[in{n}]pan=stereo|c0={mixsum}|c1={mixsum},asplit={outs}[mixwav][mixhls]"
            graph += "".join(f"[mixrtp{i}]" for i in range(len(self.rtp_ports)))
            # JACK hands ffmpeg's jack input a period into one of 16 packets that ffmpeg's reading loop
            # gives back; when encoding (AAC, Opus) holds that loop for 16 periods, JACK finds none and
            # the capture loses audio ("Audio packet xrun"). With a second input ffmpeg reads each input
            # in a thread of its own (a queue of thread_queue_size packets), so encoding no longer
            # stalls the JACK side. The second input (silence) is never used.
            cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "warning", "-thread_queue_size", "1024",
                   "-f", "jack", "-channels", str(n), "-i", "cap",
                   "-f", "lavfi", "-i", f"anullsrc=r={self.sample_rate}:cl=mono",
                   "-filter_complex", graph]
            for i, name in enumerate(self.stems):
                cmd += ["-map", f"[s{i}]", "-c:a", "pcm_s16le", "-y", str(self.stem_path(name))]
            cmd += ["-map", "[mixwav]", "-c:a", "pcm_s16le", "-y", str(self.mix_path)]
            cmd += ["-map", "[mixhls]", "-c:a", "aac", "-b:a", "128k", "-f", "hls",
                    "-hls_time", str(self.hls_time), "-hls_list_size", str(self.hls_list_size),
                    "-hls_flags", "delete_segments+independent_segments+omit_endlist",
                    "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
                    "-hls_segment_filename", str(self.hls_dir / "seg%05d.m4s"), str(self.hls_dir / "live.m3u8")]
            for i, (port, local) in enumerate(self.rtp_ports):
                cmd += ["-map", f"[mixrtp{i}]", "-c:a", "libopus", "-b:a", "128k", "-application", "audio",
                        "-frame_duration", "20", "-payload_type", "111", "-f", "rtp",
                        f"rtp://127.0.0.1:{port}?pkt_size=1200" + (f"&localport={local}" if local else "")]
            self._spawn("capture", cmd)
            self._wait_ports([f"cap:input_{i + 1}" for i in range(n)])
            connect = need("jack_connect", "jackd2")
            for i in range(n):
                subprocess.run([connect, f"sc:out_{i + 1}", f"cap:input_{i + 1}"], env=self.env, check=True,
                               capture_output=True)
            self.capture_started = time.time()
        except BaseException:
            self.stop()
            raise

    def dead(self) -> str | None:
        """The name of a rig program that has exited (a crash), or None while all run."""
        for name in ("jackd", "scsynth", "capture"):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        """Stop the capture first (SIGINT: ffmpeg finishes the WAV headers and the playlist), then
        scsynth and JACK."""
        stop_process(self.procs.get("capture"), signal.SIGINT, timeout=10)
        stop_process(self.procs.get("scsynth"))
        stop_process(self.procs.get("jackd"))
        self.release_shared_memory()
        if self.slot_fd is not None:  # the JACK server has ended: its slot is free again
            os.close(self.slot_fd)
            self.slot_fd = None

    @property
    def shared_memory(self) -> Path:
        """The shared memory scsynth makes for its clients (buses, scope), named by its UDP port. scsynth
        leaves it behind whenever it ends, signalled or crashed: 8 MB of RAM a session until a reboot."""
        return Path("/dev/shm") / f"SuperColliderServer_{self.osc_port}"

    def release_shared_memory(self) -> None:
        scsynth = self.procs.get("scsynth")
        if scsynth is not None and scsynth.poll() is not None:  # only once it has ended: the port is ours
            self.shared_memory.unlink(missing_ok=True)
