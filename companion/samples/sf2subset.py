"""Subset SoundFonts: a new SF2 holding only some presets of another, sounding exactly like them.

An SHF bundle carries the SoundFont its render used; the band's General MIDI font is 140 MB, of
which a piece uses a handful of presets. :func:`subset` keeps the chosen presets, the instruments
they name, the samples those name (and their stereo partners), and the sample points each kept
sample spans with the 46 guard points around it (merged where samples are neighbours), renumbering
every index. Generators, modulators and sample points are copied byte for byte, so FluidSynth
plays a kept preset from the subset exactly as from the whole font (a test renders both and
compares the samples).
"""
from __future__ import annotations

import struct
from pathlib import Path

from .formats.sf2 import GEN_INSTRUMENT, GEN_SAMPLE_ID, parse

GUARD = 46  # zero points the specification puts after every sample


def _rows(data: bytes, fmt: str) -> list[tuple]:
    return list(struct.iter_unpack(fmt, data))


def _chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def _list(kind: bytes, body: bytes) -> bytes:
    return b"LIST" + struct.pack("<I", 4 + len(body)) + kind + body


def _zones(bags: list[tuple], gens: list[tuple], mods_count: int, first: int, last: int):
    """The bags first..last-1 as (generators, modulator index range)."""
    out = []
    for b in range(first, last):
        g0, m0 = bags[b]
        g1, m1 = bags[b + 1] if b + 1 < len(bags) else (len(gens), mods_count)
        out.append((gens[g0:g1], (m0, m1)))
    return out


