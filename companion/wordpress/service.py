"""Publishing tracks and albums to WordPress: create or update the post keyed by the companion id,
cover art to the media library, meta and status; unpublishing returns the post to draft.

Publishing is releasing: a public WordPress page embeds the companion's player, which shows only
released items (release_state public or premium), so publishing a ``draft`` or ``unreleased`` track
or album sets its release_state to ``public`` (once WordPress has accepted the post); ``public`` and
``premium`` stay as they are. Unpublishing only returns the post to draft on WordPress: the
companion's release_state is left alone (changing it back is a catalog edit, PATCH release_state).
Publishing an album releases the album, not its tracks: each track is published on its own.

Publishing a track or an album also makes its WooCommerce product (the plugin's signed route
``POST scripthammer/v1/products``: name-your-price above a minimum), once; the companion records which
product sells which item (companion/commerce/products.py). Without WooCommerce there is none.

WordPress only ever holds public things: renditions' names, codecs and sizes (a URL for the preview
only), the peaks, the cover and the player's embed URL. Full-length downloads and HLS are never in
post meta: the player asks the companion for them, signed per listener.

Every function is idempotent: publishing twice updates the same post and product and reuses the cover.
"""
from __future__ import annotations

import hashlib
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.catalog import service as catalog
from companion.catalog.models import Album, Track
from companion.db import utcnow
from companion.errors import InvalidInput
from companion.tasks.models import Job
from companion.tasks.service import create_job, submit
from companion.wordpress.client import WordPressClient
from companion.wordpress.models import KINDS, Publication

META = "scripthammer_"
ACTIONS = ("publish", "unpublish")
#: release states a public page cannot show (the player would say "not found"): publishing releases them.
UNRELEASED_STATES = ("draft", "unreleased")


def release_state_on_publish(state: str) -> str:
    """The release_state an item has once published: draft/unreleased become public, others stay."""
    return "public" if state in UNRELEASED_STATES else state


def media_url(config, key: str | None) -> str:
    """The public URL of a stored object (jobs have no request to take the host from)."""
    return f"{config.public_url.rstrip('/')}/media/{key}" if key else ""


def get_publication(session: Session, kind: str, item_id: int, *, create: bool = False) -> Publication | None:
    pub = session.scalars(sa.select(Publication).where(Publication.kind == kind,
                                                       Publication.item_id == item_id)).first()
    if pub is None and create:
        pub = Publication(kind=kind, item_id=item_id, state="queued", action="publish", attempts=0)
        session.add(pub)
        session.flush()
    return pub


def publication_out(pub: Publication | None, kind: str, item_id: int) -> dict:
    if pub is None:
        return {"kind": kind, "item_id": item_id, "state": "never", "wp_post_id": None, "wp_status": None,
                "wp_link": None, "action": None, "error": None, "attempts": 0, "job_id": None,
                "published_at": None, "updated_at": None}
    return {"kind": pub.kind, "item_id": pub.item_id, "state": pub.state, "wp_post_id": pub.wp_post_id,
            "wp_status": pub.wp_status, "wp_link": pub.wp_link, "action": pub.action,
            "error": {"code": pub.error_code, "message": pub.error_message} if pub.error_code else None,
            "attempts": pub.attempts, "job_id": pub.job_id, "published_at": pub.published_at,
            "updated_at": pub.updated_at}


def _load(session: Session, kind: str, item_id: int):
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}", code="bad_kind")
    return catalog.get_track(session, item_id) if kind == "track" else catalog.get_album(session, item_id)


