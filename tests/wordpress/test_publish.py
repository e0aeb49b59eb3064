"""Publishing from the companion to the real WordPress: idempotent create-or-update by companion id,
cover art in the media library, meta and status, unpublish to draft, failures shown with reasons,
and the companion's signed calls to the plugin."""
from __future__ import annotations

import dataclasses

import pytest
import requests

from tests.conftest import make_audio

from .conftest import ADMIN_PASS, ADMIN_USER


@pytest.fixture(scope="session")
def released_track(companion, companion_worker, tmp_path_factory):
    """A track with an uploaded recording put through the release pipeline by the real worker."""
    from companion.catalog import service as catalog
    from companion.catalog.uploads import accept_upload
    import hashlib

    svc = companion.svc
    with svc.db.session() as s:
        album = catalog.create_album(s, title="Blue Dot Matrix", year=2026, release_state="public")
        track = catalog.create_track(s, title="Fractal Funk", album_id=album.id, track_number=1,
                                     description="Crash and Chops trade fours.", release_state="public")
        track_id, album_id = track.id, album.id
    audio = make_audio(tmp_path_factory.mktemp("audio") / "fractal.wav", 4.0)
    job_id, _ = accept_upload(svc, track_id, audio, audio.name, hashlib.sha256(audio.read_bytes()).hexdigest())
    done = companion.wait_job(job_id, timeout=180)
    assert done["state"] == "finished", done
    return {"track_id": track_id, "album_id": album_id}


def _api(companion, method, path, who="ivory", **kw):
    return requests.request(method, companion.url + path, timeout=60,
                            headers={"Authorization": f"Bearer {companion.tokens[who]}"}, **kw)


def _publish(companion, kind, item_id, action="publish"):
    r = _api(companion, "POST", f"/api/{kind}s/{item_id}/{action}")
    assert r.status_code == 202, r.text
    done = companion.wait_job(r.json()["job_id"])
    assert done["state"] == "finished", done
    pub = _api(companion, "GET", f"/api/{kind}s/{item_id}/publication").json()
    return pub


def _xmlrpc(wordpress):
    from wordpress_xmlrpc import Client

    return Client(f"{wordpress.url}/xmlrpc.php", ADMIN_USER, ADMIN_PASS)


def _posts_with_companion_id(wordpress, post_type, item_id) -> list[int]:
    return wordpress.php(f"""return get_posts( array( 'post_type' => '{post_type}', 'post_status' => 'any',
  'fields' => 'ids', 'posts_per_page' => -1, 'meta_key' => 'scripthammer_companion_id', 'meta_value' => {item_id} ) );""")


