"""Tags on every rendition, written and read back with mutagen: one small function per family.

* :func:`write_id3` - MP3, and the ID3 chunk of WAV and AIFF files: ID3v2.4 throughout (UTF-8
  text, the year in ``TDRC``, which is a v2.4 frame: v2.3 would need ``TYER``).
* :func:`write_vorbis` - Vorbis comments and a ``METADATA_BLOCK_PICTURE`` for FLAC, Ogg Vorbis and Ogg Opus.
* :func:`write_mp4` - MP4 atoms for AAC and ALAC in M4A (freeform ``----:com.apple.iTunes:`` atoms
  for the track id and ReplayGain).

:func:`tag_file` writes, then reads back with :func:`read_tags` and raises :class:`TagError` if
anything differs. Each tagged file carries title, artist, album, album artist, track number
(and total), year, cover art, the companion's track id (``SCRIPTHAMMER_TRACK_ID``) and any
extra tags passed (ReplayGain 2 ``REPLAYGAIN_TRACK_GAIN``/``_PEAK``, Opus ``R128_TRACK_GAIN``).

Credits (companion/rights/credits.py), when the track sounds a composition version or has codes:

| | ID3v2.4 | Vorbis comments | MP4 |
|---|---|---|---|
| composers (by share) | ``TCOM`` (one value each) | ``COMPOSER`` (one each) | ``\xa9wrt`` |
| performers (role, name) | ``TMCL`` (musician credits) | ``PERFORMER=Name (role)`` (one each) | ``----:PERFORMER`` |
| ISRC | ``TSRC`` | ``ISRC`` | ``----:ISRC`` |
| ISWC | ``TXXX:ISWC`` | ``ISWC`` | ``----:ISWC`` |
| shares | ``TXXX:SCRIPTHAMMER_CREDITS`` | ``SCRIPTHAMMER_CREDITS`` | ``----:SCRIPTHAMMER_CREDITS`` |
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping

import mutagen
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TCOM, TDRC, TIT2, TMCL, TPE1, TPE2, TRCK, TSRC, TXXX
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

from companion.errors import ScriptHammerError

TRACK_ID_TAG = "SCRIPTHAMMER_TRACK_ID"
CREDITS_TAG = "SCRIPTHAMMER_CREDITS"
_MP4_FREEFORM = "----:com.apple.iTunes:"


class TagError(ScriptHammerError):
    """Tags could not be written, or did not read back as written."""

    status = 500
    code = "tagging_failed"


@dataclasses.dataclass(frozen=True)
class Tags:
    """What every file of a release says about itself."""

    title: str
    artist: str = "ScriptHammer"
    album: str | None = None
    album_artist: str | None = "ScriptHammer"
    track_number: int | None = None
    track_total: int | None = None
    year: int | None = None
    track_id: str | None = None
    cover: bytes | None = None
    cover_mime: str | None = None
    # credits: composers by share, performers as (role, name), ISRC (12 characters), ISWC, shares in a line
    composers: tuple[str, ...] = ()
    performers: tuple[tuple[str, str], ...] = ()
    isrc: str | None = None
    iswc: str | None = None
    credits: str | None = None

    @property
    def cover_type(self) -> str | None:
        """The cover's MIME type (given, or sniffed from its first bytes)."""
        if not self.cover:
            return None
        if self.cover_mime:
            return self.cover_mime
        if self.cover[:8] == b"\x89PNG\r\n\x1a\n":
            return "image/png"
        if self.cover[:3] == b"\xff\xd8\xff":
            return "image/jpeg"
        raise TagError("cover art must be JPEG or PNG bytes")

    def fingerprint_data(self) -> dict[str, Any]:
        """Every field, with the cover replaced by its sha256 (for cache keys)."""
        d = dataclasses.asdict(self)
        d["cover"] = hashlib.sha256(self.cover).hexdigest() if self.cover else None
        d["cover_mime"] = self.cover_type
        return d


def _track_text(tags: Tags) -> str | None:
    if tags.track_number is None:
        return None
    return f"{tags.track_number}/{tags.track_total}" if tags.track_total else str(tags.track_number)


# --- writers ----------------------------------------------------------------------------------

