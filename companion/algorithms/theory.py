"""Music theory the personalities share: keys, chords, chord scales and a functional-harmony model.

Pitch classes are integers 0..11 (C = 0). A :class:`Chord` is a root pitch class, a quality name
and the intervals above the root it contains (extensions included, e.g. a 13th is 21).
:func:`progression` walks a Markov chain over harmonic *functions* (tonic, subdominant,
dominant) in a key, substitutes (secondary dominants, tritone substitutes, modal interchange
when the mood asks for it) and always cadences at the end of a section.
:func:`chord_from_pitches` reads a chord back from the notes that sound (root = lowest note),
so any member can follow the changes written in the composition so far.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
FLAT_KEYS = {"F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb", "D minor", "G minor", "C minor", "F minor", "Bb minor",
             "Eb minor", "Ab minor"}

# Chord qualities: intervals of the basic seventh chord and the extensions a mood may add.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj7": (0, 4, 7, 11), "maj9": (0, 4, 7, 11, 14), "maj9#11": (0, 4, 7, 11, 14, 18),
    "m7": (0, 3, 7, 10), "m9": (0, 3, 7, 10, 14), "m11": (0, 3, 7, 10, 14, 17),
    "7": (0, 4, 7, 10), "9": (0, 4, 7, 10, 14), "13": (0, 4, 10, 14, 21), "7b9": (0, 4, 7, 10, 13),
    "7#9": (0, 4, 7, 10, 15), "13b9": (0, 4, 10, 13, 21), "13sus": (0, 5, 7, 10, 14, 21),
    "m7b5": (0, 3, 6, 10), "m9b5": (0, 3, 6, 10, 14), "mmaj9": (0, 3, 7, 11, 14),
}

# Chord scales (intervals above the root) by chord family.
SCALES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11), "lydian": (0, 2, 4, 6, 7, 9, 11), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "lydian_dominant": (0, 2, 4, 6, 7, 9, 10),
    "half_whole": (0, 1, 3, 4, 6, 7, 9, 10), "locrian2": (0, 2, 3, 5, 6, 8, 10),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11), "aeolian": (0, 2, 3, 5, 7, 8, 10),
}

# Diatonic degrees: (semitones above the tonic, basic quality, function).
MAJOR_DEGREES = {"I": (0, "maj7", "T"), "ii": (2, "m7", "S"), "iii": (4, "m7", "T"), "IV": (5, "maj7", "S"),
                 "V": (7, "7", "D"), "vi": (9, "m7", "T"), "vii": (11, "m7b5", "D")}
MINOR_DEGREES = {"i": (0, "m7", "T"), "ii": (2, "m7b5", "S"), "bIII": (3, "maj7", "T"), "iv": (5, "m7", "S"),
                 "V": (7, "7b9", "D"), "bVI": (8, "maj7", "S"), "bVII": (10, "7", "D")}

# Function -> function transition weights (the functional-harmony model).
TRANSITIONS = {"T": {"T": 2, "S": 5, "D": 3}, "S": {"T": 1, "S": 2, "D": 6}, "D": {"T": 7, "S": 1, "D": 1}}
BY_FUNCTION_MAJOR = {"T": ["I", "vi", "iii"], "S": ["ii", "IV"], "D": ["V", "vii"]}
BY_FUNCTION_MINOR = {"T": ["i", "bIII"], "S": ["iv", "ii", "bVI"], "D": ["V", "bVII"]}

# How moods colour the basic qualities (extended, crunchy, cosmic).
EXTEND = {
    "bright": {"maj7": ["maj9"], "m7": ["m9"], "7": ["9", "13"], "7b9": ["13b9"], "m7b5": ["m7b5"]},
    "funky": {"maj7": ["maj9"], "m7": ["m9", "m11"], "7": ["9", "13", "7#9"], "7b9": ["7#9"], "m7b5": ["m7b5"]},
    "dark": {"maj7": ["maj9"], "m7": ["m11", "m9"], "7": ["7b9", "13b9"], "7b9": ["7b9", "13b9"],
             "m7b5": ["m9b5"]},
    "cosmic": {"maj7": ["maj9#11"], "m7": ["m11", "m9"], "7": ["13", "13sus", "7#9"], "7b9": ["13b9", "7#9"],
               "m7b5": ["m9b5"]},
}
MOODS = tuple(EXTEND)


def rng_for(*parts) -> random.Random:
    """A random generator seeded from ``parts`` (stable across runs and machines, unlike hash())."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Key:
    tonic: int
    mode: str  # major | minor

    @classmethod
    def parse(cls, text: str) -> "Key":
        """``"D minor"``, ``"Bb"``, ``"F# major"``."""
        parts = text.strip().split()
        if not parts:
            raise ValueError("empty key")
        name = parts[0]
        mode = parts[1].lower() if len(parts) > 1 else "major"
        if name[0].upper() not in NOTE_PC or mode not in ("major", "minor"):
            raise ValueError(f"not a key: {text!r}")
        pc = NOTE_PC[name[0].upper()] + name[1:].count("#") - name[1:].count("b")
        return cls(pc % 12, mode)

    @property
    def scale(self) -> tuple[int, ...]:
        return SCALES["ionian"] if self.mode == "major" else SCALES["aeolian"]

    @property
    def flats(self) -> bool:
        return self.name_text() in FLAT_KEYS or self.name_text().split()[0] in FLAT_KEYS

    def name_text(self) -> str:
        names = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
        return f"{names[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class Chord:
    root: int
    quality: str
    intervals: tuple[int, ...]

    @classmethod
    def of(cls, root: int, quality: str) -> "Chord":
        return cls(root % 12, quality, QUALITIES[quality])

    @property
    def pcs(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in self.intervals)

    @property
    def family(self) -> str:
        rel = {i % 12 for i in self.intervals}
        if 3 in rel and 6 in rel and 10 in rel:
            return "half_diminished"
        if 3 in rel and 11 in rel:
            return "minor_major"
        if 3 in rel:
            return "minor"
        if 4 in rel and 11 in rel:
            return "major"
        if 10 in rel:
            return "dominant"
        return "major"

    @property
    def scale(self) -> tuple[int, ...]:
        """The chord scale (intervals above the root) a player uses over this chord."""
        rel = {i % 12 for i in self.intervals}
        fam = self.family
        if fam == "half_diminished":
            return SCALES["locrian2"]
        if fam == "minor_major":
            return SCALES["melodic_minor"]
        if fam == "minor":
            return SCALES["dorian"]
        if fam == "dominant":
            if 1 in rel or 3 in rel:
                return SCALES["half_whole"]
            if 6 in rel:
                return SCALES["lydian_dominant"]
            return SCALES["mixolydian"]
        return SCALES["lydian"] if 6 in rel else SCALES["ionian"]

    @property
    def scale_pcs(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in self.scale) | self.pcs

    @property
    def guide_tones(self) -> tuple[int, ...]:
        """Third and seventh (the notes that say what the chord is)."""
        rel = [i % 12 for i in self.intervals]
        third = next((i for i in rel if i in (3, 4)), 5)
        seventh = next((i for i in rel if i in (10, 11)), 9)
        return ((self.root + third) % 12, (self.root + seventh) % 12)

    def symbol(self, flats: bool = True) -> str:
        names = (["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"] if flats else
                 ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"])
        return names[self.root] + self.quality


def chord_from_pitches(pitches: list[int]) -> Chord:
    """The chord that sounds: root = the lowest note, quality = the nearest named quality."""
    low = min(pitches)
    root = low % 12
    rel = frozenset((p - low) % 12 for p in pitches)
    best, best_score = "maj7", -99
    for name, ivs in QUALITIES.items():
        mine = frozenset(i % 12 for i in ivs)
        score = len(mine & rel) * 2 - len(mine ^ rel)
        if score > best_score:
            best, best_score = name, score
    return Chord(root, best, tuple(sorted(rel)))


def progression(key: Key, measures: int, seed, mood: str = "cosmic", chords_per_measure: int = 1,
                cadence: bool = True) -> list[tuple[Chord, str, str]]:
    """A chord per slot for ``measures * chords_per_measure`` slots: [(chord, degree, function)].

    A Markov chain over functions (T -> S -> D -> T, weighted), each function realised by one of
    its degrees, with substitutions: a secondary dominant before ii or IV, a tritone substitute for
    V (cosmic, dark), and a cadence S -> D -> T at the end when ``cadence`` is set.
    """
    rng = rng_for("progression", seed, key, measures, mood, chords_per_measure)
    degrees = MAJOR_DEGREES if key.mode == "major" else MINOR_DEGREES
    by_fn = BY_FUNCTION_MAJOR if key.mode == "major" else BY_FUNCTION_MINOR
    ext = EXTEND.get(mood, EXTEND["cosmic"])
    n = measures * chords_per_measure
    fns: list[str] = ["T"]
    while len(fns) < n:
        w = TRANSITIONS[fns[-1]]
        fns.append(rng.choices(list(w), weights=list(w.values()))[0])
    if cadence and n >= 3:
        fns[-3:] = ["S", "D", "T"]
    elif cadence and n == 2:
        fns[-2:] = ["D", "T"]
    out: list[tuple[Chord, str, str]] = []
    for i, fn in enumerate(fns):
        choices = by_fn[fn]
        degree = choices[0] if (i == 0 or i == n - 1) and fn == "T" else rng.choice(choices)
        if cadence and i == n - 2 and fn == "D":
            degree = "V"
        offset, basic, _ = degrees[degree]
        root = (key.tonic + offset) % 12
        quality = rng.choice(ext.get(basic, [basic]))
        # substitutions
        if fn == "D" and degree == "V" and mood in ("cosmic", "dark") and rng.random() < 0.3 and i != n - 2:
            root, quality, degree = (root + 6) % 12, rng.choice(["7#9", "13", "9"]), "subV"
        out.append((Chord.of(root, quality), degree, fn))
    # a secondary dominant in place of a tonic before a ii or IV (V7/x)
    for i in range(1, n - 1):
        chord, degree, fn = out[i]
        nxt = out[i + 1]
        if fn == "T" and nxt[1] in ("ii", "IV", "iv") and rng.random() < 0.35:
            out[i] = (Chord.of(nxt[0].root + 7, rng.choice(["7b9", "13", "9"])), f"V/{nxt[1]}", "D")
    return out


def nearest_in(pcs, pitch: int, low: int = 0, high: int = 127) -> int:
    """The MIDI note of a pitch class in ``pcs`` nearest to ``pitch`` within [low, high]."""
    best = None
    for p in range(max(low, pitch - 12), min(high, pitch + 12) + 1):
        if p % 12 in pcs and (best is None or abs(p - pitch) < abs(best - pitch)):
            best = p
    if best is None:
        for p in range(low, high + 1):
            if p % 12 in pcs and (best is None or abs(p - pitch) < abs(best - pitch)):
                best = p
    return best if best is not None else max(low, min(high, pitch))


def scale_step(pcs, pitch: int, steps: int, low: int = 0, high: int = 127) -> int:
    """Move ``steps`` scale degrees (in ``pcs``) from ``pitch`` (snapped first), staying in range."""
    p = nearest_in(pcs, pitch, low, high)
    direction = 1 if steps > 0 else -1
    for _ in range(abs(steps)):
        q = p + direction
        while low <= q <= high and q % 12 not in pcs:
            q += direction
        if not low <= q <= high:
            direction = -direction  # bounce off the edge of the range
            q = p + direction
            while low <= q <= high and q % 12 not in pcs:
                q += direction
            if not low <= q <= high:
                break
        p = q
    return p