def test_publish_is_idempotent(wordpress, companion, released_track):
    from wordpress_xmlrpc.methods.posts import GetPost

    tid, aid = released_track["track_id"], released_track["album_id"]
    album_pub = _publish(companion, "album", aid)
    assert album_pub["state"] == "published" and album_pub["wp_status"] == "publish"
    first = _publish(companion, "track", tid)
    assert first["state"] == "published" and first["error"] is None
    post_id = first["wp_post_id"]
    media_before = wordpress.php("return count( get_posts( array( 'post_type' => 'attachment', 'post_status' => 'any', 'posts_per_page' => -1, 'fields' => 'ids' ) ) );")

    # Read it back through XML-RPC: status, cover, meta.
    post = _xmlrpc(wordpress).call(GetPost(post_id))
    assert post.post_status == "publish" and post.title == "Fractal Funk"
    assert post.thumbnail and post.thumbnail.get("attachment_id")
    fields = {f["key"]: f["value"] for f in post.custom_fields}
    assert fields["scripthammer_companion_id"] == str(tid)
    assert fields["scripthammer_album"] == str(album_pub["wp_post_id"])
    # ... and through REST: the renditions with sizes and codecs (a URL for the preview only), the peaks
    # and the player's embed URL on the companion; no stream or download URL (the player asks for those).
    rest = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}"), timeout=30).json()
    meta = rest["meta"]
    assert meta["scripthammer_release_state"] == "public" and meta["scripthammer_status"] == "ready"
    assert "scripthammer_hls_url" not in meta
    assert meta["scripthammer_peaks_url"].startswith(companion.url + "/media/")
    assert meta["scripthammer_embed_url"] == f"{companion.url}/embed/track/{tid}"
    names = {r["name"] for r in meta["scripthammer_renditions"]}
    assert {"mp3-320", "flac"} <= names, names
    assert all(r["size"] > 0 for r in meta["scripthammer_renditions"])
    assert {r["kind"] for r in meta["scripthammer_renditions"] if r["url"]} == {"preview"}
    assert 3.5 < meta["scripthammer_duration"] < 4.5

    # Again: same post, no duplicate, the cover reused.
    again = _publish(companion, "track", tid)
    assert again["wp_post_id"] == post_id and again["attempts"] == 2
    assert _posts_with_companion_id(wordpress, "sh_track", tid) == [post_id]
    assert wordpress.php("return count( get_posts( array( 'post_type' => 'attachment', 'post_status' => 'any', 'posts_per_page' => -1, 'fields' => 'ids' ) ) );") == media_before

    # The companion forgot which post it was: it finds it again by companion id instead of duplicating.
    from companion.wordpress.models import Publication
    import sqlalchemy as sa

    with companion.svc.db.session() as s:
        s.execute(sa.update(Publication).where(Publication.kind == "track", Publication.item_id == tid)
                  .values(wp_post_id=None))
    third = _publish(companion, "track", tid)
    assert third["wp_post_id"] == post_id
    assert _posts_with_companion_id(wordpress, "sh_track", tid) == [post_id]

    # Unpublish: back to draft (the public no longer sees it), publish again: public.
    gone = _publish(companion, "track", tid, "unpublish")
    assert gone["state"] == "draft" and gone["wp_status"] == "draft"
    assert requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{post_id}"), timeout=30).status_code == 401
    back = _publish(companion, "track", tid)
    assert back["wp_status"] == "publish" and back["wp_post_id"] == post_id


def test_publishing_releases_a_draft_so_the_page_can_play_it(wordpress, companion, monkeypatch):
    """A draft or unreleased item's embed is "not found" to the public: publishing releases it (public),
    premium stays premium, WordPress down releases nothing, unpublishing leaves the release alone."""
    from tests.conftest import free_port
    from companion.catalog import service as catalog

    with companion.svc.db.session() as s:
        album = catalog.create_album(s, title="Unreleased Orbit", release_state="unreleased")
        draft = catalog.create_track(s, title="Draft Pulse", album_id=album.id, track_number=1, release_state="draft")
        premium = catalog.create_track(s, title="Premium Drift", album_id=album.id, track_number=2,
                                       release_state="premium")
        aid, tid, pid = album.id, draft.id, premium.id

    def embed(kind, item_id):
        return requests.get(f"{companion.url}/embed/{kind}/{item_id}", timeout=30)  # as a fan: no token

    def state(kind, item_id):
        return _api(companion, "GET", f"/api/{kind}s/{item_id}").json()["release_state"]

    assert embed("track", tid).status_code == 404 and embed("album", aid).status_code == 404

    # WordPress down: nothing is published, so nothing is released.
    down = dataclasses.replace(companion.config, wp_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception):
        _run_inline(companion, down, tid, monkeypatch, final=True)
    assert state("track", tid) == "draft" and embed("track", tid).status_code == 404

    album_pub = _publish(companion, "album", aid)
    assert album_pub["state"] == "published" and state("album", aid) == "public"
    pub = _publish(companion, "track", tid)
    assert pub["state"] == "published" and pub["wp_status"] == "publish"
    assert state("track", tid) == "public"
    job = _api(companion, "GET", f"/api/jobs/{pub['job_id']}").json()
    assert job["result"]["released_from"] == "draft" and job["result"]["release_state"] == "public", job
    meta = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{pub['wp_post_id']}"), timeout=30).json()["meta"]
    assert meta["scripthammer_release_state"] == "public"
    page = embed("track", tid)
    assert page.status_code == 200 and "Draft Pulse" in page.text
    assert embed("album", aid).status_code == 200
    # The WordPress page embeds exactly that player.
    html = requests.get(pub["wp_link"], timeout=60).text
    assert f'src="{companion.url}/embed/track/{tid}"' in html
    # Liner notes written in WordPress survive re-publishing a track the companion has no description for.
    wordpress.php(f"wp_update_post( array( 'ID' => {pub['wp_post_id']}, 'post_content' => 'Notes from the editor.' ) ); return true;")
    _publish(companion, "track", tid)
    assert "Notes from the editor." in wordpress.php(f"return get_post( {pub['wp_post_id']} )->post_content;")

    # Premium stays premium (its page plays the preview); re-publishing releases nothing more.
    ppub = _publish(companion, "track", pid)
    assert ppub["state"] == "published" and state("track", pid) == "premium"
    pmeta = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{ppub['wp_post_id']}"), timeout=30).json()["meta"]
    assert pmeta["scripthammer_release_state"] == "premium"
    assert embed("track", pid).status_code == 200
    again = _api(companion, "GET", f"/api/jobs/{_publish(companion, 'track', tid)['job_id']}").json()
    assert again["result"]["released_from"] is None and again["result"]["release_state"] == "public"

    # Unpublishing takes the WordPress page down and leaves the release as it is.
    gone = _publish(companion, "track", tid, "unpublish")
    assert gone["state"] == "draft" and gone["wp_status"] == "draft"
    assert state("track", tid) == "public" and embed("track", tid).status_code == 200