def _id3_frames(tags: Tags, extra: Mapping[str, str]) -> list:
    frames = [TIT2(encoding=3, text=tags.title), TPE1(encoding=3, text=tags.artist)]
    if tags.album:
        frames.append(TALB(encoding=3, text=tags.album))
    if tags.album_artist:
        frames.append(TPE2(encoding=3, text=tags.album_artist))
    if _track_text(tags):
        frames.append(TRCK(encoding=3, text=_track_text(tags)))
    if tags.year:
        frames.append(TDRC(encoding=3, text=str(tags.year)))
    if tags.track_id:
        frames.append(TXXX(encoding=3, desc=TRACK_ID_TAG, text=tags.track_id))
    if tags.composers:
        frames.append(TCOM(encoding=3, text=list(tags.composers)))
    if tags.performers:
        frames.append(TMCL(encoding=3, people=[[role, name] for role, name in tags.performers]))
    if tags.isrc:
        frames.append(TSRC(encoding=3, text=tags.isrc))
    if tags.iswc:
        frames.append(TXXX(encoding=3, desc="ISWC", text=tags.iswc))
    if tags.credits:
        frames.append(TXXX(encoding=3, desc=CREDITS_TAG, text=tags.credits))
    for key, value in extra.items():
        frames.append(TXXX(encoding=3, desc=key, text=value))
    if tags.cover:
        frames.append(APIC(encoding=3, mime=tags.cover_type, type=3, desc="Cover", data=tags.cover))
    return frames


#: The ID3v2 version written (every frame we write, TDRC included, is a v2.4 frame).
ID3_VERSION = 4


def write_id3(path: str | Path, tags: Tags, extra: Mapping[str, str] = {}) -> None:
    """ID3v2.4 tags on an MP3, or in the ``id3 `` chunk of a WAV or AIFF."""
    audio = mutagen.File(str(path))
    if audio is None:
        raise TagError(f"mutagen cannot open {Path(path).name}")
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    for frame in _id3_frames(tags, extra):
        audio.tags.add(frame)
    audio.save(v2_version=ID3_VERSION)


def _picture(tags: Tags) -> Picture:
    pic = Picture()
    pic.type = 3
    pic.mime = tags.cover_type
    pic.desc = "Cover"
    pic.data = tags.cover
    return pic


def _vorbis_fields(tags: Tags, extra: Mapping[str, str]) -> dict[str, str]:
    fields = {"TITLE": tags.title, "ARTIST": tags.artist, "ALBUM": tags.album, "ALBUMARTIST": tags.album_artist,
              "TRACKNUMBER": str(tags.track_number) if tags.track_number is not None else None,
              "TRACKTOTAL": str(tags.track_total) if tags.track_total else None,
              "DATE": str(tags.year) if tags.year else None, TRACK_ID_TAG: tags.track_id,
              "ISRC": tags.isrc, "ISWC": tags.iswc, CREDITS_TAG: tags.credits}
    fields.update(extra)
    return {k: v for k, v in fields.items() if v}


def _performer_text(role: str, name: str) -> str:
    return f"{name} ({role})"


def _performer_pair(text: str) -> tuple[str, str]:
    name, _, role = text.partition(" (")  # a name has no parentheses; a role may ("guitar (hacked)")
    return (role[:-1], name) if name and role.endswith(")") else ("", text)


def write_vorbis(path: str | Path, tags: Tags, extra: Mapping[str, str] = {}) -> None:
    """Vorbis comments on FLAC, Ogg Vorbis or Ogg Opus; cover as a FLAC picture block
    (FLAC) or a base64 ``METADATA_BLOCK_PICTURE`` comment (Ogg)."""
    audio = mutagen.File(str(path))
    if not isinstance(audio, (FLAC, OggVorbis, OggOpus)):
        raise TagError(f"{Path(path).name} is not FLAC, Ogg Vorbis or Ogg Opus")
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    for key, value in _vorbis_fields(tags, extra).items():
        audio[key] = [value]
    if tags.composers:
        audio["COMPOSER"] = list(tags.composers)
    if tags.performers:
        audio["PERFORMER"] = [_performer_text(role, name) for role, name in tags.performers]
    if isinstance(audio, FLAC):
        audio.clear_pictures()
        if tags.cover:
            audio.add_picture(_picture(tags))
    elif tags.cover:
        audio["METADATA_BLOCK_PICTURE"] = [base64.b64encode(_picture(tags).write()).decode("ascii")]
    audio.save()