def subset(src: str | Path, presets: set[tuple[int, int]], out: str | Path) -> dict:
    """Write to ``out`` an SF2 with only the (bank, program) ``presets`` of ``src``; returns what it kept."""
    src, out = Path(src), Path(out)
    idx = parse(src)
    with open(src, "rb") as fh:
        def read(off_size: tuple[int, int]) -> bytes:
            fh.seek(off_size[0])
            return fh.read(off_size[1])
        rec = {cid: read(v) for cid, v in idx.pdta.items()}
        info = [(cid, read((off, size))) for cid, size, off in idx.info]
        smpl_off = idx.smpl[0]
        sm24_off = idx.sm24[0] if idx.sm24 else None

        phdr = _rows(rec[b"phdr"], "<20sHHHIII")
        pbag, pgen = _rows(rec[b"pbag"], "<HH"), _rows(rec[b"pgen"], "<HH")
        inst = _rows(rec[b"inst"], "<20sH")
        ibag, igen = _rows(rec[b"ibag"], "<HH"), _rows(rec[b"igen"], "<HH")
        shdr = _rows(rec[b"shdr"], "<20sIIIIIBbHH")
        pmod = [rec[b"pmod"][i:i + 10] for i in range(0, len(rec[b"pmod"]), 10)]
        imod = [rec[b"imod"][i:i + 10] for i in range(0, len(rec[b"imod"]), 10)]

        kept_p = [i for i, p in enumerate(phdr[:-1]) if (p[2], p[1]) in presets]
        missing = presets - {(phdr[i][2], phdr[i][1]) for i in kept_p}
        if missing:
            raise ValueError(f"{src.name} has no presets {sorted(missing)}")
        p_zones = {i: _zones(pbag, pgen, len(pmod), phdr[i][3], phdr[i + 1][3]) for i in kept_p}
        kept_i = sorted({amt for zs in p_zones.values() for gens, _ in zs for op, amt in gens if op == GEN_INSTRUMENT})
        i_zones = {i: _zones(ibag, igen, len(imod), inst[i][1], inst[i + 1][1]) for i in kept_i}
        kept_s = {amt for zs in i_zones.values() for gens, _ in zs for op, amt in gens if op == GEN_SAMPLE_ID}
        while True:  # stereo partners (sample links) come along
            more = {shdr[s][8] for s in kept_s if shdr[s][9] & 0x6 and shdr[s][8] < len(shdr) - 1} - kept_s
            if not more:
                break
            kept_s |= more
        kept_s = sorted(kept_s)
        inst_map = {old: new for new, old in enumerate(kept_i)}
        smp_map = {old: new for new, old in enumerate(kept_s)}

        # sample points: each kept sample's span with its guard points, neighbours merged
        total = idx.smpl[1] // 2
        spans = sorted((max(0, shdr[s][1] - GUARD), min(total, max(shdr[s][2], shdr[s][4]) + GUARD)) for s in kept_s)
        merged: list[list[int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        smpl, sm24, where, pos = bytearray(), bytearray(), [], 0
        for a, b in merged:
            fh.seek(smpl_off + 2 * a)
            smpl += fh.read(2 * (b - a))
            if sm24_off is not None:
                fh.seek(sm24_off + a)
                sm24 += fh.read(b - a)
            where.append((a, b, pos))
            pos += b - a
        smpl += b"\0" * (2 * GUARD)
        if sm24_off is not None:
            sm24 += b"\0" * GUARD

    def shift(point: int) -> int:
        for a, b, new in where:
            if a <= point <= b:
                return new + point - a
        raise AssertionError(f"sample point {point} outside the kept spans")

    new_shdr = b""
    for s in kept_s:
        name, start, end, ls, le, rate, pitch, corr, link, stype = shdr[s]
        new_link = smp_map.get(link, 0) if stype & 0x6 else 0
        new_shdr += struct.pack("<20sIIIIIBbHH", name, shift(start), shift(end), shift(ls), shift(le), rate, pitch,
                                corr, new_link, stype)
    new_shdr += struct.pack("<20sIIIIIBbHH", *shdr[-1])

    def tree(heads, zones_of, remap_op, remap, head_fmt, head_fields):
        """(heads, bags, gens, mods) records for the kept heads, generators remapped."""
        h_out, b_out, g_out, m_out = b"", b"", b"", b""
        nb = ng = nm = 0
        for i in heads:
            h_out += struct.pack(head_fmt, *head_fields(i, nb))
            for gens, (m0, m1) in zones_of[i]:
                b_out += struct.pack("<HH", ng, nm)
                for op, amt in gens:
                    g_out += struct.pack("<HH", op, remap[amt] if op == remap_op else amt)
                    ng += 1
                for m in (pmod if remap_op == GEN_INSTRUMENT else imod)[m0:m1]:
                    m_out += m
                    nm += 1
                nb += 1
        return h_out, b_out + struct.pack("<HH", ng, nm), g_out + b"\0\0\0\0", m_out + b"\0" * 10, nb

    ph, pb, pg, pm, nb = tree(kept_p, p_zones, GEN_INSTRUMENT, inst_map, "<20sHHHIII",
                              lambda i, b: (phdr[i][0], phdr[i][1], phdr[i][2], b, *phdr[i][4:]))
    ph += struct.pack("<20sHHHIII", phdr[-1][0], 0, 0, nb, 0, 0, 0)
    ih, ib, ig, im, nb = tree(kept_i, i_zones, GEN_SAMPLE_ID, smp_map, "<20sH", lambda i, b: (inst[i][0], b))
    ih += struct.pack("<20sH", inst[-1][0], nb)
    pdta = b"".join(_chunk(c, d) for c, d in ((b"phdr", ph), (b"pbag", pb), (b"pmod", pm), (b"pgen", pg),
                                              (b"inst", ih), (b"ibag", ib), (b"imod", im), (b"igen", ig),
                                              (b"shdr", new_shdr)))
    sdta = _chunk(b"smpl", bytes(smpl)) + (_chunk(b"sm24", bytes(sm24)) if sm24_off is not None else b"")
    body = (b"sfbk" + _list(b"INFO", b"".join(_chunk(c, d) for c, d in info)) + _list(b"sdta", sdta)
            + _list(b"pdta", pdta))
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    tmp.replace(out)
    return {"presets": [{"bank": phdr[i][2], "program": phdr[i][1], "name": phdr[i][0].split(b"\0")[0].decode(
        "latin-1")} for i in kept_p], "instruments": len(kept_i), "samples": len(kept_s), "size": out.stat().st_size}
