"""Verse, the Soul Node: passionate and poetic, the most human of them.

Verse writes (or takes) lyrics and sets them syllable by syllable to a vocal line: phrases of
two measures that start on or just before the beat like speech, stressed syllables on strong
beats and chord tones, a held note at the end of each line, a breath between lines, and a
climb in the middle of the verse. Every note carries its syllable (``lyric=``), so the
renderer can have espeak-ng speak the words and carry them through a vocoder at the sung pitch.
"""
from __future__ import annotations

import re
from fractions import Fraction as F

from ..base import Algorithm, PartOutput, Request, clip, note
from ..theory import nearest_in, rng_for, scale_step

ADJ = ["cos-mic", "blue", "e-lec-tric", "dis-tant", "gol-den", "qui-et", "bro-ken", "end-less", "hol-low", "bright"]
NOUN = ["or-bit", "ma-trix", "sig-nal", "hea-vens", "cir-cuit", "ri-ver", "e-cho", "pul-sar", "heart", "dawn"]
VERB = ["hums", "fades", "turns", "sings", "falls", "burns", "calls", "drifts", "shines", "waits"]
PREP = ["through", "in-to", "a-cross", "be-yond", "un-der", "a-bove"]
TEMPLATES = [("ADJ", "NOUN", "VERB", "PREP", "the", "NOUN"), ("the", "NOUN", "VERB", "PREP", "ADJ", "NOUN"),
             ("ADJ", "NOUN", "and", "ADJ", "NOUN"), ("I", "VERB", "PREP", "the", "ADJ", "NOUN")]


def write_lyrics(seed, lines: int) -> list[list[str]]:
    """``lines`` lines of syllables ("cos-", "mic" style: a hyphen ends a syllable that continues)."""
    rng = rng_for("verse-lyrics", seed)
    banks = {"ADJ": ADJ, "NOUN": NOUN, "VERB": VERB, "PREP": PREP}
    out = []
    for _ in range(lines):
        words = [rng.choice(banks[w]) if w in banks else w for w in rng.choice(TEMPLATES)]
        out.append(split_words(words))
    return out


def syllables(word: str) -> list[str]:
    """A word's syllables: hyphens where given, otherwise a vowel-group heuristic."""
    if "-" in word:
        parts = [p for p in word.split("-") if p]
    else:
        parts = re.findall(r"[^aeiouy]*[aeiouy]+(?:[^aeiouy]*$|[^aeiouy](?=[^aeiouy]))?", word.lower()) or [word]
        if "".join(parts) != word.lower():
            parts = [word]
        else:  # keep the original spelling and case
            out, i = [], 0
            for p in parts:
                out.append(word[i:i + len(p)])
                i += len(p)
            parts = out
    return [p + "-" for p in parts[:-1]] + [parts[-1]]


def split_words(words: list[str]) -> list[str]:
    out = []
    for w in words:
        out.extend(syllables(w))
    return out


def lyric_lines(text: str) -> list[list[str]]:
    lines = [l.strip() for l in text.replace("/", "\n").splitlines() if l.strip()]
    return [split_words(re.findall(r"[A-Za-z']+(?:-[A-Za-z']+)*", l)) for l in lines if re.search(r"[A-Za-z]", l)]


class Verse(Algorithm):
    member = "verse"
    summary = "sets lyrics to a syllabic vocal line; heard through espeak-ng and a vocoder"
    traits = ("a syllable on every note", "lines with breaths", "vocal range")

    def generate(self, req: Request) -> PartOutput:
        out = PartOutput()
        s = req.section
        inst = req.instrument
        if req.tacet or not (req.featured or s.kind == "verse" or req.member in s.double):
            return out
        rng = req.rng()
        lines_needed = max(1, s.measures // 2)
        if req.params.lyrics:
            all_lines = lyric_lines(req.params.lyrics) or write_lyrics(req.seed, lines_needed)
        else:
            all_lines = write_lyrics((req.seed, s.name), lines_needed)
        lo, hi = inst.comfortable_low, inst.comfortable_high
        cur = nearest_in(req.harmony.at(s.start, F(0)).pcs, 62, lo, hi)
        for li in range(lines_needed):
            syl = all_lines[li % len(all_lines)]
            m0 = s.start + 2 * li
            if m0 > s.end:
                break
            length = req.measure_length(m0)
            span = 2 * length if m0 + 1 <= s.end else length
            # rhythm: eighths and quarters, the last syllable held; fit the line into the span
            durs = [F(1, 2) if rng.random() < 0.6 else F(1) for _ in syl]
            durs[-1] = F(2)
            while sum(durs) > span - F(1, 2) and any(d > F(1, 2) for d in durs):
                i = max(range(len(durs)), key=lambda j: durs[j])
                durs[i] -= F(1, 2)
            t = F(0) if rng.random() < 0.6 else F(1, 2)
            climb = 2 if li % 4 == 1 else (-1 if li % 4 == 3 else 0)
            for i, (s_, d) in enumerate(zip(syl, durs)):
                if t >= span:
                    break
                m = m0 + int(t // length)
                on = t - (m - m0) * length
                chord = req.harmony.at(m, on)
                step = rng.choice((-1, 0, 1, 1, -1, 2)) + (climb if i == 0 else 0)
                cur = scale_step(chord.scale_pcs, cur, step, lo, hi)
                if on.denominator == 1 or i == len(syl) - 1:
                    cur = nearest_in(chord.pcs, cur, lo, hi)
                d = min(d, length - on)
                vel = 80 + (10 if on.denominator == 1 else 0) + rng.randint(-5, 5)
                out.measures.setdefault(m, []).append(note(on, cur, d, vel, req.key.flats, lyrics=(s_,)))
                t += max(d, F(1, 2))
        for m in list(out.measures):
            out.measures[m] = clip(out.measures[m], req.measure_length(m))
        return out


def join_syllables(syllables) -> str:
    """Words from sung syllables: a syllable ending in "-" runs into the next ("cos-" + "mic" -> "cosmic")."""
    words, cur = [], ""
    for syl in syllables:
        if syl.endswith("-"):
            cur += syl[:-1]
        else:
            words.append(cur + syl)
            cur = ""
    if cur:
        words.append(cur)
    return " ".join(words)


def lyrics_text(events) -> str:
    """The words of a sequence of syllable-carrying notes."""
    return join_syllables(syl for e in events for syl in e.lyrics[:1])