def write_mp4(path: str | Path, tags: Tags, extra: Mapping[str, str] = {}) -> None:
    """MP4 atoms on AAC or ALAC in M4A."""
    audio = MP4(str(path))
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    audio["\xa9nam"] = [tags.title]
    audio["\xa9ART"] = [tags.artist]
    if tags.album:
        audio["\xa9alb"] = [tags.album]
    if tags.album_artist:
        audio["aART"] = [tags.album_artist]
    if tags.track_number is not None:
        audio["trkn"] = [(tags.track_number, tags.track_total or 0)]
    if tags.year:
        audio["\xa9day"] = [str(tags.year)]
    if tags.track_id:
        audio[_MP4_FREEFORM + TRACK_ID_TAG] = [MP4FreeForm(tags.track_id.encode("utf-8"))]
    if tags.composers:
        audio["\xa9wrt"] = list(tags.composers)
    if tags.performers:
        audio[_MP4_FREEFORM + "PERFORMER"] = [MP4FreeForm(_performer_text(r, n).encode("utf-8"))
                                              for r, n in tags.performers]
    for key, value in (("ISRC", tags.isrc), ("ISWC", tags.iswc), (CREDITS_TAG, tags.credits)):
        if value:
            audio[_MP4_FREEFORM + key] = [MP4FreeForm(value.encode("utf-8"))]
    for key, value in extra.items():
        audio[_MP4_FREEFORM + key.lower()] = [MP4FreeForm(value.encode("utf-8"))]
    if tags.cover:
        fmt = MP4Cover.FORMAT_PNG if tags.cover_type == "image/png" else MP4Cover.FORMAT_JPEG
        audio["covr"] = [MP4Cover(tags.cover, imageformat=fmt)]
    audio.save()


WRITERS: dict[str, Callable[..., None]] = {
    "id3": write_id3, "wav": write_id3, "aiff": write_id3,
    "flac": write_vorbis, "ogg": write_vorbis, "mp4": write_mp4,
}


# --- reading back -----------------------------------------------------------------------------

def _first(v: Any) -> Any:
    if isinstance(v, list):
        return v[0] if v else None
    return v


def _int_or_none(s: Any) -> int | None:
    try:
        return int(str(s).split("/")[0]) if s not in (None, "") else None
    except ValueError:
        return None


def read_tags(path: str | Path) -> dict[str, Any]:
    """The tags of any supported file, in one shape: title, artist, album, album_artist,
    track_number, track_total, year, track_id, cover (bytes), and upper-case extra tags
    (REPLAYGAIN_*, R128_*). Also ``length`` (seconds) and stream info mutagen knows."""
    audio = mutagen.File(str(path))
    if audio is None:
        raise TagError(f"mutagen cannot open {Path(path).name}")
    out: dict[str, Any] = {"extra": {}, "composers": [], "performers": [], "isrc": None, "iswc": None,
                           "credits": None}
    info = audio.info
    out["length"] = float(getattr(info, "length", 0.0) or 0.0)
    out["sample_rate"] = getattr(info, "sample_rate", None)
    out["channels"] = getattr(info, "channels", None)
    out["bitrate"] = getattr(info, "bitrate", None) or None
    out["bits_per_sample"] = getattr(info, "bits_per_sample", None) or None
    t = audio.tags
    if t is None:
        return out
    if isinstance(t, ID3):
        out["title"] = _first(t["TIT2"].text) if "TIT2" in t else None
        out["artist"] = _first(t["TPE1"].text) if "TPE1" in t else None
        out["album"] = _first(t["TALB"].text) if "TALB" in t else None
        out["album_artist"] = _first(t["TPE2"].text) if "TPE2" in t else None
        trck = str(_first(t["TRCK"].text)) if "TRCK" in t else ""
        out["track_number"] = _int_or_none(trck)
        out["track_total"] = _int_or_none(trck.split("/")[1]) if "/" in trck else None
        out["year"] = _int_or_none(str(_first(t["TDRC"].text))[:4]) if "TDRC" in t else None
        out["composers"] = [str(x) for x in t["TCOM"].text] if "TCOM" in t else []
        out["performers"] = [(str(r), str(n)) for r, n in t["TMCL"].people] if "TMCL" in t else []
        out["isrc"] = str(_first(t["TSRC"].text)) if "TSRC" in t else None
        for frame in t.getall("TXXX"):
            if frame.desc == TRACK_ID_TAG:
                out["track_id"] = str(_first(frame.text))
            elif frame.desc == "ISWC":
                out["iswc"] = str(_first(frame.text))
            elif frame.desc == CREDITS_TAG:
                out["credits"] = str(_first(frame.text))
            else:
                out["extra"][frame.desc.upper()] = str(_first(frame.text))
        pics = t.getall("APIC")
        out["cover"] = pics[0].data if pics else None
    elif isinstance(audio, MP4):
        out["title"] = _first(t.get("\xa9nam"))
        out["artist"] = _first(t.get("\xa9ART"))
        out["album"] = _first(t.get("\xa9alb"))
        out["album_artist"] = _first(t.get("aART"))
        trkn = _first(t.get("trkn"))
        out["track_number"] = trkn[0] if trkn else None
        out["track_total"] = (trkn[1] or None) if trkn else None
        out["year"] = _int_or_none(str(_first(t.get("\xa9day")) or "")[:4])
        out["composers"] = [str(x) for x in t.get("\xa9wrt", [])]
        for key, values in t.items():
            if key.startswith(_MP4_FREEFORM):
                name = key[len(_MP4_FREEFORM):]
                text = bytes(values[0]).decode("utf-8")
                if name == TRACK_ID_TAG:
                    out["track_id"] = text
                elif name == "PERFORMER":
                    out["performers"] = [_performer_pair(bytes(v).decode("utf-8")) for v in values]
                elif name in ("ISRC", "ISWC"):
                    out[name.lower()] = text
                elif name == CREDITS_TAG:
                    out["credits"] = text
                else:
                    out["extra"][name.upper()] = text
        covr = _first(t.get("covr"))
        out["cover"] = bytes(covr) if covr is not None else None
    else:  # Vorbis comments
        def get(k):
            return _first(audio.get(k))
        out["title"], out["artist"], out["album"] = get("TITLE"), get("ARTIST"), get("ALBUM")
        out["album_artist"] = get("ALBUMARTIST")
        out["track_number"] = _int_or_none(get("TRACKNUMBER"))
        out["track_total"] = _int_or_none(get("TRACKTOTAL"))
        out["year"] = _int_or_none((get("DATE") or "")[:4])
        out["track_id"] = get(TRACK_ID_TAG)
        out["composers"] = list(audio.get("COMPOSER") or [])
        out["performers"] = [_performer_pair(p) for p in (audio.get("PERFORMER") or [])]
        out["isrc"], out["iswc"], out["credits"] = get("ISRC"), get("ISWC"), get(CREDITS_TAG)
        known = {"TITLE", "ARTIST", "ALBUM", "ALBUMARTIST", "TRACKNUMBER", "TRACKTOTAL", "DATE", TRACK_ID_TAG,
                 "METADATA_BLOCK_PICTURE", "COMPOSER", "PERFORMER", "ISRC", "ISWC", CREDITS_TAG}
        for key, values in audio.tags.items():
            if key.upper() not in known:
                out["extra"][key.upper()] = _extra_value(values)
        if isinstance(audio, FLAC):
            out["cover"] = audio.pictures[0].data if audio.pictures else None
        else:
            block = get("METADATA_BLOCK_PICTURE")
            out["cover"] = Picture(base64.b64decode(block)).data if block else None
    return out


