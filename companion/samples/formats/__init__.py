"""Sample formats, one module per format behind one base; :func:`inspect_file` picks the format
from the content (each format scores the first bytes), checks the name agrees, and inspects."""
from __future__ import annotations

from pathlib import Path

from .aiff import Aiff
from .base import Limits, SampleFormat, SampleInfo, refuse_format, refuse_not_audio, refuse_too_large
from .flac import Flac
from .sf2 import Sf2
from .wav import Wav
from companion.errors import Unprocessable, UnsupportedMedia

FORMATS: tuple[type[SampleFormat], ...] = (Wav, Aiff, Flac, Sf2)
EXTENSIONS = {ext: f.name for f in FORMATS for ext in f.extensions}

#: first bytes of audio the library does not take, for a clear message
OTHER_AUDIO = ((b"ID3", "MP3 audio"), (b"OggS", "Ogg audio"), (b"\xff\xfb", "MP3 audio"), (b"\xff\xf3", "MP3 audio"),
               (b"MThd", "a MIDI file"), (b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "a gzip archive"))


def pick(head: bytes) -> SampleFormat | None:
    """The format the content is (highest score), or None."""
    best = max(FORMATS, key=lambda f: f.score(head))
    return best() if best.score(head) > 0 else None


def inspect_file(path: str | Path, filename: str, limits: Limits = Limits()) -> SampleInfo:
    """What ``path`` (named ``filename`` by its sender) is, after every check; a typed 4xx error otherwise."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise Unprocessable(f"{filename} is empty (0 bytes).", code="empty", details={"filename": filename})
    if size > limits.max_bytes:
        raise refuse_too_large(filename, size, limits.max_bytes)
    with open(path, "rb") as fh:
        head = fh.read(64)
    fmt = pick(head)
    if fmt is None:
        for magic, what in OTHER_AUDIO:
            if head.startswith(magic) or (magic == b"ftyp" and head[4:8] == magic):
                raise refuse_format(filename, what)
        if len(head) >= 8 and head[4:8] == b"ftyp":
            raise refuse_format(filename, "MPEG-4 audio")
        raise refuse_not_audio(filename)
    ext = Path(filename).suffix.lower()
    named = EXTENSIONS.get(ext)
    if named != fmt.name:
        label = fmt.name.upper()
        raise UnsupportedMedia(
            f"{filename} is named {ext or 'without an extension'} but holds {label} data: name it "
            f"{fmt.extensions[0]} (or export it again in the format its name says).", code="extension_mismatch",
            details={"filename": filename, "extension": ext, "content_format": fmt.name})
    return fmt.inspect(path, filename, limits)


__all__ = ["FORMATS", "EXTENSIONS", "Limits", "SampleInfo", "inspect_file", "pick"]
