"""SuperCollider SynthDefs for the band (built with supriya), and voices defined in instrument files.

Every SynthDef takes ``frequency``, ``amplitude``, ``sustain`` (seconds the note is held) and
``pan`` (and ``out``/``out_right``, its output buses) and frees itself when its envelope ends, so a note is a single ``/s_new`` in the score.
Sources of randomness (noise) are seeded per synth with ``RandSeed`` so non-realtime renders
are repeatable. The vocoder reads a buffer holding the spoken lyrics (``buffer``) from
``offset`` seconds.
"""
from __future__ import annotations

import math
import threading

from supriya import Envelope, SynthDef, SynthDefBuilder
from supriya.ugens import (BPF, LPF, RLPF, Amplitude, BufRateScale, EnvGen, LeakDC, LFTri, Mix, Out, Pan2,
                           PlayBuf, Pulse, RandSeed, Saw, SinOsc, WhiteNoise, XLine)

BASE = dict(frequency=440.0, amplitude=0.2, sustain=0.5, pan=0.0, seed=0.0, out=0.0, out_right=1.0)


def _out(b, sig):
    """Pan2 to buses ``out`` (left) and ``out_right`` (right): 0 and 1 by default (a stereo output);
    the companion's engine renders every part at the centre on one bus of its own, sending the
    (identical) right channel to a private bus."""
    left, right = Pan2.ar(source=sig, position=b["pan"])
    Out.ar(bus=b["out"], source=left)
    Out.ar(bus=b["out_right"], source=right)


def _env(b, attack=0.005, release=0.15, curve=-4.0):
    return EnvGen.kr(envelope=Envelope.linen(attack_time=attack, sustain_time=b["sustain"], release_time=release),
                     done_action=2)


def sh_epiano(params: dict) -> SynthDef:
    with SynthDefBuilder(**BASE, index=params.get("index", 1.6), ratio=params.get("ratio", 1.0)) as b:
        env = _env(b, 0.003, 0.4)
        decay = EnvGen.kr(envelope=Envelope.percussive(attack_time=0.002, release_time=1.8))
        mod = SinOsc.ar(frequency=b["frequency"] * b["ratio"] * 2) * b["frequency"] * b["index"] * decay
        car = SinOsc.ar(frequency=b["frequency"] + mod)
        bell = SinOsc.ar(frequency=b["frequency"] * 4) * decay * 0.15
        _out(b, (car + bell) * env * b["amplitude"])
    return b.build(name="sh_epiano")


def sh_kit(params: dict) -> SynthDef:
    """One SynthDef for the kit: ``frequency`` carries the General MIDI key; the voice is chosen by
    mixing a kick (sine sweep), a snare (noise + body) and metal (high noise) by key."""
    with SynthDefBuilder(**BASE, decay=params.get("decay", 1.0)) as b:
        RandSeed.ir(trigger=1, seed=b["seed"])
        key = b["frequency"]
        is_kick = (key < 36.5) * 1.0
        is_snare = (key > 36.5) * (key < 40.5) * 1.0
        is_tom = sum(((key - k).__abs__() < 0.5) * 1.0 for k in (41, 43, 45, 47, 48, 50))
        is_metal = (1.0 - is_kick - is_snare - is_tom).clip(0, 1)
        trig_env = EnvGen.kr(envelope=Envelope.percussive(attack_time=0.001, release_time=0.7 * b["decay"]),
                             done_action=2)
        sweep = XLine.kr(start=160, stop=45, duration=0.12)
        kick = SinOsc.ar(frequency=sweep) * EnvGen.kr(envelope=Envelope.percussive(attack_time=0.001,
                                                                                   release_time=0.35))
        noise = WhiteNoise.ar()
        snare = (BPF.ar(source=noise, frequency=1800, reciprocal_of_q=0.8) * 1.5 + SinOsc.ar(frequency=190) * 0.5) \
            * EnvGen.kr(envelope=Envelope.percussive(attack_time=0.001, release_time=0.18))
        tom = SinOsc.ar(frequency=(key - 30) * 9) * EnvGen.kr(envelope=Envelope.percussive(attack_time=0.001,
                                                                                             release_time=0.3))
        metal = RLPF.ar(source=noise, frequency=9000, reciprocal_of_q=0.3) \
            * EnvGen.kr(envelope=Envelope.percussive(attack_time=0.001, release_time=0.08 + (key > 48) * 0.5))
        sig = kick * is_kick * 1.4 + snare * is_snare + tom * is_tom + metal * is_metal * 0.5
        _out(b, LeakDC.ar(source=sig) * trig_env * b["amplitude"])
    return b.build(name="sh_kit")