def test_publish_needs_the_right(companion, released_track):
    r = _api(companion, "POST", f"/api/tracks/{released_track['track_id']}/publish", who="listener")
    assert r.status_code == 403
    r = requests.post(companion.url + f"/api/tracks/{released_track['track_id']}/publish", timeout=30)
    assert r.status_code == 401
    assert _api(companion, "POST", "/api/tracks/999999/publish").status_code == 404


def _run_inline(companion, config, tid, monkeypatch=None, final=True):
    """Create a publish job row and run the job function in this process with ``config``."""
    from companion.tasks.service import create_job
    from companion.wordpress.service import get_publication
    from jobs import context
    import jobs.publish

    with companion.svc.db.session() as s:
        job = create_job(s, kind="publish", track_id=tid, params={"kind": "track", "item_id": tid, "action": "publish"})
        get_publication(s, "track", tid, create=True)
        job_id = job.id
    if monkeypatch is not None:
        import jobs.base

        monkeypatch.setattr(jobs.publish, "last_attempt", lambda: final)
        monkeypatch.setattr(jobs.base, "last_attempt", lambda: final)
    context.configure(config)
    try:
        jobs.publish.publish_item(job_id)
    finally:
        context.configure(companion.config)


def test_wordpress_down_is_retried_then_shown(companion, wordpress, released_track, monkeypatch):
    from tests.conftest import free_port

    tid = released_track["track_id"]
    down = dataclasses.replace(companion.config, wp_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception):
        _run_inline(companion, down, tid, monkeypatch, final=False)
    pub = _api(companion, "GET", f"/api/tracks/{tid}/publication").json()
    assert pub["state"] == "retrying"
    assert pub["error"]["code"] == "wordpress_unavailable" and "cannot be reached" in pub["error"]["message"]
    with pytest.raises(Exception):
        _run_inline(companion, down, tid, monkeypatch, final=True)
    pub = _api(companion, "GET", f"/api/tracks/{tid}/publication").json()
    assert pub["state"] == "failed" and pub["error"]["code"] == "wordpress_unavailable"


