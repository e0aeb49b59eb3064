"""Serving stored objects at /media/<key>: public ones to anyone, everything else only signed.

- A **public** object (companion/access/policy.py: the preview, cover and peaks of a released
  item; the HLS ladder and downloads of a public track) is served to anyone.
- Anything else (masters, premium downloads and HLS, drafts, unreleased material, originals,
  manifests, keys the catalog does not know) needs a **signature** bound to the key, the caller
  and an expiry (``?exp=..&lid=..&sig=..``, companion/access/signing.py), or the band's own
  token. Otherwise the answer is 404, as for a key that does not exist: nothing confirms that a
  private object is there.
- A signed **playlist** is answered for its listener: every URI in it signed the same way, with
  the same expiry (companion/access/playlists.py). A premium track's A/B rung playlist
  (``hls-ab/...``) is built for its listener: segment ``i`` from their variant
  (companion/media/abstreams.py); the other variant's segments are never named to them, and
  their signature does not open them.
- Bytes come from the local store with HTTP Range support (416 with ``Content-Range: bytes */size``
  past the end), or by a redirect to an S3 presigned URL made for this request, expiring with the
  signature (at most ``s3_presign_seconds``).
"""
from __future__ import annotations

import mimetypes
import time

from flask import Response, jsonify, redirect, request, send_file
from flask_smorest import Blueprint

from companion.access.delivery import PUBLIC_KEYS, may_fetch_unsigned
from companion.access.playlists import listener_playlist
from companion.media import abstreams
from companion.access.signing import SignedQuery, signer_for
from companion.band.auth import current_identity
from companion.errors import NotFound, ScriptHammerError
from companion.services import current as services
from companion.storage.base import check_key

blp = Blueprint("media", __name__, url_prefix="/media",
                description="Renditions, HLS playlists and segments, peaks and covers, by content-addressed key: "
                            "public objects to anyone, the rest with a signed URL.")

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/iso.segment", ".m4s")
mimetypes.add_type("audio/mp4", ".m4a")
mimetypes.add_type("audio/flac", ".flac")
mimetypes.add_type("audio/ogg", ".ogg")
mimetypes.add_type("audio/ogg", ".opus")
mimetypes.add_type("audio/aiff", ".aiff")
mimetypes.add_type("audio/wav", ".wav")
mimetypes.add_type("audio/aac", ".aac")
mimetypes.add_type("application/zip", ".shf")

#: Public objects: browsers and CDNs keep them an hour (a track moved from public to premium or
#: back to draft stops being served by caches within that hour).
PUBLIC_CACHE = "public, max-age=3600"
SIGNED_PARAMS = ("exp", "lid", "sig")


class RangeNotSatisfiable(ScriptHammerError):
    status = 416
    code = "range_not_satisfiable"


def _not_found(code: str = "media_not_found", message: str = "no such media") -> NotFound:
    return NotFound(message, code=code)


def _signature(key: str) -> SignedQuery | None:
    """The request's valid signature for ``key``; None when unsigned; 404 when bad or expired."""
    args = request.args
    if not any(p in args for p in SIGNED_PARAMS):
        return None
    exp, lid, sig = (args.get(p) for p in SIGNED_PARAMS)
    verdict = signer_for(services().config).check(key, exp, lid, sig)
    if verdict == "expired":
        raise _not_found("media_link_expired", "This link has expired: reload the page for a new one.")
    if verdict != "ok":
        raise _not_found()
    return SignedQuery(int(exp), lid, sig)


@blp.route("/<path:key>", methods=["GET", "HEAD"])
@blp.response(200)
def get_object(key: str):
    """An object by key: public ones to anyone, others with a signed URL (404 otherwise), with Range support."""
    try:
        check_key(key)
    except ValueError:
        raise _not_found() from None
    svc = services()
    signed = _signature(key)
    if signed is None and not PUBLIC_KEYS.known(key):
        ident = current_identity()
        with svc.db.engine.connect() as conn:  # one read: a bare connection, no session
            if not may_fetch_unsigned(conn, key, ident, remember_seconds=svc.config.public_key_cache_seconds):
                raise _not_found()
    if signed is not None and key.endswith(".m3u8"):
        return _listener_playlist(svc, key, signed)
    return _serve(svc, key, signed)


def _cache_control(signed: SignedQuery | None) -> str:
    if signed is None:
        return PUBLIC_CACHE
    return f"private, max-age={max(0, int(signed.exp - time.time()))}"


def _listener_playlist(svc, key: str, signed: SignedQuery):
    try:
        if abstreams.is_variant_playlist(key):
            # a premium track's A/B rung: segment i from this listener's variant, each URI signed for them
            text = abstreams.listener_media_playlist(svc.store, key, signer_for(svc.config),
                                                     abstreams.stream_key(svc.config), signed.lid, signed.exp)
        else:
            text = listener_playlist(svc.store, key, signer_for(svc.config), signed.lid, signed.exp)
    except KeyError:
        raise _not_found() from None
    resp = Response(text, mimetype="application/vnd.apple.mpegurl",
                    headers={"Cache-Control": _cache_control(signed)})
    return _cors(resp)


def _serve(svc, key: str, signed: SignedQuery | None):
    store = svc.store
    mime = mimetypes.guess_type(key)[0] or "application/octet-stream"
    path = store.local_path(key)
    if path is not None:
        return _cors(_send_local(path, mime, _cache_control(signed)))
    if key.endswith((".m3u8", ".json")):
        # Public playlists (relative segment URIs must resolve against this companion) and peaks: proxied.
        try:
            data = store.get_bytes(key)
        except KeyError:
            raise _not_found() from None
        return _cors(Response(data, mimetype=mime, headers={"Cache-Control": _cache_control(signed)}))
    url = store.presigned_url(key, expires_in=None if signed is None else max(1, int(signed.exp - time.time())))
    if url is None or store.stat(key) is None:
        raise _not_found()
    resp = redirect(url, code=302)
    resp.headers["Cache-Control"] = "private, no-store"  # the presigned URL is for this request
    return _cors(resp)


def _send_local(path, mime: str, cache_control: str) -> Response:
    """The file, with Range support; a range past the end is 416 naming the size."""
    size = path.stat().st_size
    rng = request.range if request.headers.get("Range") else None
    if rng is not None and rng.units == "bytes" and rng.range_for_length(size) is None:
        err = RangeNotSatisfiable(f"The range is outside the object ({size} bytes).",
                                  details={"size": size, "range": request.headers.get("Range")})
        resp = jsonify(err.to_dict())
        resp.status_code = 416
        resp.headers["Content-Range"] = f"bytes */{size}"
        return resp
    resp = send_file(path, mimetype=mime, conditional=True, etag=True, max_age=None)
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Cache-Control"] = cache_control
    return resp


def _cors(resp):
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Expose-Headers"] = "Content-Length, Content-Range, Accept-Ranges"
    return resp