def request_publication(svc, kind: str, item_id: int, action: str, *, created_by: str | None = None) -> tuple[str, dict]:
    """Queue a publish or unpublish job; the publication row shows 'queued' at once."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}", code="bad_action")
    with svc.db.session() as s:
        _load(s, kind, item_id)  # 404 before anything is queued
        pub = get_publication(s, kind, item_id, create=True)
        job = create_job(s, kind="publish", track_id=item_id if kind == "track" else None,
                         params={"kind": kind, "item_id": item_id, "action": action}, created_by=created_by)
        pub.state, pub.action, pub.job_id = "queued", action, job.id
        pub.error_code = pub.error_message = None
        s.flush()
        out = publication_out(pub, kind, item_id)
    # Enqueue once the job's row is committed: a worker that takes the job at once must find it (enqueued
    # inside the transaction, a fast worker read no row and the job was lost while the row said queued).
    def undo(session) -> None:
        pub = get_publication(session, kind, item_id, create=True)
        pub.state, pub.error_code = "failed", "queue_unavailable"
        pub.error_message = "The job queue (Redis) is unreachable; nothing was queued. Try again shortly."

    submit(svc, job, "jobs.publish.publish_item", undo=undo)
    return job.id, out


#: release states whose preview and peaks are public.
RELEASED_STATES = ("public", "premium")


def embed_url(config, kind: str, item_id: int) -> str:
    """The companion's player for a track or album (public; the page's iframe)."""
    return f"{config.public_url.rstrip('/')}/embed/{kind}/{int(item_id)}"


def _renditions(config, track: Track, release_state: str | None = None) -> list[dict]:
    """What WordPress may show of the renditions: names, codecs, sizes; a URL only for the public preview
    of a released track (never a download, master or stream)."""
    released = (release_state or track.release_state) in RELEASED_STATES
    out = []
    for r in track.renditions:
        if r.kind == "master":
            continue
        out.append({"name": r.name, "kind": r.kind, "format": r.format, "codec": r.codec, "mime": r.mime,
                    "bitrate": r.bitrate, "size": int(r.size), "duration": r.duration,
                    "url": media_url(config, r.key) if (released and r.kind == "preview") else None})
    return out


def _peaks_url(config, track: Track, release_state: str | None = None) -> str:
    """The peaks of a released track (public); none for drafts and unreleased tracks."""
    if (release_state or track.release_state) not in RELEASED_STATES:
        return ""
    peaks = sorted(track.peaks or [], key=lambda p: -int(p.get("samples_per_pixel", 0)))
    return media_url(config, peaks[0]["key"]) if peaks else ""


def _content(description: str | None) -> dict:
    """The post's text from the companion's description; none: the post keeps the text written in WordPress."""
    return {"content": description} if description else {}


def track_fields(config, track: Track, album_post_id: int | None, credits: dict | None = None) -> dict:
    """The REST fields of a track's post (title, content, order and the plugin's registered meta), as the
    track will be once published. ``credits`` (:func:`track_credits`): the credit line, ISRC and ISWC."""
    state = release_state_on_publish(track.release_state)
    c = credits or {}
    return _content(track.description) | {
        "title": track.title, "menu_order": track.track_number or 0,
        "meta": {
            f"{META}companion_id": track.id, f"{META}duration": float(track.duration or 0),
            f"{META}renditions": _renditions(config, track, state),
            f"{META}peaks_url": _peaks_url(config, track, state),
            f"{META}embed_url": embed_url(config, "track", track.id), f"{META}release_state": state,
            f"{META}loudness_lufs": float(track.loudness_lufs or 0), f"{META}status": track.status,
            f"{META}album": int(album_post_id or 0), f"{META}track_number": int(track.track_number or 0),
            f"{META}credits": c.get("line") or "", f"{META}isrc": c.get("isrc") or "",
            f"{META}iswc": c.get("iswc") or "",
        },
    }


def track_credits(svc, session, track: Track) -> dict:
    """The credit line (composers with shares, performers), ISRC (dashed) and ISWC of a track's post."""
    from companion.compositions.store import Store
    from companion.rights import credits

    store = Store(svc.config.compositions_dir)
    t = credits.tag_credits(session, store, svc.band, track)
    return {"line": credits.credit_line(t), "isrc": credits.isrc_display(t["isrc"]),
            "iswc": t["iswc"]}


def album_fields(config, album: Album) -> dict:
    return _content(album.description) | {"title": album.title,
            "meta": {f"{META}companion_id": album.id, f"{META}release_state": release_state_on_publish(album.release_state),
                     f"{META}embed_url": embed_url(config, "album", album.id),
                     f"{META}duration": float(sum((t.duration or 0) for t in album.tracks))}}


