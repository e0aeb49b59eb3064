"""The robots playing live: the band members' algorithms, bar by bar, on scsynth in real time.

Each phrase (:data:`PHRASE` bars) is written by the members' algorithms (companion/algorithms,
:func:`compose`) from the session's current parameters; the bar about to be played is taken from it
and sent to scsynth as one timestamped OSC bundle (a self-freeing synth per note, on the robot's own
output channel), :attr:`LiveBand.lookahead` seconds before its bar line. When the parameters change,
the phrase is written again with the new ones, so the change is heard from that bar line on.

The session clock: bar 0 is a one-beat count-in click (:data:`CLICK_HZ`) at ``t0``; bar ``n`` starts
at ``t0 + sum of the lengths of bars 0..n-1`` (a bar's length follows the tempo in force for it).
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from fractions import Fraction

from supriya import Envelope, SynthDefBuilder
from supriya.osc import OscBundle, OscMessage
from supriya.ugens import EnvGen, Out, SinOsc

from companion.algorithms.base import Params
from companion.algorithms.generate import compose
from companion.algorithms.instruments import Instrument, load_instruments
from companion.render.synthdefs import midi_to_hz, synthdef_for
from companion.render.timeline import TempoMap, part_notes
from companion.live.robots import ROBOTS

#: bars per phrase the algorithms write at once (the chord progression spans a phrase).
PHRASE = 4
#: the robots and the instruments they play (voices that read sound files are left out live).
LIVE_SYNTHDEFS_SKIPPED = ("sh_vocoder", "sh_sampler")
CLICK_HZ = 2000.0


def click_synthdef():
    with SynthDefBuilder(out=0.0, frequency=CLICK_HZ, amplitude=0.5) as b:
        env = EnvGen.kr(envelope=Envelope.percussive(attack_time=0.001, release_time=0.05), done_action=2)
        Out.ar(bus=b["out"], source=SinOsc.ar(frequency=b["frequency"]) * env * b["amplitude"])
    return b.build(name="sh_live_click")


@dataclass
class BarPlan:
    """What one bar holds: its number, start (session seconds after t0), length and the parameters."""

    number: int
    start: float
    length: float
    params: Params
    notes: int = 0
    notes_by_robot: dict[str, int] = field(default_factory=dict)
    #: what each robot plays in the bar: note names in order ("D4", "F4"; drums: "kit:36")
    pitches_by_robot: dict[str, list[str]] = field(default_factory=dict)


NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: int, percussion: bool = False) -> str:
    return f"kit:{int(midi)}" if percussion else f"{NAMES[int(midi) % 12]}{int(midi) // 12 - 1}"


class OscClient:
    """A UDP OSC sender to one scsynth (plus /sync round trips for loading SynthDefs)."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)

    def send(self, msg) -> None:
        self.sock.sendto(msg.to_datagram(), self.addr)

    def sync(self, timeout: float = 10.0) -> None:
        sync_id = int(time.time() * 1000) % 100000
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.send(OscMessage("/sync", sync_id))
            try:
                data, _ = self.sock.recvfrom(65536)
            except (socket.timeout, ConnectionRefusedError):
                continue
            try:
                msg = OscMessage.from_datagram(data)
            except Exception:
                continue
            if msg.address == "/synced":
                return
        raise TimeoutError("scsynth did not answer /sync")

    def close(self) -> None:
        self.sock.close()


