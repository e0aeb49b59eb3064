"""Per-listener HLS playlists: the stored playlist with every URI signed for one listener.

A premium track's ``hls_url`` is its master playlist, signed for the listener. Served, the
master playlist names each variant playlist with a signature of its own (the same listener, the
same expiry); each variant playlist names its init segment and media segments the same way. So
a listener's whole stream is signed URLs ending at one expiry, and an issued playlist can never
lengthen it.

Playlists are content-addressed (a key never changes), so each is parsed once per process with
the m3u8 library into a :class:`Template` (the text between URIs, and the store key of each URI);
building one listener's playlist is then a join with one HMAC per URI (bench/access.py:
``playlist_ms`` for a 10-minute track).
"""
from __future__ import annotations

import collections
import dataclasses
import posixpath
import re
import threading
from typing import Callable

import m3u8

_SLOT = re.compile(r"\x00(\d+)\x00")


@dataclasses.dataclass(frozen=True)
class Template:
    """A playlist split at its URIs: ``parts[0] uri0 parts[1] uri1 ... parts[n]``."""

    parts: tuple[str, ...]
    uris: tuple[str, ...]
    keys: tuple[str | None, ...]  # the store key each URI names (None: not in the playlist's folder)

    def render(self, query_for: Callable[[str], str]) -> str:
        """The playlist with ``?<query_for(key)>`` after each URI of a stored object."""
        out = [self.parts[0]]
        for uri, key, part in zip(self.uris, self.keys, self.parts[1:]):
            out.append(f"{uri}?{query_for(key)}" if key else uri)
            out.append(part)
        return "".join(out)


def key_of(playlist_key: str, uri: str) -> str | None:
    """The store key a playlist's relative URI names, or None for absolute or escaping URIs."""
    if not uri or "://" in uri or uri.startswith("/") or "?" in uri or "#" in uri:
        return None
    folder = posixpath.dirname(playlist_key)
    key = posixpath.normpath(posixpath.join(folder, uri))
    if not key.startswith(folder + "/"):
        return None
    return key


def parse(playlist_key: str, text: str) -> Template:
    """Parse a master or media playlist (m3u8) into a :class:`Template`."""
    pl = m3u8.loads(text)
    uris: list[str] = []

    def slot(uri: str) -> str:
        uris.append(uri)
        return f"\x00{len(uris) - 1}\x00"

    if pl.is_variant:
        for variant in pl.playlists:
            variant.uri = slot(variant.uri)
        for media in pl.media:
            if media.uri:
                media.uri = slot(media.uri)
        for frames in pl.iframe_playlists:
            frames.uri = slot(frames.uri)
    else:
        inits: dict[str, str] = {}
        for seg in pl.segments:
            if seg.init_section is not None and seg.init_section.uri:
                uri = seg.init_section.uri
                if uri not in inits:
                    inits[uri] = slot(uri)
                seg.init_section.uri = inits[uri]
            seg.uri = slot(seg.uri)
    pieces = _SLOT.split(pl.dumps())
    parts = tuple(pieces[0::2])
    order = [int(i) for i in pieces[1::2]]
    written = tuple(uris[i] for i in order)
    return Template(parts, written, tuple(key_of(playlist_key, u) for u in written))


class TemplateCache:
    """Parsed playlists by key (keys are content-addressed: a parse is good for the process's life)."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: collections.OrderedDict[str, Template] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[str], bytes]) -> Template:
        with self._lock:
            tpl = self._items.get(key)
            if tpl is not None:
                self._items.move_to_end(key)
                return tpl
        tpl = parse(key, load(key).decode("utf-8"))
        with self._lock:
            self._items[key] = tpl
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return tpl


TEMPLATES = TemplateCache()


def listener_playlist(store, key: str, signer, lid: str, exp: int, cache: TemplateCache = TEMPLATES) -> str:
    """The playlist at ``key`` with each URI signed for ``lid`` until ``exp`` (KeyError when absent)."""
    tpl = cache.get(key, store.get_bytes)
    return tpl.render(lambda k: signer.sign_until(k, lid, exp).query())
