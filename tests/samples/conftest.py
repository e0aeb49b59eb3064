"""Sounds to add to the library (made here with numpy and soundfile) and hostile files."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

RATE = 44100


def tone(seconds: float = 0.5, freq: float = 440.0, rate: int = RATE, channels: int = 1, decay: float = 0.15
         ) -> np.ndarray:
    n = np.arange(int(seconds * rate))
    x = 0.5 * np.sin(2 * np.pi * freq * n / rate) * np.exp(-n / (decay * rate))
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def write(path: Path, x: np.ndarray, rate: int = RATE, subtype: str = "PCM_16", fmt: str | None = None) -> Path:
    sf.write(str(path), x, rate, subtype=subtype, format=fmt)
    return path


def hits(times: list[float], seconds: float, rate: int = RATE) -> np.ndarray:
    """A recording of short decaying hits at ``times`` with silence between."""
    x = np.zeros((int(seconds * rate), 2))
    for k, t in enumerate(times):
        h = tone(0.25, 180 + 90 * k, rate, 2, 0.03)
        i = int(t * rate)
        x[i:i + len(h)] += h[: len(x) - i]
    return x


@pytest.fixture
def wav(tmp_path) -> Path:
    return write(tmp_path / "c4-piano.wav", tone(0.5, 261.63))


@pytest.fixture
def sounds(tmp_path):
    """factory: sounds(name, **kw) -> a WAV/FLAC/AIFF file of a decaying tone."""
    def make(name: str, seconds: float = 0.5, freq: float = 440.0, subtype: str = "PCM_16", channels: int = 1,
             rate: int = RATE) -> Path:
        fmt = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF", "aif": "AIFF"}[name.rsplit(".", 1)[1]]
        return write(tmp_path / name, tone(seconds, freq, rate, channels), rate, subtype, fmt)
    return make


def riff(form: bytes, *chunks: tuple[bytes, bytes], size_override: int | None = None) -> bytes:
    body = form + b"".join(cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
                           for cid, data in chunks)
    return b"RIFF" + struct.pack("<I", size_override if size_override is not None else len(body)) + body


def tiny_sf2(*, smpl_points: int = 64, sample_end: int | None = None, pgen_instrument: int = 0,
             phdr_size_lie: int = 0) -> bytes:
    """A minimal, valid SF2 (one preset, one instrument, one sample) whose fields a test can break."""
    def name(s: str) -> bytes:
        return s.encode().ljust(20, b"\0")
    info = b"LIST" + struct.pack("<I", 4 + 12 + 16) + b"INFO" + b"ifil" + struct.pack("<I", 4) + \
        struct.pack("<HH", 2, 1) + b"INAM" + struct.pack("<I", 8) + b"testfnt\0"
    pcm = (np.sin(np.arange(smpl_points) / 3.0) * 8000).astype("<i2").tobytes() + b"\0" * 92
    sdta = b"LIST" + struct.pack("<I", 4 + 8 + len(pcm)) + b"sdta" + b"smpl" + struct.pack("<I", len(pcm)) + pcm
    end = smpl_points if sample_end is None else sample_end
    recs = {
        b"phdr": name("Test") + struct.pack("<HHHIII", 0, 0, 0, 0, 0, 0) + name("EOP") +
        struct.pack("<HHHIII", 0, 0, 1, 0, 0, 0),
        b"pbag": struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0),
        b"pmod": b"\0" * 10,
        b"pgen": struct.pack("<HH", 41, pgen_instrument) + struct.pack("<HH", 0, 0),
        b"inst": name("TestInst") + struct.pack("<H", 0) + name("EOI") + struct.pack("<H", 1),
        b"ibag": struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0),
        b"imod": b"\0" * 10,
        b"igen": struct.pack("<HH", 53, 0) + struct.pack("<HH", 0, 0),
        b"shdr": name("TestSmp") + struct.pack("<IIIIIBbHH", 0, end, 8, end - 8 if end > 16 else 0, 22050, 60, 0, 0, 1)
        + name("EOS") + struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0),
    }
    body = b""
    for cid, data in recs.items():
        size = len(data) + (phdr_size_lie if cid == b"phdr" else 0)
        body += cid + struct.pack("<I", size) + data
    pdta = b"LIST" + struct.pack("<I", 4 + len(body)) + b"pdta" + body
    payload = b"sfbk" + info + sdta + pdta
    return b"RIFF" + struct.pack("<I", len(payload)) + payload
