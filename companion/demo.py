"""A demo song for tests, benches and `scripthammer demo`: MIDI written with music21,
rendered to WAV with FluidSynth, and a generated cover for its tags.

The piece is a little futuristic jazz: a cycle of extended chords (maj9#11, m11, 13b9, 7#9,
sus13), a swung ride pattern on General MIDI channel 10, a walking bass, syncopated horn
stabs and a keyboard melody drawn from each chord's upper tensions. It is deterministic for a
given ``seed``. music21 is slow to import and to build with, so it is only touched here.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

from companion.errors import ScriptHammerError

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

# Chord cycle: (root MIDI note, intervals above the root), two bars each.
_CHORDS = [
    (50, (0, 3, 7, 10, 14, 17)),      # Dm11
    (55, (0, 4, 10, 13, 16, 21)),     # G13b9
    (48, (0, 4, 7, 11, 14, 18)),      # Cmaj9#11
    (57, (0, 4, 10, 15, 19)),         # A7#9
    (51, (0, 4, 7, 11, 14, 18)),      # Ebmaj9#11
    (56, (0, 5, 7, 10, 14, 21)),      # Ab13sus
    (49, (0, 3, 7, 10, 14, 17)),      # Dbm11
    (54, (0, 4, 10, 14, 21)),         # F#13
]
_TEMPO = 112
_BEATS_PER_BAR = 4
_SWING = 2.0 / 3.0  # offset of the off-beat eighth within a beat (triplet swing)

# General MIDI percussion keys
_KICK, _SNARE, _RIDE, _HAT_PEDAL, _RIM = 36, 38, 51, 44, 37


def _bars_for(seconds: float) -> int:
    return max(2, int(round(seconds * _TEMPO / 60.0 / _BEATS_PER_BAR)))


def write_demo_midi(path: str | Path, seconds: float = 60, seed: int = 0) -> Path:
    """Write a four-part demo piece of about ``seconds`` to ``path`` (a .mid file).

    Parts: electric piano melody, walking bass, drums (channel 10), horn-section chords.

    Args:
        path: where to write the Standard MIDI File.
        seconds: approximate length of the piece.
        seed: changes the melody, bass line and fills; the same seed gives the same file.
    """
    from music21 import chord, instrument, meter, note, stream, tempo  # slow import: keep here

    rng = random.Random(seed)
    bars = _bars_for(seconds)
    score = stream.Score()

    keys = stream.Part(id="keys")
    keys.insert(0, instrument.ElectricPiano())
    bass = stream.Part(id="bass")
    bass.insert(0, instrument.AcousticBass())
    drums = stream.Part(id="drums")
    kit = instrument.Instrument()
    kit.instrumentName = "Drum kit"
    kit.midiChannel = 9  # General MIDI drums: channel 10
    drums.insert(0, kit)
    horns = stream.Part(id="horns")
    horns.insert(0, instrument.Trombone() if seed % 2 else instrument.Horn())
    for part in (keys, bass, drums, horns):
        part.insert(0, meter.TimeSignature("4/4"))
    keys.insert(0, tempo.MetronomeMark(number=_TEMPO))

    def at(bar: int, beat: float) -> float:
        return bar * _BEATS_PER_BAR + beat

    for bar in range(bars):
        root, intervals = _CHORDS[(bar // 2 + seed) % len(_CHORDS)]
        pitches = [root + i for i in intervals]
        # Horns: syncopated stabs on the "and" of 1 and on 3, voicing without the root.
        for beat, dur in ((_SWING, 1.0), (2.0 + (_SWING if bar % 2 else 0.0), 1.5)):
            c = chord.Chord([p + 12 for p in pitches[1:5]], quarterLength=dur)
            c.volume.velocity = 70 + rng.randint(-8, 8)
            horns.insert(at(bar, beat), c)
        # Bass: walking quarters through chord tones with a chromatic approach on beat 4.
        next_root = _CHORDS[((bar + 1) // 2 + seed) % len(_CHORDS)][0]
        line = [root - 12, root - 12 + intervals[2 % len(intervals)] % 12,
                root - 12 + (7 if rng.random() < 0.6 else 5), next_root - 12 + rng.choice((-1, 1))]
        for beat, pitch in enumerate(line):
            n = note.Note(max(28, pitch), quarterLength=0.9)
            n.volume.velocity = 88 + rng.randint(-6, 6)
            bass.insert(at(bar, beat), n)
        # Drums: swung ride, hat on 2 and 4, kick/snare comping, a fill every 8 bars.
        for beat in range(_BEATS_PER_BAR):
            for off, vel in ((0.0, 84), (_SWING, 64)):
                if off and beat % 2 == 0:
                    continue  # ride: ding, ding-a ding, ding-a
                r = note.Note(_RIDE, quarterLength=0.3)
                r.volume.velocity = vel
                drums.insert(at(bar, beat + off), r)
        for beat, key in ((1.0, _HAT_PEDAL), (3.0, _HAT_PEDAL), (0.0, _KICK),
                          (2.0 + _SWING, _KICK if rng.random() < 0.5 else _RIM),
                          (3.0 + _SWING, _SNARE if rng.random() < 0.4 else _RIM)):
            d = note.Note(key, quarterLength=0.3)
            d.volume.velocity = 80 + rng.randint(-10, 10)
            drums.insert(at(bar, beat), d)
        if bar % 8 == 7:
            for k in range(6):
                d = note.Note(_SNARE, quarterLength=0.2)
                d.volume.velocity = 70 + 5 * k
                drums.insert(at(bar, 2.0 + k / 3.0), d)
        # Keys: a swung melody from the upper extensions, with rests and anticipations.
        tones = sorted({p + 12 for p in pitches[2:]} | {p + 24 for p in pitches[3:5]})
        beat = 0.0
        while beat < _BEATS_PER_BAR - 0.1:
            length = rng.choice((_SWING, 1.0 - _SWING, 1.0, 1.0 + _SWING, 0.5))
            if rng.random() < 0.2:
                beat += length
                continue
            n = note.Note(rng.choice(tones), quarterLength=min(length, _BEATS_PER_BAR - beat))
            n.volume.velocity = 76 + rng.randint(-12, 14)
            keys.insert(at(bar, beat), n)
            beat += length

    # Close on the first chord, held.
    end = at(bars, 0)
    root, intervals = _CHORDS[seed % len(_CHORDS)]
    horns.insert(end, chord.Chord([root + 12 + i for i in intervals[1:5]], quarterLength=4))
    keys.insert(end, chord.Chord([root + 12 + i for i in intervals], quarterLength=4))
    bass.insert(end, note.Note(root - 12, quarterLength=4))

    for part in (keys, bass, drums, horns):
        score.insert(0, part)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.write("midi", fp=str(path))
    _ensure_drum_channel(path)
    return path


def _ensure_drum_channel(path: Path) -> None:
    """Move the drum track's events to channel 10 if music21 did not (checked with mido)."""
    import mido

    mid = mido.MidiFile(str(path))
    changed = False
    for track in mid.tracks:
        notes = [m for m in track if m.type in ("note_on", "note_off")]
        if not notes:
            continue
        keys = {m.note for m in notes}
        is_drums = keys <= {_KICK, _SNARE, _RIDE, _HAT_PEDAL, _RIM} and _RIDE in keys
        if is_drums and any(m.channel != 9 for m in notes):
            for m in track:
                if hasattr(m, "channel"):
                    m.channel = 9
            changed = True
    if changed:
        mid.save(str(path))