def test_wrong_credentials_are_shown(companion, wordpress, released_track, monkeypatch):
    tid = released_track["track_id"]
    wrong = dataclasses.replace(companion.config, wp_app_password="abcd efgh ijkl mnop qrst uvwx")
    with pytest.raises(Exception):
        _run_inline(companion, wrong, tid, monkeypatch, final=True)
    pub = _api(companion, "GET", f"/api/tracks/{tid}/publication").json()
    assert pub["state"] == "failed" and pub["error"]["code"] == "wordpress_auth_failed"
    assert "Application Password" in pub["error"]["message"]
    # With the right password it recovers, on the same post.
    assert _publish(companion, "track", tid)["state"] == "published"


def test_companion_signed_calls_reach_the_plugin(companion, wordpress, released_track):
    ping = _api(companion, "POST", "/api/wordpress/ping")
    assert ping.status_code == 200 and ping.json()["status"] == 200 and ping.json()["body"]["ok"] is True
    from companion.wordpress import callbacks

    tid = released_track["track_id"]
    synced = callbacks.sync_track(companion.svc, tid)
    assert synced["status"] == 200, synced
    post_id = synced["body"]["post_id"]
    assert wordpress.php(f"return get_post_meta( {post_id}, 'scripthammer_status', true );") == "ready"
    # A companion with another secret is refused.
    other = dataclasses.replace(companion.config, wp_shared_secret="someone-else")

    class _Svc:
        config = other

    refused = callbacks.ping(_Svc())
    assert refused["status"] == 401 and refused["body"]["code"] == "signature_invalid"


def test_queue_down_queues_nothing_and_says_why(companion, released_track, monkeypatch):
    """The job row is committed before it is enqueued (a fast worker must find it); Redis down: both say failed."""
    from companion.errors import ServiceUnavailable
    from companion.tasks.models import Job
    from companion.wordpress import service

    import redis

    from tests.conftest import free_port

    # Redis goes away (a real client on a port nothing listens on, not a fake).
    monkeypatch.setattr(companion.svc, "redis", redis.Redis(host="127.0.0.1", port=free_port(),
                                                            socket_connect_timeout=1))
    tid = released_track["track_id"]
    with pytest.raises(ServiceUnavailable):
        service.request_publication(companion.svc, "track", tid, "publish")
    pub = _api(companion, "GET", f"/api/tracks/{tid}/publication").json()
    assert pub["state"] == "failed" and pub["error"]["code"] == "queue_unavailable", pub
    with companion.svc.db.session() as s:
        assert s.get(Job, pub["job_id"]).state == "failed"
    monkeypatch.undo()
    assert _publish(companion, "track", tid)["state"] == "published"


def test_the_post_carries_the_tracks_credits_and_codes(wordpress, companion):
    """A track that sounds a composition version: its post's meta names the writers with their shares,
    the performers, the ISRC and the ISWC (companion/rights/credits.py)."""
    from companion.algorithms.base import Params
    from companion.algorithms.generate import generate
    from companion.catalog import service as catalog
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store
    from companion.rights import credits

    svc = companion.svc
    store = Store(svc.config.compositions_dir)
    res = generate(store, svc.band, member_actor(svc.band, "ivory"), comp_id="wp-credits", title="Credits Piece",
                   seed=3, params=Params(), measures=4)
    with svc.db.session() as s:
        track = catalog.create_track(s, title="Credits Piece", release_state="public")
        track.composition_id, track.composition_commit = "wp-credits", res["head"]
        track.isrc = "USS1Z2600077"
        credits.set_composition_iswc(s, "wp-credits", "T-034.524.680-1", by="ivory")
        s.flush()
        tid = track.id
    pub = _publish(companion, "track", tid)
    meta = requests.get(wordpress.rest_url(f"/wp/v2/sh-tracks/{pub['wp_post_id']}"), timeout=30).json()["meta"]
    assert meta["scripthammer_isrc"] == "US-S1Z-26-00077" and meta["scripthammer_iswc"] == "T-034.524.680-1"
    line = meta["scripthammer_credits"]
    assert line.startswith("Written by ") and "Chops" in line and "%" in line and "Performed by" in line, line
