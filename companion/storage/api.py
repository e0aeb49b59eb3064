"""Serving stored objects: byte ranges from the local store, presigned redirects from S3."""
from __future__ import annotations

import mimetypes

from flask import Response, current_app, redirect, request, send_file
from flask_smorest import Blueprint

from companion.app import services
from companion.errors import NotFound
from companion.storage.base import check_key

blp = Blueprint("media", __name__, url_prefix="/media",
                description="Renditions, HLS playlists and segments, peaks and covers, by content-addressed key.")

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


def media_url(key: str) -> str:
    """The URL a client fetches ``key`` from (relative to the companion's public URL)."""
    base = request.host_url.rstrip("/") if request else current_app.config["SCRIPTHAMMER"].public_url
    return f"{base}/media/{key}"


@blp.route("/<path:key>", methods=["GET", "HEAD"])
@blp.response(200)
def get_object(key: str):
    """An object by key, with HTTP Range support (or a redirect to a presigned S3 URL)."""
    try:
        check_key(key)
    except ValueError:
        raise NotFound("no such media", code="media_not_found") from None
    store = services().store
    mime = mimetypes.guess_type(key)[0] or "application/octet-stream"
    path = store.local_path(key)
    if path is not None:
        resp = send_file(path, mimetype=mime, conditional=True, etag=True, max_age=31536000)
        resp.headers["Accept-Ranges"] = "bytes"
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        _cors(resp)
        return resp
    if key.endswith((".m3u8", ".json")):
        # Playlists (relative segment URIs must resolve against this companion) and peaks: proxied.
        try:
            data = store.get_bytes(key)
        except KeyError:
            raise NotFound("no such media", code="media_not_found") from None
        resp = Response(data, mimetype=mime, headers={"Cache-Control": "public, max-age=300"})
        return _cors(resp)
    url = store.presigned_url(key)
    if url is None or store.stat(key) is None:
        raise NotFound("no such media", code="media_not_found")
    return _cors(redirect(url, code=302))


def _cors(resp):
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Expose-Headers"] = "Content-Length, Content-Range, Accept-Ranges"
    return resp