def sh_fuzz_guitar(params: dict) -> SynthDef:
    with SynthDefBuilder(**BASE, drive=params.get("drive", 6.0), tone=params.get("tone", 2400)) as b:
        env = _env(b, 0.004, 0.08)
        pluck = EnvGen.kr(envelope=Envelope.percussive(attack_time=0.003, release_time=1.2))
        src = Saw.ar(frequency=b["frequency"]) + Pulse.ar(frequency=b["frequency"] * 1.003, width=0.3) * 0.5
        sig = (src * b["drive"] * (0.4 + pluck)).tanh()
        sig = LPF.ar(source=sig, frequency=b["tone"])
        _out(b, sig * env * b["amplitude"] * 0.5)
    return b.build(name="sh_fuzz_guitar")


def sh_reed(params: dict) -> SynthDef:
    with SynthDefBuilder(**BASE, breath=params.get("breath", 0.25), vibrato=params.get("vibrato", 5.0)) as b:
        RandSeed.ir(trigger=1, seed=b["seed"])
        env = _env(b, 0.06, 0.12)
        vib = SinOsc.kr(frequency=b["vibrato"]) * b["frequency"] * 0.005
        tone = Pulse.ar(frequency=b["frequency"] + vib, width=0.42) + Saw.ar(frequency=b["frequency"] + vib) * 0.3
        sig = RLPF.ar(source=tone, frequency=b["frequency"] * 4 + 600, reciprocal_of_q=0.7)
        breath = BPF.ar(source=WhiteNoise.ar(), frequency=b["frequency"] * 2, reciprocal_of_q=0.5) * b["breath"]
        _out(b, (sig + breath) * env * b["amplitude"] * 0.6)
    return b.build(name="sh_reed")


def sh_brass(params: dict) -> SynthDef:
    with SynthDefBuilder(**BASE, brightness=params.get("brightness", 0.8)) as b:
        env = _env(b, 0.02, 0.1)
        fenv = EnvGen.kr(envelope=Envelope.percussive(attack_time=0.04, release_time=0.4))
        src = Mix.new([Saw.ar(frequency=b["frequency"] * r) for r in (1.0, 1.004, 0.997)])
        sig = RLPF.ar(source=src, frequency=b["frequency"] * (2 + 6 * b["brightness"] * fenv) + 400,
                      reciprocal_of_q=0.5)
        _out(b, (sig * 1.5).tanh() * env * b["amplitude"] * 0.5)
    return b.build(name="sh_brass")


def sh_bass(params: dict) -> SynthDef:
    with SynthDefBuilder(**BASE, drive=params.get("drive", 1.5), cutoff=params.get("cutoff", 900)) as b:
        env = _env(b, 0.004, 0.06)
        src = SinOsc.ar(frequency=b["frequency"]) + Saw.ar(frequency=b["frequency"]) * 0.4
        sig = LPF.ar(source=(src * b["drive"]).tanh(), frequency=b["cutoff"])
        _out(b, sig * env * b["amplitude"])
    return b.build(name="sh_bass")


def sh_polysynth(params: dict) -> SynthDef:
    return defined("sh_polysynth", {"oscillator": "saw", "voices": 2, "detune_cents": 7, "filter": "rlpf",
                                    "cutoff_hz": 2000, "resonance": 0.4, "attack": 0.1, "release": 0.8}, params)


def sh_vocoder(params: dict) -> SynthDef:
    """A channel vocoder: the modulator is the spoken lyric in ``buffer`` (from ``offset`` seconds),
    the carrier a saw plus a little noise at the sung ``frequency``; ``bands`` band-pass filters
    (log spaced 100 Hz..8 kHz) follow the speech's envelope in each band."""
    bands = int(params.get("bands", 16))
    q = float(params.get("q", 0.08))
    with SynthDefBuilder(**BASE, buffer=0.0, offset=0.0, noise=params.get("noise", 0.15)) as b:
        RandSeed.ir(trigger=1, seed=b["seed"])
        env = _env(b, 0.02, 0.12)
        mod = PlayBuf.ar(buffer_id=b["buffer"], rate=BufRateScale.kr(buffer_id=b["buffer"]), channel_count=1,
                         start_position=b["offset"] * 44100)
        car = Saw.ar(frequency=b["frequency"]) + Pulse.ar(frequency=b["frequency"] * 0.5, width=0.5) * 0.5 \
            + WhiteNoise.ar() * b["noise"]
        out = []
        for i in range(bands):
            f = 100 * (80 ** (i / (bands - 1)))
            follower = Amplitude.kr(source=BPF.ar(source=mod, frequency=f, reciprocal_of_q=q), attack_time=0.01,
                                    release_time=0.05)
            out.append(BPF.ar(source=car, frequency=f, reciprocal_of_q=q) * follower)
        sig = Mix.new(out) * 12
        _out(b, sig * env * b["amplitude"])
    return b.build(name="sh_vocoder")


