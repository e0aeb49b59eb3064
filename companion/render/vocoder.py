"""Verse's voice: the lyrics spoken by espeak-ng, laid on the timeline for the vocoder.

Notes are grouped into phrases (a gap of more than 0.35 s starts a new one); each phrase's words
are spoken by espeak-ng (deterministic), stretched to fill the phrase and placed at its start in
one mono track. The SuperCollider vocoder (``sh_vocoder``) reads that track at each note's time
and imposes its spectral envelope on a carrier at the sung pitch.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..algorithms.members.verse import join_syllables
from .audio import SR, read_wav, write_wav
from .errors import EngineError, EngineMissing
from .timeline import NoteTime


def phrases(notes: list[NoteTime], gap: float = 0.35) -> list[list[NoteTime]]:
    out: list[list[NoteTime]] = []
    for n in sorted(notes, key=lambda n: n.start):
        if out and n.start - (out[-1][-1].start + out[-1][-1].duration) <= gap:
            out[-1].append(n)
        else:
            out.append([n])
    return out


def words(phrase: list[NoteTime]) -> str:
    """What espeak-ng says for a phrase (an unsung note says "ah")."""
    return join_syllables(n.lyric or "ah" for n in phrase)


def speak(text: str, wav: Path, voice: str = "en-us", speed: int = 150) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EngineMissing("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(wav), "--", text], capture_output=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not wav.is_file():
        raise EngineError(f"espeak-ng failed: {proc.stderr.decode(errors='replace')[-200:]}")
    return wav


def espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return "missing"
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()[:80]


def speech_track(notes: list[NoteTime], out: Path, duration: float) -> Path:
    """Write the aligned speech track (mono, 44.1 kHz) for ``notes`` and return its path."""
    track = np.zeros(int(duration * SR) + 1, dtype=np.float32)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        for i, ph in enumerate(phrases(notes)):
            start = ph[0].start
            span = ph[-1].start + ph[-1].duration - start
            sr, x = read_wav(speak(words(ph), Path(tmp) / f"p{i}.wav"))
            x = x[:, 0]
            nz = np.nonzero(np.abs(x) > 1e-3)[0]
            if len(nz):
                x = x[nz[0]:nz[-1] + 1]
            target = max(1, int(span * 0.95 * SR))
            y = np.interp(np.linspace(0, len(x) - 1, target), np.arange(len(x)), x).astype(np.float32)
            a = int(start * SR)
            b = min(len(track), a + len(y))
            if b > a:
                track[a:b] += y[: b - a]
    peak = float(np.max(np.abs(track))) or 1.0
    write_wav(out, (track / peak * 0.9)[:, None], SR, bits=16)
    return out
