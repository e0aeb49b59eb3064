"""music21's own MIDI of a score as the yardstick for ours: the note events of each track,
note-ons and note-offs as (sounding pitch, time in quarter notes), with every tied chain of
the source as ONE note.

Ons and offs are compared as two multisets, not paired into notes: two overlapping notes of
one pitch on one channel (two voices in unison) are ambiguous in MIDI, and any pairing rule
would compare the rule, not the files.

music21 merges ties before writing MIDI (``stripTies``) but leaves a chord's tied notes apart
when the chord's other notes are not tied on (a known limit of ``stripTies``). So the
reference takes music21's MIDI and, only where the *source* has a tie (a note of that part and
pitch marked ``tie start`` or ``continue`` ending at that time), drops one note-off and one
note-on of that pitch at that time. music21 writes grace notes as zero-length notes (a note-on
and a note-off at one instant, which sound nothing); the canonical MIDI leaves grace notes
out, so the reference drops one note-on and one note-off at each source grace note too.
Nothing else is changed.

Where two voices of one part sound the same pitch at once, music21's tie merging pairs the
voices' notes in its own way; :func:`unison_spans` finds those places so that a test can tell a
difference there (MIDI cannot say which voice a note-on belongs to) from a real one.
"""
from __future__ import annotations

import io
from collections import Counter, defaultdict
from fractions import Fraction

import mido


def track_events(data: bytes) -> list[dict[str, list[tuple[int, Fraction]]]]:
    """Every track's {"on": [(pitch, time)], "off": [(pitch, time)]}, sorted; tracks without
    notes left out. Times in quarter notes."""
    mid = mido.MidiFile(file=io.BytesIO(data))
    tpb = mid.ticks_per_beat
    out = []
    for tr in mid.tracks:
        t = 0
        ons, offs = [], []
        for msg in tr:
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                ons.append((msg.note, Fraction(t, tpb)))
            elif msg.type in ("note_off", "note_on"):
                offs.append((msg.note, Fraction(t, tpb)))
        if ons:
            out.append({"on": sorted(ons), "off": sorted(offs)})
    return out


def track_velocities(data: bytes) -> list[list[tuple[int, Fraction, int]]]:
    """Every track's (pitch, onset, velocity), sorted."""
    mid = mido.MidiFile(file=io.BytesIO(data))
    out = []
    for tr in mid.tracks:
        t, notes = 0, []
        for msg in tr:
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                notes.append((msg.note, Fraction(t, mid.ticks_per_beat), msg.velocity))
        if notes:
            out.append(sorted(notes))
    return out


def tie_joints(score) -> list[list[tuple[int, Fraction]]]:
    """Per part: (sounding MIDI pitch, time) where a source note tied on ends, and where a
    grace note is (music21 writes it as a zero-length note: a note-on and note-off there), on
    music21's MIDI grid (10080 ticks a quarter)."""
    from music21 import stream

    out = []
    for p in score.parts:
        inst = p.getInstrument(returnDefault=False)
        trans = getattr(inst, "transposition", None) if p.atSoundingPitch is False else None
        joints = []
        for m in p.getElementsByClass(stream.Measure):
            for el in m.recurse().notes:
                grace = el.duration.isGrace
                end = Fraction(round((el.getOffsetInHierarchy(p) + el.duration.quarterLength) * 10080), 10080)
                for n in (el.notes if el.isChord else [el]):
                    if grace or (n.tie is not None and n.tie.type in ("start", "continue")):
                        pitch = trans.transposePitch(n.pitch) if trans is not None else n.pitch
                        joints.append((pitch.midi, end))
        out.append(joints)
    return out


def join_ties(events: dict, joints: list[tuple[int, Fraction]]) -> dict:
    """Drop one note-off and one note-on at each tie joint (or grace note) where both are there."""
    ons, offs = Counter(events["on"]), Counter(events["off"])
    for j in joints:
        if ons[j] > 0 and offs[j] > 0:
            ons[j] -= 1
            offs[j] -= 1
    return {"on": sorted(ons.elements()), "off": sorted(offs.elements())}


def unmatched(ref: list[tuple], ours: list[tuple], tolerance: Fraction = Fraction(0)) -> tuple[list, list]:
    """Events of each list with no partner in the other: the same pitch and measure at the same
    offset (within ``tolerance`` quarter notes; 0: exactly)."""
    if not tolerance:
        a, b = Counter(ref), Counter(ours)
        return sorted((a - b).elements()), sorted((b - a).elements())
    by_a, by_b = defaultdict(list), defaultdict(list)
    for e in ref:
        by_a[e[:-1]].append(e[-1])
    for e in ours:
        by_b[e[:-1]].append(e[-1])
    missing, extra = [], []
    for k in sorted(set(by_a) | set(by_b)):
        a, b = sorted(by_a[k]), sorted(by_b[k])
        i = j = 0
        while i < len(a) and j < len(b):
            if abs(a[i] - b[j]) <= tolerance:
                i, j = i + 1, j + 1
            elif a[i] < b[j]:
                missing.append((*k, a[i]))
                i += 1
            else:
                extra.append((*k, b[j]))
                j += 1
        missing += [(*k, t) for t in a[i:]]
        extra += [(*k, t) for t in b[j:]]
    return missing, extra


