"""/embed/track/<id> and /embed/album/<id> pages, /oembed, and the player bundle under /player/.

The embed pages carry the track (or album) JSON inline so the player starts without an API round
trip, and a ``<link rel="alternate" type="application/json+oembed">`` so that pasting a page's URL
into WordPress embeds the player.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import mimetypes
import posixpath
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import Response, current_app, render_template, request, send_file
from flask_smorest import Blueprint
from marshmallow import Schema, validate
from companion import schema_fields as fields

from companion.access.delivery import Viewer
from companion.services import current as services
from companion.band.auth import current_identity
from companion.catalog import service as catalog
from companion.catalog.shapes import album_out, track_out, track_view, visible_tracks
from companion.errors import NotFound, NotImplementedHere, ServiceUnavailable

blp = Blueprint("embed", __name__, description="The embedded player: embed pages, oEmbed and the player bundle.",
                template_folder="templates")

#: Where ``npm run build`` in player/ puts the bundle.
DIST_DIR = Path(__file__).resolve().parents[2] / "player" / "dist"
DIST_FILES = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|map|json|txt|png|svg)$")

#: Heights (px) of the player: one track, then each extra album row.
TRACK_HEIGHT = 240
ALBUM_ROW = 36
ALBUM_EXTRA = 12


_HTML_PAGE = {"200": {"description": "The embed page (HTML with the player)",
                      "content": {"text/html": {"schema": {"type": "string"}}}}}


class OEmbedArgs(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    format = fields.String(load_default="json", validate=validate.Length(max=20))
    maxwidth = fields.Integer(load_default=None, validate=validate.Range(min=1))
    maxheight = fields.Integer(load_default=None, validate=validate.Range(min=1))


class OEmbedSchema(Schema):
    version = fields.String()
    type = fields.String()
    provider_name = fields.String()
    provider_url = fields.String()
    title = fields.String()
    author_name = fields.String()
    html = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    thumbnail_url = fields.String()
    cache_age = fields.Integer()


def _base() -> str:
    return request.host_url.rstrip("/")


def _script_json(obj) -> str:
    """JSON safe to put inside <script type="application/json">."""
    text = current_app.json.dumps(obj)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _player_options(extra: dict) -> dict:
    cfg = services().config
    args = request.args
    opts = {"api": _base(), "beaconUrl": f"{_base()}/api/beacons", "keyboard": "document", "page": "referrer",
            "autoplay": args.get("autoplay") in {"1", "true"}}
    tip_url = getattr(cfg, "tip_url", "") or ""
    if tip_url:
        opts["tip"] = {"url": tip_url, "productId": getattr(cfg, "tip_product_id", "") or "",
                       "currency": getattr(cfg, "tip_currency", "") or "USD"}
        presets = getattr(cfg, "tip_presets", "") or ""
        if presets:
            opts["tip"]["presets"] = [float(x) for x in str(presets).split(",") if x.strip()]
    unlock_url = getattr(cfg, "unlock_url", "") or (cfg.wp_url.rstrip("/") + "/shop/" if cfg.wp_url else "")
    if unlock_url:
        # Where a fan subscribes (or finds the shop); a track's own buy link is in its JSON (access.buy_url).
        opts["unlock"] = {"url": unlock_url, "label": "Subscribe" if getattr(cfg, "unlock_url", "") else "Shop"}
    # The installable app (docs/mobile.md): the player registers the service worker and offers offline saves.
    opts["pwa"] = {"sw": f"{_base()}/sw.js", "offlineKey": f"{_base()}/api/offline/key"}
    vis = args.get("vis")
    if vis in {"spectrum", "oscilloscope", "off"}:
        opts["visualizer"] = vis
    opts.update(extra)
    return opts


@functools.lru_cache(maxsize=4)
def _boot_script(mtime_ns: int) -> tuple[str, str] | None:
    """(text, CSP source) of dist/boot.js to inline in the page (one request less before the fast start)."""
    try:
        text = (DIST_DIR / "boot.js").read_text()
    except OSError:
        return None
    text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)
    if "</script" in text.lower() or "<!--" in text:
        return None
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return text, f"'sha256-{digest}'"


def boot_script() -> tuple[str, str] | None:
    try:
        mtime = (DIST_DIR / "boot.js").stat().st_mtime_ns
    except OSError:
        return None
    return _boot_script(mtime)


def asset_url(name: str) -> str:
    """The URL of a bundle file, versioned by its content hash (``?v=``) when built: served immutable."""
    sha = (bundle_manifest().get(name) or {}).get("sha256")
    return f"{_base()}/player/{name}" + (f"?v={sha[:16]}" if sha else "")


def _page(title: str, canonical: str, options: dict, *, cover_url: str | None, reserve: int,
          preload_urls: list[str], fallback_url: str, cache: str | None = None) -> Response:
    base = _base()
    boot = boot_script()
    html = render_template(
        "scripthammer_embed/player.html", title=title, canonical_url=canonical,
        oembed_url=f"{base}/oembed?" + urlencode({"url": canonical, "format": "json"}),
        cover_url=cover_url, script_url=asset_url("player.js"), boot_url=asset_url("boot.js"),
        boot_js=boot[0] if boot else None, css_url=asset_url("player.css"),
        preload_urls=preload_urls, reserve_px=reserve, config_json=_script_json(options), fallback_url=fallback_url,
        # with autoplay and a fast start, boot.js fetches the bundle once the first segment is in
        # (a preload here would share a slow link with that segment)
        preload_bundle=not (options.get("autoplay") and options.get("fastStart")),
        manifest_url=f"{base}/manifest.webmanifest", icon_url=asset_url("icon-192.png"))
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'{' ' + boot[1] if boot else ''}; style-src 'self' 'unsafe-inline'; img-src * data: blob:; "
        "media-src * blob:; connect-src *; worker-src 'self' blob:; manifest-src 'self'; form-action *; frame-ancestors *; base-uri 'none'")
    resp.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    # The page is the same for every anonymous visitor (a listener's token stays in the fragment and
    # the player asks for the listener's view itself); one built for a signed-in caller is theirs only.
    resp.headers["Cache-Control"] = cache or ("private, no-store" if current_identity().authenticated
                                              else "public, max-age=60")
    oembed = f"{base}/oembed?" + urlencode({"url": canonical, "format": "json"})
    resp.headers["Link"] = f'<{oembed}>; rel="alternate"; type="application/json+oembed"'
    return resp


#: The rung the player starts on: the highest whose average bit rate is at most this (ABR takes over after).
START_BITRATE = 140_000


@functools.lru_cache(maxsize=256)
def _hls_start(hls_key: str) -> tuple[int, str, str, str, float, str] | None:
    """(level index, variant playlist key, init segment key or "", first segment key, duration, codecs)
    of the rung the player starts on (duration: the sum of the variant's EXTINF, 0 when unknown).

    Keys are content-addressed, so the answer for one key never changes (hence the cache).
    """
    from companion.media.hls import parse_master_playlist, read_media_playlist

    store = services().store
    try:
        variants = parse_master_playlist(store.get_bytes(hls_key).decode())
    except (KeyError, OSError, UnicodeDecodeError):
        return None
    if not variants:
        return None

    def rate(v):
        a = v["attributes"]
        return int(a.get("AVERAGE-BANDWIDTH") or a.get("BANDWIDTH") or 0)

    order = sorted(range(len(variants)), key=lambda i: rate(variants[i]))
    chosen = order[0]
    for i in order:
        if rate(variants[i]) <= START_BITRATE:
            chosen = i
    level = order.index(chosen)  # hls.js orders levels by bit rate
    codecs = variants[chosen]["attributes"].get("CODECS") or "mp4a.40.2"
    variant_key = posixpath.normpath(posixpath.join(posixpath.dirname(hls_key), variants[chosen]["uri"]))
    try:
        text = store.get_bytes(variant_key).decode()
    except (KeyError, OSError, UnicodeDecodeError):
        return level, variant_key, "", "", 0.0, codecs

    def key_of(uri: str) -> str:
        return posixpath.normpath(posixpath.join(posixpath.dirname(variant_key), uri)) if uri else ""

    media = read_media_playlist(text)
    init, first = media.init or "", (media.uris[0] if media.segments else "")
    duration = media.duration
    return level, variant_key, key_of(init), key_of(first), round(duration, 3), codecs


def _start_hints(hls_key: str | None, opts: dict, track_id: int | None = None) -> list[str]:
    """URLs to preload so the first fragment is on its way while the bundle loads.

    Sets opts['startLevel'] and, for an fMP4 ladder, opts['fastStart']: what boot.js needs to play
    the start rung's init and first segment through MSE before the bundle is running.
    """
    if not hls_key:
        return []
    hint = _hls_start(hls_key)
    if hint is None:
        return []
    level, variant_key, init_key, seg_key, duration, codecs = hint
    opts["startLevel"] = level
    urls = [f"{_base()}/media/{k}" for k in (hls_key, variant_key, init_key, seg_key) if k]
    if init_key and seg_key and track_id is not None:
        opts["fastStart"] = {"track": track_id, "level": level, "init": urls[2], "segment": urls[3],
                             "codecs": codecs, "duration": duration}
    return urls


def _plain(url: str | None) -> bool:
    """A public (unsigned) URL: the fast start preloads only those (the page is cached for everyone)."""
    return bool(url) and "sig=" not in url


def _fallback(track: dict) -> str:
    for r in track.get("renditions", []):
        if r.get("url") and r.get("format") == "mp3":
            return r["url"]
    return track.get("preview_url") or ""


@blp.route("/embed/track/<int:track_id>", methods=["GET"])
@blp.doc(responses=_HTML_PAGE)
def embed_track(track_id: int):
    """A page with the player for one track, for iframes (and oEmbed)."""
    track, hls_key = track_view(services(), track_id, Viewer.for_request())
    base = _base()
    opts = _player_options({"track": track})
    preload = _start_hints(hls_key if _plain(track.get("hls_url")) else None, opts, track["id"])
    start = request.args.get("t", type=float)
    if start:
        opts["startAt"] = start
    return _page(f"{track['title']} by {track['artist']}", f"{base}/embed/track/{track_id}", opts,
                 cover_url=track.get("cover_url"), reserve=TRACK_HEIGHT, preload_urls=preload,
                 fallback_url=_fallback(track))


@blp.route("/embed/album/<int:album_id>", methods=["GET"])
@blp.doc(responses=_HTML_PAGE)
def embed_album(album_id: int):
    """A page with the player in album mode: the track list, next/previous, continuous play."""
    viewer = Viewer.for_request()
    with services().db.session() as s:
        a = catalog.get_album(s, album_id)
        if not viewer.sees_album(a):
            raise NotFound(f"no album {album_id}", code="album_not_found")
        tracks = visible_tracks(a.tracks, viewer)
        album = album_out(a, tracks, viewer)
        first_key = tracks[0].hls_key if tracks and _plain(album["tracks"][0].get("hls_url")) else None
    base = _base()
    opts = _player_options({"album": album})
    first_id = album["tracks"][0]["id"] if album["tracks"] else None
    preload = [] if request.args.get("track") else _start_hints(first_key, opts, first_id)
    start_track = request.args.get("track", type=int)
    if start_track:
        opts["startTrack"] = start_track
    first = album["tracks"][0] if album["tracks"] else {}
    return _page(f"{album['title']} by {album['artist']}", f"{base}/embed/album/{album_id}", opts,
                 cover_url=album.get("cover_url"), reserve=album_height(len(album["tracks"])),
                 preload_urls=preload, fallback_url=_fallback(first) if first else "")


#: Height (px) of the live player: status, parameters and the ballot.
LIVE_HEIGHT = 360


@blp.route("/embed/live/<int:session_id>", methods=["GET"])
@blp.doc(responses=_HTML_PAGE)
def embed_live(session_id: int):
    """A page with the player in live mode for a live session: its status, bar and parameters, the
    audience's votes, the broadcast over WebRTC (signed-in listeners) or HLS (anyone; ``?transport=hls``)."""
    from companion.band.auth import current_identity
    from companion.live import premium
    from companion.live import service as live

    st = live.get_state(services(), session_id)  # 404 live_session_not_found
    st = premium.view(services(), current_identity(), session_id, st)  # a premium one: who may listen
    extra = {"live": {"id": session_id, "state": st}}
    if request.args.get("transport") in {"hls", "webrtc"}:
        extra["transport"] = request.args["transport"]
    opts = _player_options(extra)
    base = _base()
    # The state changes every bar and the player polls it: the page is never cached.
    return _page(f"Live session {session_id}", f"{base}/embed/live/{session_id}", opts, cover_url=None,
                 reserve=LIVE_HEIGHT, preload_urls=[],
                 fallback_url=f"{base}{st['hls'] or f'/api/live/sessions/{session_id}'}", cache="no-store")


@blp.route("/embed/broadcast/<int:broadcast_id>", methods=["GET"])
@blp.doc(responses=_HTML_PAGE)
def embed_broadcast(broadcast_id: int):
    """A scheduled broadcast's page: its title, start time and a countdown; once its session is live the
    page becomes the live player of that session (as /embed/live/<session>)."""
    from companion.live import broadcasts

    b = broadcasts.get(services(), broadcast_id)  # 404 broadcast_not_found; the public fields only
    extra = {"broadcast": {"id": broadcast_id, "state": b}}
    if request.args.get("transport") in {"hls", "webrtc"}:
        extra["transport"] = request.args["transport"]
    opts = _player_options(extra)
    base = _base()
    return _page(b["title"], f"{base}/embed/broadcast/{broadcast_id}", opts, cover_url=None,
                 reserve=LIVE_HEIGHT, preload_urls=[], fallback_url=f"{base}/api/live/broadcasts/{broadcast_id}",
                 cache="no-store")


def album_height(n_tracks: int) -> int:
    return TRACK_HEIGHT + (ALBUM_EXTRA + ALBUM_ROW * n_tracks if n_tracks > 1 else 0)


_URL_PATTERNS = [
    (re.compile(r"^/(?:embed/)?tracks?/(\d+)/?$"), "track"),
    (re.compile(r"^/api/tracks/(\d+)/?$"), "track"),
    (re.compile(r"^/(?:embed/)?albums?/(\d+)/?$"), "album"),
    (re.compile(r"^/api/albums/(\d+)/?$"), "album"),
]


def _resolve(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    ours = {urlsplit(_base()).netloc, urlsplit(services().config.public_url).netloc}
    if parts.scheme not in {"http", "https"} or parts.netloc not in ours:
        raise NotFound("That URL is not a ScriptHammer track or album of this companion.", code="oembed_unknown_url",
                       details={"url": url})
    for pattern, kind in _URL_PATTERNS:
        m = pattern.match(parts.path)
        if m:
            return kind, int(m.group(1))
    raise NotFound("That URL is not a ScriptHammer track or album of this companion.", code="oembed_unknown_url",
                   details={"url": url})


def _iframe(src: str, title: str, width: int | None, height: int) -> str:
    from markupsafe import escape

    w = str(width) if width else "100%"
    return (f'<iframe src="{escape(src)}" width="{w}" height="{height}" frameborder="0" '
            f'title="{escape(title)}" allow="autoplay; fullscreen" loading="lazy"></iframe>')


@blp.route("/oembed", methods=["GET"])
@blp.arguments(OEmbedArgs, location="query")
@blp.response(200, OEmbedSchema)
@blp.alt_response(501, response="DEFAULT_ERROR", description="a format other than json (oEmbed's own rule)")
def oembed(args):
    """oEmbed (JSON) for a track or album URL: a rich embed whose HTML is an iframe of the embed page."""
    if args["format"] != "json":
        raise NotImplementedHere("Only the json oEmbed format is offered.", code="format_not_implemented")
    kind, ident = _resolve(args["url"])
    base = _base()
    anyone = Viewer.anonymous(services(), request.host_url)  # oEmbed is for public pages: as anyone sees them
    with services().db.session() as s:
        if kind == "track":
            t = catalog.get_track(s, ident, private=False)
            title, author, n = t.title, t.artist, 1
            cover = track_out(t, anyone)["cover_url"]
        else:
            a = catalog.get_album(s, ident, private=False)
            n = len(visible_tracks(a.tracks, anyone))
            title, author = a.title, a.artist
            cover = album_out(a, [], anyone)["cover_url"]
    height = TRACK_HEIGHT if kind == "track" else album_height(n)
    if args["maxheight"]:
        height = min(height, args["maxheight"])
    width = min(args["maxwidth"], 1200) if args["maxwidth"] else None
    src = f"{base}/embed/{kind}/{ident}"
    out = {"version": "1.0", "type": "rich", "provider_name": "ScriptHammer", "provider_url": base,
           "title": title, "author_name": author, "html": _iframe(src, f"{title} – ScriptHammer player", width, height),
           "width": width or 640, "height": height, "cache_age": 3600}
    if cover:
        out["thumbnail_url"] = cover
    return out


@blp.route("/player/<path:name>", methods=["GET", "HEAD"])
def player_asset(name: str):
    """The player bundle built from player/ (player.js, player.css, embed-api.js), gzip when accepted."""
    if not DIST_FILES.match(name):
        raise NotFound("no such player file", code="player_file_not_found")
    path = DIST_DIR / name
    if not DIST_DIR.is_dir():
        raise ServiceUnavailable("The player is not built: run `npm ci && npm run build` in player/.",
                                 code="player_not_built")
    if not path.is_file():
        raise NotFound("no such player file", code="player_file_not_found")
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".js"):
        mime = "text/javascript"
    gz = path.with_name(path.name + ".gz")
    use_gz = gz.is_file() and "gzip" in request.headers.get("Accept-Encoding", "")
    resp = send_file(gz if use_gz else path, mimetype=mime, conditional=True, etag=True, max_age=300)
    version = request.args.get("v", "")
    sha = (bundle_manifest().get(name) or {}).get("sha256", "")
    if len(version) >= 8 and sha.startswith(version):
        # The URL names this content (embed pages link to ?v=<sha256 prefix>): cache it for good.
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    if use_gz:
        resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def bundle_manifest() -> dict:
    """What the last build produced (file -> bytes, sha256), or {} when not built."""
    try:
        mtime = (DIST_DIR / "manifest.json").stat().st_mtime_ns
    except OSError:
        return {}
    return _manifest(mtime)


@functools.lru_cache(maxsize=4)
def _manifest(mtime_ns: int) -> dict:
    try:
        return json.loads((DIST_DIR / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


# ---- the installable app (PWA): manifest, service worker, start page, offline key -----------------

APP_NAME = "ScriptHammer"


@blp.route("/manifest.webmanifest", methods=["GET"])
@blp.doc(responses={"200": {"description": "The web app manifest",
                            "content": {"application/manifest+json": {"schema": {"type": "object"}}}}})
def web_manifest():
    """The web app manifest of the player app (installable: name, icons, start_url, standalone)."""
    icons = [{"src": asset_url(f"icon-{n}.png"), "sizes": f"{n}x{n}", "type": "image/png", "purpose": "any"}
             for n in (192, 512)]
    icons.append({"src": asset_url("icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
                  "purpose": "maskable"})
    body = {"name": f"{APP_NAME} player", "short_name": APP_NAME, "id": "/app",
            "description": "Listen to the band: stream, save for offline, get news of releases and broadcasts.",
            "start_url": "/app", "scope": "/", "display": "standalone", "orientation": "any",
            "background_color": "#111418", "theme_color": "#111418", "categories": ["music"], "icons": icons}
    resp = Response(json.dumps(body, indent=1), mimetype="application/manifest+json")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@blp.route("/sw.js", methods=["GET"])
@blp.doc(responses={"200": {"description": "The service worker script",
                            "content": {"text/javascript": {"schema": {"type": "string"}}}}})
@blp.alt_response(503, response="DEFAULT_ERROR", description="player_not_built: npm run build in player/ first")
def service_worker():
    """The service worker (player/dist/sw.js, built with Workbox), at the root so its scope is the site."""
    path = DIST_DIR / "sw.js"
    if not path.is_file():
        raise ServiceUnavailable("The player is not built: run `npm ci && npm run build` in player/.",
                                 code="player_not_built")
    resp = send_file(path, mimetype="text/javascript", conditional=True, etag=True, max_age=0)
    resp.headers["Cache-Control"] = "no-cache"  # browsers check for a new worker on every visit
    resp.headers["Service-Worker-Allowed"] = "/"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@blp.route("/app", methods=["GET"])
@blp.doc(responses=_HTML_PAGE)
@blp.alt_response(404, response="DEFAULT_ERROR", description="album_not_found: no album released yet, or not that one")
def app_page():
    """The installed app's start page: the album player of ``?album=<id>`` (default: the newest album anyone
    may hear), with offline saves; cached by the service worker for offline starts."""
    import sqlalchemy as sa

    from companion.catalog.models import Album

    anyone = Viewer.anonymous(services(), request.host_url)
    album_id = request.args.get("album", type=int)
    with services().db.session() as s:
        if album_id is None:
            for a in s.scalars(sa.select(Album).order_by(Album.id.desc())):
                if anyone.sees_album(a) and visible_tracks(a.tracks, anyone):
                    album_id = a.id
                    break
        if album_id is None:
            raise NotFound("No album is released yet.", code="album_not_found")
        a = catalog.get_album(s, album_id)
        if not anyone.sees_album(a):
            raise NotFound(f"no album {album_id}", code="album_not_found")
        album = album_out(a, visible_tracks(a.tracks, anyone), anyone)
    base = _base()
    opts = _player_options({"album": album})
    opts["pwa"]["app"] = True  # the app's bar: sign in (device grant), notifications
    # The same page for everyone (a fan's token stays in the fragment): kept by the service worker.
    return _page(f"{album['title']} by {album['artist']}", f"{base}/app", opts, cover_url=album.get("cover_url"),
                 reserve=album_height(len(album["tracks"])), preload_urls=[], fallback_url=_fallback(album["tracks"][0])
                 if album["tracks"] else "", cache="public, max-age=60")


class OfflineKeySchema(Schema):
    key = fields.String(metadata={"description": "the caller's offline store name; anon for anyone not signed in"})


@blp.route("/api/offline/key", methods=["GET"])
@blp.response(200, OfflineKeySchema)
def offline_key():
    """The caller's offline key: the name of their own offline store in this browser (an HMAC of who they
    are with a machine key, so one fan cannot name another's). Anyone not signed in: ``anon``."""
    import hmac

    from companion.access.identity import principal_of
    from companion.keys import machine_key

    principal = principal_of(current_identity()) if current_identity().authenticated else None
    if principal is None:
        key = "anon"
    else:
        secret = machine_key(services().config.var_dir, "offline")
        key = base64.urlsafe_b64encode(hmac.new(secret, principal.encode(), hashlib.sha256).digest()[:18]).decode()
    return {"key": key}, 200, {"Cache-Control": "private, no-store"}
