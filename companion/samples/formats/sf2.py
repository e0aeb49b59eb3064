"""SF2 SoundFonts: the whole RIFF structure parsed with bounds checks, then loaded by FluidSynth.

Every chunk size is checked against its parent and the record sizes the SoundFont 2.04
specification gives; every index (preset -> bags -> generators -> instruments -> bags ->
generators -> sample headers -> sample points) is checked to stay inside what it points into.
ROM samples and SF3 (compressed) samples are refused. Then the real decoder, FluidSynth, loads
the font fully (every sample read) and plays a note through it; an error there refuses it too.
"""
from __future__ import annotations

import dataclasses
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO

from . import riff
from .base import Limits, SampleFormat, SampleInfo, limited, refuse_format, refuse_header

RECORDS = {b"phdr": 38, b"pbag": 4, b"pmod": 10, b"pgen": 4, b"inst": 22, b"ibag": 4, b"imod": 10, b"igen": 4,
           b"shdr": 46}
PDTA_ORDER = tuple(RECORDS)
GEN_INSTRUMENT, GEN_SAMPLE_ID = 41, 53
ROM_SAMPLE, COMPRESSED_SAMPLE = 0x8000, 0x10
MAX_RECORDS = 1 << 16  # SF2 indices are 16-bit words, so no list can usefully hold more


@dataclasses.dataclass
class SoundFontIndex:
    """Where everything is in an SF2 file (offsets into the file) and what it holds."""

    version: tuple[int, int]
    name: str
    smpl: tuple[int, int]  # (offset, bytes)
    sm24: tuple[int, int] | None
    info: list[tuple[bytes, int, int]]  # (id, bytes, offset) of the INFO sub-chunks
    pdta: dict[bytes, tuple[int, int]]  # id -> (offset, bytes)
    presets: list[dict]  # {name, bank, program}
    instruments: int
    samples: int


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _list(fh: BinaryIO, cid: bytes, size: int, offset: int, want: bytes, name: str) -> int:
    if cid != b"LIST" or size < 4:
        raise refuse_header(name, "sf2", f"expected a LIST {want.decode()} chunk, found {cid!r}")
    fh.seek(offset)
    if fh.read(4) != want:
        raise refuse_header(name, "sf2", f"expected the LIST {want.decode()} chunk in its place")
    return offset + size