class LiveBand:
    """The robots of one session: ``robots`` (member ids), each on scsynth output channel i."""

    def __init__(self, osc_port: int, params: Params, seed: int = 1, robots=ROBOTS, lookahead: float = 0.3,
                 instruments: dict[str, Instrument] | None = None):
        self.osc = OscClient(osc_port)
        self.params = params
        self.seed = seed
        self.robots = list(robots)
        self.lookahead = lookahead
        insts = instruments or load_instruments()
        self.instruments = [i for i in insts.values()
                            if i.member in self.robots and i.synthdef not in LIVE_SYNTHDEFS_SKIPPED]
        self.synthdefs = {i.id: synthdef_for(i) for i in self.instruments}
        self._phrases: dict[tuple[int, Params], object] = {}
        self.t0: float | None = None
        self.bars: list[BarPlan] = []
        self.node = 1000

    def load(self) -> None:
        """Send the SynthDefs and wait until scsynth has them."""
        defs = {sd.name: sd for sd in self.synthdefs.values()}
        defs["sh_live_click"] = click_synthdef()
        for sd in defs.values():
            self.osc.send(OscMessage("/d_recv", sd.compile()))
        self.osc.send(OscMessage("/g_new", 1, 0, 0))  # the group every note goes to (tail)
        self.osc.sync()

    def bar_seconds(self, params: Params) -> float:
        return 4 * 60.0 / params.tempo  # 4/4, as the algorithms write

    def start(self, at: float | None = None) -> float:
        """Fix the session clock (t0: the count-in click) a little ahead of now; returns t0."""
        self.t0 = at if at is not None else time.time() + self.lookahead + 0.2
        length = self.bar_seconds(self.params)
        self.osc.send(OscBundle(timestamp=self.t0, contents=[OscMessage(
            "/s_new", "sh_live_click", -1, 1, 1, "out", 0.0)]))
        self.bars = [BarPlan(0, 0.0, length, self.params)]
        return self.t0

    def cue(self, at: float, frequency: float = CLICK_HZ, amplitude: float = 0.5, channel: int = 0) -> None:
        """A click at wall time ``at`` on output ``channel`` (a marked moment; bench/live.py's beeps)."""
        self.osc.send(OscBundle(timestamp=at, contents=[OscMessage(
            "/s_new", "sh_live_click", -1, 1, 1, "out", float(channel), "frequency", float(frequency),
            "amplitude", float(amplitude))]))

    def next_bar(self) -> BarPlan:
        """Where and with which parameters the next bar goes (not yet sent)."""
        last = self.bars[-1]
        return BarPlan(last.number + 1, last.start + last.length, self.bar_seconds(self.params), self.params)

    def due(self, bar: BarPlan) -> float:
        """The wall time at which ``bar`` must be sent."""
        return self.t0 + bar.start - self.lookahead

    def _phrase(self, index: int, params: Params):
        key = (index, params)
        if key not in self._phrases:
            comp = compose(None, self.seed * 1000 + index, params, measures=PHRASE, members=self.robots)
            self._phrases = {k: v for k, v in self._phrases.items() if k[0] >= index - 1}
            self._phrases[key] = comp
        return self._phrases[key]

    def play(self, bar: BarPlan) -> BarPlan:
        """Send ``bar`` to scsynth (one bundle at its bar line) and record it."""
        comp = self._phrase((bar.number - 1) // PHRASE, bar.params)
        measure = (bar.number - 1) % PHRASE + 1
        tm = TempoMap(comp)
        m0 = tm.at(measure, Fraction(0))
        scale = bar.length / max(1e-6, tm.at(measure + 1, Fraction(0)) - m0) if measure < comp.measures else \
            bar.length / max(1e-6, tm.end(comp.measures) - m0)
        msgs = []
        for inst in self.instruments:
            channel = self.robots.index(inst.member)
            sd = self.synthdefs[inst.id]
            count = 0
            for n in part_notes(comp, inst.part, tm, upto_measure=measure):
                if n.start < m0 - 1e-9:
                    continue
                offset = (n.start - m0) * scale
                if offset >= bar.length:
                    continue
                freq = float(n.midi) if inst.percussion else midi_to_hz(n.midi)
                amp = 0.6 * (n.velocity / 127.0) ** 1.6
                self.node += 1
                msgs.append((offset, OscMessage("/s_new", sd.name, self.node, 1, 1, "frequency", freq,
                                                "amplitude", amp, "sustain", n.duration * scale, "pan", 0.0,
                                                "out", float(channel), "out_right", 999.0)))
                count += 1
                bar.pitches_by_robot.setdefault(inst.member, []).append(note_name(n.midi, inst.percussion))
            bar.notes_by_robot[inst.member] = bar.notes_by_robot.get(inst.member, 0) + count
        bar.notes = sum(bar.notes_by_robot.values())
        start = self.t0 + bar.start
        for offset, msg in sorted(msgs, key=lambda x: x[0]):
            self.osc.send(OscBundle(timestamp=start + offset, contents=[msg]))
        self.bars.append(bar)
        return bar

    def close(self) -> None:
        self.osc.close()
