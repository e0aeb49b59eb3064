"""Signed calls from the companion to the plugin's scripthammer/v1 namespace (HMAC with the shared
secret, as companion/band/signing.py describes): ping, a track's new state (public things only), the
band roster. (Products are asked for while publishing: companion.wordpress.service.ensure_product.)"""
from __future__ import annotations

from companion.catalog import service as catalog
from companion.errors import ServiceUnavailable
from companion.wordpress.client import WordPressError
from companion.wordpress.service import _peaks_url, _renditions, embed_url


def _site(svc):
    from companion.wordpress.client import WordPressClient

    cfg = svc.config
    if not cfg.wp_url or not cfg.wp_shared_secret:
        raise ServiceUnavailable("Set SCRIPTHAMMER_WP_URL and SCRIPTHAMMER_WP_SHARED_SECRET to call WordPress.",
                                 code="wordpress_not_configured")
    # Signed calls need no Application Password; the client wants one, so pass a placeholder.
    return WordPressClient(cfg.wp_url, cfg.wp_user or "-", cfg.wp_app_password or "-")


def _call(svc, method: str, route: str, payload: dict | None = None) -> dict:
    try:
        r = _site(svc).signed(svc.config.wp_shared_secret, method, route, payload)
    except WordPressError as exc:
        raise ServiceUnavailable(exc.message, code=exc.code) from None
    try:
        body = r.json()
    except ValueError:
        body = {"message": r.text[:300]}
    return {"status": r.status_code, "body": body}


def ping(svc) -> dict:
    """GET scripthammer/v1/ping: does WordPress accept this companion's signature?"""
    return _call(svc, "GET", "/ping")


def sync_track(svc, track_id: int) -> dict:
    """POST scripthammer/v1/tracks/<id>/sync with the track's renditions, HLS, peaks and loudness."""
    cfg = svc.config
    with svc.db.session() as s:
        t = catalog.get_track(s, track_id)
        # Only public things: no download, master or HLS URL (the player asks the companion for those).
        peaks = _peaks_url(cfg, t)
        payload = {"id": t.id, "status": t.status, "release_state": t.release_state, "duration": t.duration,
                   "renditions": _renditions(cfg, t), "embed_url": embed_url(cfg, "track", t.id),
                   "peaks": [{"samples_per_pixel": 1, "url": peaks}] if peaks else [],
                   "loudness": {"integrated_lufs": t.loudness_lufs}}
    return _call(svc, "POST", f"/tracks/{track_id}/sync", payload)


def sync_band(svc) -> dict:
    """POST scripthammer/v1/band with the band file's members and roles."""
    band = svc.band
    members = [{"id": m.id, "name": m.name, "role": m.role} for m in band.members.values()]
    return _call(svc, "POST", "/band", {"members": members})