def sh_sampler(params: dict) -> SynthDef:
    """The sample library's sampler voice (companion.samples.sampler): a mono buffer at a playback rate."""
    from ..samples.sampler import sampler_synthdef

    return sampler_synthdef()


BUILTINS = {"sh_epiano": sh_epiano, "sh_kit": sh_kit, "sh_fuzz_guitar": sh_fuzz_guitar, "sh_reed": sh_reed,
            "sh_brass": sh_brass, "sh_bass": sh_bass, "sh_polysynth": sh_polysynth, "sh_vocoder": sh_vocoder,
            "sh_sampler": sh_sampler}


def defined(name: str, spec: dict, params: dict | None = None) -> SynthDef:
    """A subtractive voice from an instrument file's ``[supercollider.define]`` table."""
    voices = int(spec.get("voices", 1))
    detune = float(spec.get("detune_cents", 0))
    osc = spec.get("oscillator", "saw")
    flt = spec.get("filter", "lpf")
    with SynthDefBuilder(**BASE) as b:
        env = EnvGen.kr(envelope=Envelope.adsr(attack_time=spec.get("attack", 0.01), decay_time=spec.get("decay", 0.2),
                                               sustain=spec.get("sustain", 0.8), release_time=spec.get("release", 0.3)),
                        gate=EnvGen.kr(envelope=Envelope.linen(attack_time=0, sustain_time=b["sustain"],
                                                               release_time=0)) > 0,
                        done_action=2)
        freq = b["frequency"]
        if spec.get("vibrato_hz"):
            freq = freq * (1 + SinOsc.kr(frequency=spec["vibrato_hz"]) * 0.01 * spec.get("vibrato_depth", 0.1))
        oscs = []
        for v in range(voices):
            cents = (v - (voices - 1) / 2) * detune
            f = freq * (2 ** (cents / 1200))
            if osc == "saw":
                oscs.append(Saw.ar(frequency=f))
            elif osc == "pulse":
                oscs.append(Pulse.ar(frequency=f, width=0.4))
            elif osc == "tri":
                oscs.append(LFTri.ar(frequency=f))
            elif osc == "fm":
                oscs.append(SinOsc.ar(frequency=f + SinOsc.ar(frequency=f * 2) * f))
            else:
                oscs.append(SinOsc.ar(frequency=f))
        sig = Mix.new(oscs) * (1.0 / voices)
        cutoff = spec.get("cutoff_hz", 2000)
        if spec.get("filter_env"):
            fenv = EnvGen.kr(envelope=Envelope.percussive(attack_time=0.01, release_time=spec.get("decay", 0.3) * 2))
            cutoff = cutoff * (1 + fenv * spec["filter_env"])
        if flt == "lpf":
            sig = LPF.ar(source=sig, frequency=cutoff)
        elif flt == "rlpf":
            sig = RLPF.ar(source=sig, frequency=cutoff, reciprocal_of_q=spec.get("resonance", 0.5))
        elif flt == "bpf":
            sig = BPF.ar(source=sig, frequency=cutoff, reciprocal_of_q=spec.get("resonance", 0.5))
        _out(b, sig * env * b["amplitude"])
    return b.build(name=name)


_BUILD_LOCK = threading.Lock()  # supriya's SynthDefBuilder keeps its scope per process, not per thread


def synthdef_for(instrument) -> SynthDef:
    with _BUILD_LOCK:
        if instrument.sc_define:
            return defined(instrument.synthdef, instrument.sc_define, instrument.sc_params)
        return BUILTINS[instrument.synthdef](instrument.sc_params)


def midi_to_hz(m: float) -> float:
    return 440.0 * math.pow(2.0, (m - 69) / 12.0)