def _min_price(svc, kind: str, item_id: int) -> str:
    """The minimum a new product starts at, from the band's price models (docs/pricing.md): a track's
    minimum; an album as the bundle of its tracks."""
    from companion.commerce import pricing

    with svc.db.session() as s:
        models = pricing.current(s, svc.config)
        if kind == "live":  # a ticket to a premium broadcast
            return models["models"]["live"]["minimum"]
        if kind == "album":
            album = s.get(Album, int(item_id))
            return pricing.album_price(models, len(album.tracks) if album is not None else 0)
        return models["models"]["track"]["minimum"]


def ensure_product(svc, client: WordPressClient, kind: str, item_id: int, title: str, post_id: int) -> dict | None:
    """Ask the plugin for the item's WooCommerce product (made once) and record it; None when the site
    has no WooCommerce. A failure here does not undo the publication: it is reported in the result."""
    from companion.commerce.products import record_product
    from companion.wordpress.client import WordPressError

    try:
        r = client.signed(svc.config.wp_shared_secret, "POST", "/products",
                          {"kind": kind, "id": int(item_id), "title": title, "post_id": int(post_id),
                           "min_price": _min_price(svc, kind, item_id)})
    except WordPressError as exc:
        return {"error": exc.code, "message": exc.message}
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code == 409 and body.get("code") == "scripthammer_woocommerce_inactive":
        return None
    if r.status_code not in (200, 201) or not isinstance(body, dict) or not body.get("product_id"):
        return {"error": f"http_{r.status_code}", "message": str(body.get("message") or r.text[:200])}
    with svc.db.session() as s:
        record_product(s, wc_product_id=int(body["product_id"]), scope=f"{kind}:{int(item_id)}", title=title,
                       permalink=str(body.get("permalink") or ""), min_price=str(body.get("min_price") or ""))
    return {"product_id": int(body["product_id"]), "permalink": body.get("permalink"),
            "created": bool(body.get("created")), "min_price": body.get("min_price")}


def _link_buy_url(item, product: dict | None) -> None:
    """The item's "buy" link (the catalog's buy_url, which a locked track's player offers) is its
    product's page, unless the band chose another one."""
    link = (product or {}).get("permalink")
    if link and not item.buy_url:
        item.buy_url = link


def _cover(svc, item) -> tuple[bytes, str, str]:
    """Cover bytes, MIME type and file name: the item's own, its album's, or a generated one."""
    from companion.catalog.covers import cover_of

    data, mime = cover_of(svc.store, item)
    return data, mime, f"{item.slug}-cover.{'jpg' if mime == 'image/jpeg' else 'png'}"


def _ensure_cover(svc, client: WordPressClient, kind: str, item_id: int, item) -> int:
    data, mime, name = _cover(svc, item)
    sha = hashlib.sha256(data).hexdigest()
    with svc.db.session() as s:
        pub = get_publication(s, kind, item_id, create=True)
        known_id = pub.cover_media_id if pub.cover_sha256 == sha else None
    if known_id and client.media_exists(known_id):
        return known_id
    media = client.upload_media(name, mime, data)
    with svc.db.session() as s:
        pub = get_publication(s, kind, item_id, create=True)
        pub.cover_media_id, pub.cover_sha256 = media["id"], sha
    return media["id"]


def _existing_post(svc, client: WordPressClient, kind: str, item_id: int) -> int | None:
    with svc.db.session() as s:
        pub = get_publication(s, kind, item_id, create=True)
        known = pub.wp_post_id
    if known and client.get_post(kind, known) is not None:
        return known
    found = client.find_post(kind, item_id)
    return int(found["id"]) if found else None


def _started(svc, kind: str, item_id: int, action: str) -> None:
    with svc.db.session() as s:
        pub = get_publication(s, kind, item_id, create=True)
        pub.state, pub.action = "publishing", action
        pub.attempts = (pub.attempts or 0) + 1
        pub.error_code = pub.error_message = None