def parse(path: Path, name: str | None = None) -> SoundFontIndex:
    """The bounds-checked structure of an SF2 file (``bad_header`` / ``unsupported_format`` errors)."""
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    with open(path, "rb") as fh:
        _, end = riff.outer(fh, size, b"RIFF", (b"sfbk",), False, name, "sf2")
        top = list(riff.chunks(fh, 12, end, False, name, "sf2"))
        if len(top) != 3:
            raise refuse_header(name, "sf2", f"{len(top)} top-level chunks (INFO, sdta and pdta expected)")
        lists = {}
        for (cid, csize, off), want in zip(top, (b"INFO", b"sdta", b"pdta")):
            lists[want] = (off + 4, _list(fh, cid, csize, off, want, name))
        info = list(riff.chunks(fh, *lists[b"INFO"], False, name, "sf2"))
        version = None
        title = ""
        for cid, csize, off in info:
            if csize > 65536:
                raise refuse_header(name, "sf2", f"INFO chunk {cid!r} of {csize} bytes")
            fh.seek(off)
            if cid == b"ifil":
                if csize != 4:
                    raise refuse_header(name, "sf2", "an ifil chunk that is not 4 bytes")
                version = struct.unpack("<HH", fh.read(4))
            elif cid == b"INAM":
                title = _name(fh.read(csize))
            elif cid == b"irom":
                raise refuse_format(name, "a SoundFont that needs sound ROM samples")
        if version is None or version[0] != 2:
            raise refuse_format(name, f"a SoundFont of version {version}" if version else
                                "a SoundFont without a version (ifil)")
        sdta = {cid: (off, csize) for cid, csize, off in riff.chunks(fh, *lists[b"sdta"], False, name, "sf2")}
        if b"smpl" not in sdta or set(sdta) - {b"smpl", b"sm24"}:
            raise refuse_header(name, "sf2", f"sample data chunks {sorted(k.decode('latin-1') for k in sdta)}")
        smpl = sdta[b"smpl"]
        if smpl[1] % 2:
            raise refuse_header(name, "sf2", "16-bit sample data of an odd number of bytes")
        points = smpl[1] // 2
        sm24 = sdta.get(b"sm24")
        if sm24 is not None and sm24[1] not in (points, points + (points & 1)):
            raise refuse_header(name, "sf2", f"24-bit sample data of {sm24[1]} bytes for {points} sample points")
        pchunks = list(riff.chunks(fh, *lists[b"pdta"], False, name, "sf2"))
        if [c[0] for c in pchunks] != list(PDTA_ORDER):
            raise refuse_header(name, "sf2", "the preset data chunks are not phdr, pbag, pmod, pgen, inst, ibag, "
                                             "imod, igen, shdr in that order")
        pdta, recs = {}, {}
        for cid, csize, off in pchunks:
            rsize = RECORDS[cid]
            if csize % rsize or csize < rsize * (2 if cid in (b"phdr", b"inst", b"shdr") else 1):
                raise refuse_header(name, "sf2", f"a {cid.decode()} chunk of {csize} bytes (records of {rsize})",
                                    chunk=cid.decode())
            if csize // rsize > MAX_RECORDS:  # indices are 16-bit: more could never be reached
                raise refuse_header(name, "sf2", f"a {cid.decode()} chunk of {csize // rsize} records (at most "
                                                 f"{MAX_RECORDS})", chunk=cid.decode())
            pdta[cid] = (off, csize)
            fh.seek(off)
            recs[cid] = fh.read(csize)
            if len(recs[cid]) != csize:
                raise refuse_header(name, "sf2", f"the {cid.decode()} chunk is cut short")
    presets = _check_tree(recs, points, name)
    return SoundFontIndex(version=tuple(version), name=title, smpl=smpl, sm24=sm24, info=info, pdta=pdta,
                          presets=presets, instruments=len(recs[b"inst"]) // 22 - 1,
                          samples=len(recs[b"shdr"]) // 46 - 1)


def _rows(data: bytes, fmt: str) -> list[tuple]:
    return list(struct.iter_unpack(fmt, data))


def _check_indices(name: str, what: str, indices: list[int], count: int) -> None:
    """Bag/generator indices: non-decreasing, inside the list they point into, ending at its terminal."""
    last = -1
    for i in indices:
        if i < last or i >= count:
            raise refuse_header(name, "sf2", f"{what} index {i} out of order or past the {count} records")
        last = i
    if indices and indices[-1] != count - 1:
        raise refuse_header(name, "sf2", f"{what}: the terminal record does not close the list")


def _check_tree(recs: dict[bytes, bytes], points: int, name: str) -> list[dict]:
    phdr = _rows(recs[b"phdr"], "<20sHHHIII")
    pbag = _rows(recs[b"pbag"], "<HH")
    pgen = _rows(recs[b"pgen"], "<HH")
    inst = _rows(recs[b"inst"], "<20sH")
    ibag = _rows(recs[b"ibag"], "<HH")
    igen = _rows(recs[b"igen"], "<HH")
    shdr = _rows(recs[b"shdr"], "<20sIIIIIBbHH")
    _check_indices(name, "preset bag", [p[3] for p in phdr], len(pbag))
    _check_indices(name, "preset generator", [b[0] for b in pbag], len(pgen))
    _check_indices(name, "preset modulator", [b[1] for b in pbag], len(recs[b"pmod"]) // 10)
    _check_indices(name, "instrument bag", [i[1] for i in inst], len(ibag))
    _check_indices(name, "instrument generator", [b[0] for b in ibag], len(igen))
    _check_indices(name, "instrument modulator", [b[1] for b in ibag], len(recs[b"imod"]) // 10)
    for oper, amount in pgen:
        if oper == GEN_INSTRUMENT and amount >= len(inst) - 1:
            raise refuse_header(name, "sf2", f"a preset names instrument {amount} of {len(inst) - 1}")
    for oper, amount in igen:
        if oper == GEN_SAMPLE_ID and amount >= len(shdr) - 1:
            raise refuse_header(name, "sf2", f"an instrument names sample {amount} of {len(shdr) - 1}")
    for s in shdr[:-1]:
        sname, start, end, lstart, lend, rate, _pitch, _corr, _link, stype = s
        if stype & ROM_SAMPLE:
            raise refuse_format(name, "a SoundFont that needs sound ROM samples")
        if stype & COMPRESSED_SAMPLE:
            raise refuse_format(name, "an SF3 SoundFont (compressed samples)")
        if not (start <= end <= points) or lstart > points or lend > points:
            raise refuse_header(name, "sf2", f"sample {_name(sname)!r} points past the {points} sample points "
                                             f"({start}..{end}, loop {lstart}..{lend})")
        if not 0 < rate <= 192000:
            raise refuse_header(name, "sf2", f"sample {_name(sname)!r} at {rate} Hz")
    return [{"name": _name(p[0]), "program": p[1], "bank": p[2]} for p in phdr[:-1]]


def probe_midi(bank: int = 0, program: int = 0, key: int = 60, ticks: int = 96) -> bytes:
    """A one-note Standard MIDI File: bank select, program change, a note of ``ticks`` (480 per beat)."""
    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        n >>= 7
        while n:
            out.insert(0, (n & 0x7F) | 0x80)
            n >>= 7
        return bytes(out)
    ch = 9 if bank == 128 else 0
    events = b""
    if ch != 9:
        events += b"\x00" + bytes([0xB0, 0, min(bank, 127)])
    events += b"\x00" + bytes([0xC0 | ch, program & 0x7F])
    events += b"\x00" + bytes([0x90 | ch, key & 0x7F, 100])
    events += vlq(ticks) + bytes([0x80 | ch, key & 0x7F, 0])
    events += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(events)) + events)


def fluidsynth_render(font: Path, midi: bytes, out: Path, rate: int = 44100, timeout: float = 60) -> Path:
    """Render ``midi`` through ``font`` with the fluidsynth program (no reverb or chorus) to a WAV, with
    bounded CPU time and memory (it reads files a caller sent)."""
    with tempfile.TemporaryDirectory(prefix="sf2-") as tmp:
        mid = Path(tmp) / "probe.mid"
        mid.write_bytes(midi)
        proc = subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(rate),
                               "-o", "synth.dynamic-sample-loading=0", "-T", "wav", "-F", str(out), str(font),
                               str(mid)], capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout,
                              preexec_fn=limited)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0 or "error" in err.lower() or not out.is_file():
        raise RuntimeError(err.strip()[-300:] or f"fluidsynth exited {proc.returncode}")
    return out


class Sf2(SampleFormat):
    name = "sf2"
    kind = "soundfont"
    extensions = (".sf2",)

    @staticmethod
    def score(head: bytes) -> int:
        return 2 if head[:4] == b"RIFF" and head[8:12] == b"sfbk" else 0

    def inspect(self, path: Path, name: str, limits: Limits) -> SampleInfo:
        idx = parse(path, name)
        if not idx.presets:
            raise refuse_header(name, "sf2", "no presets")
        first = idx.presets[0]
        try:
            with tempfile.TemporaryDirectory(prefix="sf2-load-") as tmp:
                fluidsynth_render(path, probe_midi(first["bank"], first["program"]), Path(tmp) / "probe.wav")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            raise refuse_header(name, "sf2", f"FluidSynth cannot load it: {exc}") from None
        points = idx.smpl[1] // 2
        return SampleInfo("sf2", "soundfont", 44100, 2, points, 24 if idx.sm24 else 16,
                          "SF2+24" if idx.sm24 else "SF2", path.stat().st_size,
                          {"soundfont": {"name": idx.name, "version": list(idx.version), "presets": idx.presets,
                                         "instruments": idx.instruments, "samples": idx.samples}})