def without_repeats(score):
    """A copy of the score at sounding pitch, with its repeat barlines, endings, chord symbols
    and ties taken out (see :func:`music21_reference`)."""
    import copy

    from music21 import bar, spanner

    s = copy.deepcopy(score)
    for sp in list(s.recurse().getElementsByClass(spanner.RepeatBracket)):
        for site in list(sp.sites.get()):
            try:
                site.remove(sp)
            except Exception:
                pass
    for m in s.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(m, side), bar.Repeat):
                setattr(m, side, None)
    for rx in list(s.recurse().getElementsByClass("RepeatExpression")):
        rx.activeSite.remove(rx)
    for cs in list(s.recurse().getElementsByClass("Harmony")):  # chord symbols are not kept (documented)
        cs.activeSite.remove(cs)
    for el in s.recurse().notes:
        el.tie = None
        for n in (el.notes if el.isChord else ()):
            n.tie = None
    return s.toSoundingPitch()


def measure_starts(score) -> list[list[Fraction]]:
    """Each part's measure starts (quarter notes) as music21 placed them."""
    from music21 import stream

    return [[Fraction(m.getOffsetBySite(p)).limit_denominator(100000) for m in p.getElementsByClass(stream.Measure)]
            for p in score.parts]


def in_measures(events: dict, starts: list[Fraction], lengths: list[Fraction] | None = None) -> dict:
    """Note events with their times as (measure index, offset in the measure). With ``lengths``
    (the measures' lengths by the score's meter), a time past its measure's length counts in the
    next measure: where a source's measure is overfull, music21 lets the part's measures drift."""
    from bisect import bisect_right

    def where(t: Fraction) -> tuple[int, Fraction]:
        i = max(0, bisect_right(starts, t) - 1)
        m, off = i + 1, t - starts[i]
        while lengths and m < len(lengths) and off >= lengths[m - 1]:
            off -= lengths[m - 1]
            m += 1
        return m, off

    return {k: sorted((p, *where(t)) for p, t in v) for k, v in events.items()}


def music21_reference(score, lengths: list[Fraction] | None = None) -> list[dict]:
    """music21's MIDI of the score, per track, as the yardstick (see the module doc):

    - played once through, as written (repeats taken out: the canonical format does not keep
      them, and music21 cannot expand some scores' repeats at all), without chord symbols
      (which music21 plays as chords; they are not kept);
    - at sounding pitch (music21's ``streamToMidiFile`` writes a transposing part at its written
      pitch unless the score is put at sounding pitch first);
    - every written note as music21 times it (ties taken out), then each tie of the source (a
      note marked tie start/continue into the next note of its pitch that starts where it ends)
      joined into one note, and grace notes (zero-length in music21's MIDI) dropped;
    - times as (measure, offset in the measure) by each part's own measures, so that a part
      whose measures music21 misplaces (after an overfull measure in the source) is compared
      measure by measure; ``lengths`` (the composition's measure lengths) carries a time past
      its measure's length into the next measure.
    """
    from music21 import midi as m21midi

    plain = without_repeats(score)
    tracks = track_events(m21midi.translate.streamToMidiFile(plain).writestr())
    joints = tie_joints(score)
    starts = measure_starts(plain)
    return [in_measures(join_ties(t, j), st, lengths) for t, j, st in zip(tracks, joints, starts)]


def ours(data: bytes, comp) -> list[dict]:
    """Our MIDI's note events per track, times as (measure, offset) on the composition's grid."""
    grid = comp.grid()
    return [in_measures(t, [s for s, _, _ in grid], [n for _, n, _ in grid]) for t in track_events(data)]


def unison_spans(score) -> list[list[tuple[int, Fraction, Fraction]]]:
    """Per part: (sounding pitch, start, end) of the tied chains of notes that sound at once as
    another note of the same pitch in the part (two voices in unison): the places where MIDI
    cannot say which note-on belongs to which voice."""
    from music21 import stream

    out = []
    for p in score.parts:
        inst = p.getInstrument(returnDefault=False)
        trans = getattr(inst, "transposition", None) if p.atSoundingPitch is False else None
        notes = defaultdict(list)
        for m in p.getElementsByClass(stream.Measure):
            for el in m.recurse().notes:
                if el.duration.isGrace:
                    continue
                t0 = Fraction(el.getOffsetInHierarchy(p)).limit_denominator(100000)
                t1 = t0 + Fraction(el.duration.quarterLength).limit_denominator(100000)
                for n in (el.notes if el.isChord else [el]):
                    pitch = trans.transposePitch(n.pitch) if trans is not None else n.pitch
                    tied = n.tie is not None and n.tie.type in ("start", "continue")
                    notes[pitch.midi].append((t0, t1, tied))
        spans = []
        for pitch, iv in notes.items():
            iv.sort()
            chains: list[list] = []   # [start, end, tied on]
            for t0, t1, tied in iv:
                for c in chains:
                    if c[2] and c[1] == t0:
                        c[1], c[2] = t1, tied
                        break
                else:
                    chains.append([t0, t1, tied])
            for i, a in enumerate(chains):
                if any(j != i and b[0] < a[1] and a[0] < b[1] for j, b in enumerate(chains)):
                    spans.append((pitch, a[0], a[1]))
        out.append(spans)
    return out


def in_unison(event: tuple[int, int, Fraction], spans: list[tuple[int, Fraction, Fraction]],
              starts: list[Fraction]) -> bool:
    """Whether a note event (pitch, measure, offset on ``starts``) lies on a chain of a unison
    stretch, or as far again after its end (where music21's pairing of the voices' tied notes
    puts its note-offs)."""
    pitch, m, off = event
    t = starts[m - 1] + off
    slack = Fraction(1, 64)
    return any(p == pitch and a - slack <= t <= b + (b - a) + slack for p, a, b in spans)