def publish(svc, kind: str, item_id: int, *, client: WordPressClient | None = None,
            progress: Callable[[int, str], None] | None = None) -> dict:
    """Create or update the item's post, with cover and meta, published. Returns the publication."""
    progress = progress or (lambda pct, stage: None)
    client = client or WordPressClient.from_config(svc.config)
    _started(svc, kind, item_id, "publish")
    with svc.db.session() as s:
        item = _load(s, kind, item_id)
        if kind == "track":
            album_pub = get_publication(s, "album", item.album_id) if item.album_id else None
            fields = track_fields(svc.config, item, album_pub.wp_post_id if album_pub else None,
                                  track_credits(svc, s, item))
        else:
            fields = album_fields(svc.config, item)
        # The post carries the state the item will have once published; the item itself is released
        # below, once WordPress has accepted the post (WordPress down: it stays as the band left it).
        progress(10, "cover")
        cover_id = _ensure_cover(svc, client, kind, item_id, item)
    fields["featured_media"] = cover_id
    fields["status"] = "publish"
    progress(50, "post")
    post_id = _existing_post(svc, client, kind, item_id)
    post = client.save_post(kind, post_id, fields)
    product = ensure_product(svc, client, kind, item_id, fields["title"], int(post["id"]))
    with svc.db.session() as s:
        item = _load(s, kind, item_id)
        released_from = None
        if item.release_state in UNRELEASED_STATES:
            released_from, item.release_state = item.release_state, release_state_on_publish(item.release_state)
        _link_buy_url(item, product)
        pub = get_publication(s, kind, item_id, create=True)
        pub.wp_post_id, pub.wp_status, pub.wp_link = int(post["id"]), post.get("status"), post.get("link")
        pub.state, pub.published_at = "published", utcnow()
        pub.error_code = pub.error_message = None
        done = publication_out(pub, kind, item_id) | {"created": post_id is None, "release_state": item.release_state,
                                                      "released_from": released_from, "product": product}
        news = {"kind": kind, "id": item_id, "title": item.title, "artist": item.artist}
    if (post_id is None or released_from is not None) and done["release_state"] in ("public", "premium"):  # new release: fans who opted in hear of it (Web Push)
        from companion.notify.service import enqueue_announcement

        enqueue_announcement(svc, "release", news)
        if kind == "track":  # a live session's recording: its performance post now plays it
            from companion.live.followups import recording_published

            recording_published(svc, item_id)
    return done


def unpublish(svc, kind: str, item_id: int, *, client: WordPressClient | None = None) -> dict:
    """Return the item's post to draft on WordPress (nothing to do when it was never published).

    The companion's release_state is not changed: the release stays, only the WordPress page goes."""
    client = client or WordPressClient.from_config(svc.config)
    _started(svc, kind, item_id, "unpublish")
    with svc.db.session() as s:
        _load(s, kind, item_id)
    post_id = _existing_post(svc, client, kind, item_id)
    post = client.save_post(kind, post_id, {"status": "draft"}) if post_id else None
    with svc.db.session() as s:
        pub = get_publication(s, kind, item_id, create=True)
        if post is not None:
            pub.wp_post_id, pub.wp_status, pub.wp_link = int(post["id"]), post.get("status"), post.get("link")
        pub.state = "draft"
        return publication_out(pub, kind, item_id)


def record_failure(svc, kind: str, item_id: int, exc: Exception, *, final: bool) -> None:
    """A failed attempt, with its reason, on the publication (retrying, or failed on the last try)."""
    code = getattr(exc, "code", "failed")
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    with svc.db.session() as s:
        pub = get_publication(s, kind, item_id, create=True)
        pub.state = "failed" if final else "retrying"
        pub.error_code, pub.error_message = code[:60], message[:2000]


def on_job_failure(session: Session, job: Job, code: str, message: str) -> None:
    """jobs.base.running's hook: the job gave up; the publication says so, with the reason."""
    params = job.params or {}
    if "kind" not in params:
        return
    pub = get_publication(session, params["kind"], int(params["item_id"]), create=True)
    pub.state = "failed"
    if not pub.error_code or code not in ("failed", "transient_error"):
        pub.error_code, pub.error_message = code[:60], (message or "")[:2000]


def publication(svc, kind: str, item_id: int) -> dict:
    with svc.db.session() as s:
        _load(s, kind, item_id)
        return publication_out(get_publication(s, kind, item_id), kind, item_id)