def _extra_value(v: Any) -> str:
    return str(_first(v)) if isinstance(v, list) else str(v)


def check_tags(read: Mapping[str, Any], tags: Tags, extra: Mapping[str, str] = {}) -> list[str]:
    """Differences between what was read back and what should be there (empty when equal)."""
    problems = []
    for field in ("title", "artist", "album", "album_artist", "track_number", "track_total", "year", "track_id",
                  "isrc", "iswc", "credits"):
        want = getattr(tags, field)
        got = read.get(field)
        if want in ("", None):
            continue
        if str(got) != str(want):
            problems.append(f"{field}: wrote {want!r}, read {got!r}")
    if list(tags.composers) != list(read.get("composers") or []):
        problems.append(f"composers: wrote {list(tags.composers)!r}, read {read.get('composers')!r}")
    if [tuple(p) for p in tags.performers] != [tuple(p) for p in (read.get("performers") or [])]:
        problems.append(f"performers: wrote {list(tags.performers)!r}, read {read.get('performers')!r}")
    if tags.cover and read.get("cover") != tags.cover:
        problems.append("cover art did not read back")
    got_extra = {k.upper(): _extra_value(v) for k, v in (read.get("extra") or {}).items()}
    for key, value in extra.items():
        if got_extra.get(key.upper()) != value:
            problems.append(f"{key}: wrote {value!r}, read {got_extra.get(key.upper())!r}")
    return problems


def tag_file(path: str | Path, tag_format: str, tags: Tags, extra: Mapping[str, str] = {}) -> dict[str, Any]:
    """Write ``tags`` (+ ``extra``) with the family's writer, read them back, raise on a mismatch.

    Returns what :func:`read_tags` read (stream info included).
    """
    try:
        writer = WRITERS[tag_format]
    except KeyError:
        raise TagError(f"no tag writer for {tag_format!r}") from None
    try:
        writer(path, tags, extra)
    except TagError:
        raise
    except Exception as exc:  # mutagen raises many kinds
        why = str(exc).replace(str(Path(path).parent) + "/", "")
        raise TagError(f"could not tag {Path(path).name}: {why}") from exc
    read = read_tags(path)
    problems = check_tags(read, tags, extra)
    if problems:
        raise TagError(f"tags on {Path(path).name} did not read back: " + "; ".join(problems))
    return read