class RenderError(ScriptHammerError):
    """FluidSynth or its soundfont is missing, or the demo's render failed (permanent: not retried)."""

    status = 503
    code = "demo_render_failed"


def render_midi(midi_path: str | Path, wav_path: str | Path, sample_rate: int = 44100,
                soundfont: str | Path = DEFAULT_SOUNDFONT, timeout: float = 600) -> Path:
    """Render a MIDI file to a 16-bit WAV with FluidSynth's fast (non-realtime) renderer.

    Args:
        midi_path: the Standard MIDI File.
        wav_path: the WAV to write (its folder is created).
        sample_rate: output sample rate.
        soundfont: a General MIDI .sf2 (Debian's fluid-soundfont-gm by default).
        timeout: seconds before the render is abandoned.
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError("fluidsynth is not installed (apt-get install fluidsynth)")
    if not Path(soundfont).is_file():
        raise RenderError(f"soundfont {soundfont} not found (apt-get install fluid-soundfont-gm)")
    if not Path(midi_path).is_file():
        raise RenderError(f"MIDI file {midi_path} not found")
    wav_path = Path(wav_path)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav_path.with_name(wav_path.name + ".part.wav")
    proc = subprocess.run(
        [exe, "-ni", "-q", "-g", "0.6", "-F", str(tmp), "-T", "wav", "-O", "s16", "-r", str(int(sample_rate)),
         str(soundfont), str(midi_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=timeout,
    )
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
        tmp.unlink(missing_ok=True)
        raise RenderError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}")
    tmp.replace(wav_path)
    return wav_path
