"""Every route tried for premium, unreleased and draft bytes without the right: each one refused.

Runs on the local store and on S3 (a real S3 API server): the same attacks, the same answers.
A refusal is a 404 that looks exactly like a key that does not exist.
"""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

PREMIUM, PUBLIC, UNRELEASED, DRAFT = "Locked Groove", "Open Air", "Backroom", "Sketch"
FAN, OTHER_FAN = 501, 502


def media_path(url: str) -> str:
    """The /media/... path and query of a URL the companion gave (the test client has no host)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def fetch(cat, url_or_key: str, **kw):
    """GET a /media URL (or a bare key); on S3 follow the companion's redirect to the presigned URL."""
    path = media_path(url_or_key) if "/media/" in url_or_key else f"/media/{url_or_key}"
    r = cat.client.get(path, **kw)
    if r.status_code == 302:
        got = requests.get(r.headers["Location"], timeout=10, headers=kw.get("headers") or {})
        return got.status_code, got.content
    return r.status_code, r.data


def nothing_there(cat):
    """What a key that does not exist looks like (every refusal must look the same)."""
    r = cat.client.get("/media/renditions/00/" + "0" * 64 + "/nothing.mp3")
    assert r.status_code == 404
    return r.get_json()


def leaks(text: str, cat, name: str) -> list[str]:
    """Every private key (or hash or HLS folder naming one) of track ``name`` found in ``text``."""
    t = cat.row(name)
    found = [label for label, key in cat.private_keys(name).items() if key and key in text]
    found += [f"sha256:{r.name}" for r in t.renditions if r.kind != "preview" and r.sha256 in text]
    found += ["hls folder"] if t.hls_key.rsplit("/", 1)[0] in text else []
    found += ["ab folder"] if t.ab_hls_key and t.ab_hls_key.rsplit("/", 1)[0] in text else []
    return found


# --- the API, the embed config, oEmbed: no private key can be read or rebuilt --------------------

def test_track_and_album_json_carry_nothing_of_the_hidden_renditions(catalog):
    cat = catalog
    for headers in ({}, cat.listener(OTHER_FAN), cat.auth("listener")):
        t = cat.client.get(f"/api/tracks/{cat.tracks[PREMIUM]}", headers=headers).get_json()
        assert t["hls_url"] is None and t["access"]["stream"] == "preview" and t["access"]["why"] == "locked"
        assert [r["kind"] for r in t["renditions"]] == ["preview"]  # no name, hash or size of anything else
        assert t["preview_url"] and "sig=" not in t["preview_url"]
        for path in (f"/api/tracks/{cat.tracks[PREMIUM]}", "/api/tracks", f"/api/albums/{cat.album_id}",
                     "/api/albums", f"/api/tracks?album_id={cat.album_id}"):
            text = cat.client.get(path, headers=headers).get_data(as_text=True)
            for name in (PREMIUM, UNRELEASED, DRAFT):
                assert leaks(text, cat, name) == [], (path, name)
            assert "Backroom" not in text and "Sketch" not in text


def test_unreleased_and_draft_tracks_do_not_exist_for_fans(catalog):
    cat = catalog
    for name in (UNRELEASED, DRAFT):
        for headers in ({}, cat.listener(FAN), cat.auth("listener")):
            r = cat.client.get(f"/api/tracks/{cat.tracks[name]}", headers=headers)
            assert r.status_code == 404 and r.get_json()["code"] == "track_not_found"
            assert cat.client.get(f"/embed/track/{cat.tracks[name]}", headers=headers).status_code == 404
    # Even a fan entitled to everything (a subscription) does not see unreleased work.
    ref = cat.entitle(FAN, "all", source="subscription")
    try:
        assert cat.client.get(f"/api/tracks/{cat.tracks[DRAFT]}", headers=cat.listener(FAN)).status_code == 404
    finally:
        cat.revoke(ref, source="subscription")


def test_embed_pages_and_oembed_carry_no_private_key(catalog):
    cat = catalog
    pages = [f"/embed/track/{cat.tracks[PREMIUM]}", f"/embed/album/{cat.album_id}",
             f"/embed/album/{cat.album_id}?track={cat.tracks[PREMIUM]}"]
    for page in pages:
        r = cat.client.get(page)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "public, max-age=60"
        html = r.get_data(as_text=True)
        for name in (PREMIUM, UNRELEASED, DRAFT):
            assert leaks(html, cat, name) == [], (page, name)
        assert "sig=" not in html  # a page cached for everyone carries no one's signature
    for kind, ident in (("track", cat.tracks[PREMIUM]), ("album", cat.album_id)):
        o = cat.client.get("/oembed", query_string={"url": f"http://localhost/embed/{kind}/{ident}"})
        assert o.status_code == 200
        text = o.get_data(as_text=True)
        assert leaks(text, cat, PREMIUM) == [] and "sig=" not in text
    o = cat.client.get("/oembed", query_string={"url": f"http://localhost/embed/track/{cat.tracks[DRAFT]}"})
    assert o.status_code == 404


# --- /media: unsigned, rebuilt, expired, tampered, someone else's ----------------------------

@pytest.mark.parametrize("name", [PREMIUM, UNRELEASED, DRAFT])
def test_private_objects_answer_404_unsigned_like_a_missing_key(catalog, name):
    cat = catalog
    missing = nothing_there(cat)
    keys = cat.private_keys(name)
    assert {"hls:master.m3u8", "hls:a048k.m3u8", "hls:a048k_init.mp4", "hls:a048k_00000.m4s",
            "rendition:flac", "rendition:master-wav", "rendition:shf" if name != UNRELEASED else "source"} <= set(keys)
    if name == PREMIUM:  # its A/B variants: both of a segment, the playlists, the init, the description
        assert {"ab:master", "ab:a048k.m3u8", "ab:a048k_init.mp4", "ab:48000:a0", "ab:48000:b0", "ab:description"} <= set(keys)
    for label, key in keys.items():
        for headers in ({}, cat.listener(FAN), cat.auth("listener")):
            r = cat.client.get(f"/media/{key}", headers=headers)
            assert r.status_code == 404, (label, r.status_code)
            assert r.get_json() == missing, label
            assert cat.client.head(f"/media/{key}").status_code == 404


def test_drafts_media_peaks_and_preview_do_not_answer_by_url(catalog):
    cat = catalog
    band = cat.client.get(f"/api/tracks/{cat.tracks[DRAFT]}", headers=cat.auth("crash")).get_json()
    for url in [band["preview_url"], band["cover_url"], *[p["url"] for p in band["peaks"]]]:
        if not url:
            continue
        assert "sig=" in url  # the band gets signed URLs for drafts...
        assert fetch(cat, url)[0] == 200
        assert cat.client.get(urlsplit(url).path).status_code == 404  # ...and the same URL unsigned is refused


def test_keys_rebuilt_from_hashes_the_old_way_are_refused(catalog):
    """The old track JSON exposed each rendition's sha256 and name: the key was rebuilt from them."""
    from companion.storage.base import content_key

    cat = catalog
    t = cat.row(PREMIUM)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", t.title).strip("-").lower()
    rebuilt = 0
    for r in t.renditions:
        if r.kind not in ("download", "master") or r.name == "shf":
            continue
        key = content_key("renditions", r.sha256, f"{slug}-{r.name}.{r.extension}")
        if key != r.key:  # a download that is a master's very file has the master's name
            continue
        rebuilt += 1
        assert cat.client.get(f"/media/{key}").status_code == 404
    assert rebuilt >= 7


def entitled_track(cat, wp_user_id=FAN):
    return cat.client.get(f"/api/tracks/{cat.tracks[PREMIUM]}", headers=cat.listener(wp_user_id)).get_json()


@pytest.fixture
def fan_with_purchase(catalog):
    ref = catalog.entitle(FAN, f"track:{catalog.tracks[PREMIUM]}")
    yield ref
    catalog.revoke(ref)


def test_an_entitled_listener_gets_signed_stream_and_downloads_bound_to_them(catalog, fan_with_purchase):
    cat = catalog
    t = entitled_track(cat)
    assert t["access"] == {"stream": "full", "download": True, "why": "entitled", "buy_url": None,
                           "expires_at": t["access"]["expires_at"]}
    assert t["hls_url"] and "sig=" in t["hls_url"]
    lid = parse_qs(urlsplit(t["hls_url"]).query)["lid"][0]
    assert lid.startswith("l.") and all(lid in r["url"] for r in t["renditions"] if r["kind"] == "download")
    names = {r["name"] for r in t["renditions"]}
    assert {"mp3-320", "flac", "wav", "shf", "preview"} <= names and not names & {"master-wav", "master-flac"}
    store = cat.svc.store
    for r in t["renditions"]:
        if r["kind"] == "download":
            q = parse_qs(urlsplit(r["url"]).query)
            # Download links live about an hour, like Bandcamp's.
            assert 3500 < int(q["exp"][0]) - time.time() <= cat.config.download_url_seconds + 60
            if r["name"] in ("mp3-320", "shf"):
                status, data = fetch(cat, r["url"])
                key = urlsplit(r["url"]).path.split("/media/", 1)[1]
                assert status == 200 and data == store.get_bytes(key), r["name"]


def test_the_per_listener_playlists_sign_every_variant_init_and_segment(catalog, fan_with_purchase):
    cat = catalog
    t = entitled_track(cat)
    lid = parse_qs(urlsplit(t["hls_url"]).query)["lid"][0]
    exp = parse_qs(urlsplit(t["hls_url"]).query)["exp"][0]
    master = cat.client.get(media_path(t["hls_url"]))
    assert master.status_code == 200 and master.mimetype == "application/vnd.apple.mpegurl"
    assert master.headers["Cache-Control"].startswith("private, max-age=")
    text = master.get_data(as_text=True)
    variants = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(variants) == 3 and text.count("#EXT-X-STREAM-INF") == 3
    base = urlsplit(t["hls_url"]).path.rsplit("/", 1)[0]
    for v in variants:
        q = parse_qs(urlsplit(v).query)
        assert q["lid"] == [lid] and q["exp"] == [exp]  # the same listener and expiry all the way down
        # The variant's unsigned URL is refused; signed, it answers the listener's own playlist.
        assert cat.client.get(f"{base}/{urlsplit(v).path}").status_code == 404
        vtext = cat.client.get(f"{base}/{v}").get_data(as_text=True)
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', vtext).group(1)
        segs = [ln for ln in vtext.splitlines() if ln and not ln.startswith("#")]
        assert segs and all("sig=" in s and f"lid={lid}" in s for s in segs + [init])
        for uri in (init, segs[0], segs[-1]):
            status, data = fetch(cat, f"{base}/{uri}")
            key = f"{base}/{urlsplit(uri).path}".split("/media/", 1)[1]
            assert status == 200 and data == cat.svc.store.get_bytes(key)
        # A segment's signature does not open another segment of the same ladder.
        other = segs[1].split("?")[0] + "?" + segs[0].split("?")[1]
        assert segs[1].split("?")[0] != segs[0].split("?")[0]
        assert cat.client.get(f"{base}/{other}").status_code == 404


def tamper(url: str, **changes) -> str:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q.update(changes)
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in q.items())


def test_expired_tampered_and_other_listeners_urls_are_refused(catalog, fan_with_purchase):
    from companion.access.signing import signer_for

    cat = catalog
    t = entitled_track(cat)
    flac = next(r["url"] for r in t["renditions"] if r["name"] == "flac")
    assert fetch(cat, flac)[0] == 200
    q = {k: v[0] for k, v in parse_qs(urlsplit(flac).query).items()}
    missing = nothing_there(cat)
    other_lid = "l.999999"
    for bad in (tamper(flac, lid=other_lid),  # another listener's name on my signature
                tamper(flac, exp=str(int(q["exp"]) + 86400)),  # a longer life
                tamper(flac, sig=("0" if q["sig"][0] != "0" else "1") + q["sig"][1:]),
                tamper(flac, sig=q["sig"].upper()), urlsplit(flac).path + "?exp=" + q["exp"],
                tamper(t["hls_url"], sig=q["sig"])):  # one object's signature on another
        r = cat.client.get(bad)
        assert r.status_code == 404 and r.get_json() == missing, bad
    # Another listener's genuine URL, presented by me, names them: it is not mine to change.
    other = cat.entitle(OTHER_FAN, f"track:{cat.tracks[PREMIUM]}")
    try:
        theirs = next(r["url"] for r in entitled_track(cat, OTHER_FAN)["renditions"] if r["name"] == "flac")
        assert parse_qs(urlsplit(theirs).query)["lid"] != [q["lid"]]
        assert cat.client.get(tamper(theirs, lid=q["lid"])).status_code == 404
    finally:
        cat.revoke(other)
    # Expired: a genuine signature from the past.
    key = urlsplit(flac).path.split("/media/", 1)[1]
    old = signer_for(cat.config).sign(key, q["lid"], 60, now=time.time() - 7200)
    r = cat.client.get(f"/media/{key}?{old.query()}")
    assert r.status_code == 404 and r.get_json()["code"] == "media_link_expired"


def test_a_revoked_entitlement_gets_no_new_url_and_issued_ones_end_at_their_expiry(catalog):
    cat = catalog
    ref = cat.entitle(FAN, f"album:{cat.album_id}")
    before = entitled_track(cat)
    assert before["hls_url"] and before["access"]["why"] == "entitled"
    cat.revoke(ref)
    after = entitled_track(cat)
    assert after["hls_url"] is None and after["access"]["why"] == "locked"
    assert [r["kind"] for r in after["renditions"]] == ["preview"]
    album = cat.client.get(f"/api/albums/{cat.album_id}", headers=cat.listener(FAN)).get_json()
    assert all(t["hls_url"] is None for t in album["tracks"] if t["release_state"] == "premium")
    # A URL issued before the refund still answers until its stated expiry (docs/security.md).
    flac = next(r["url"] for r in before["renditions"] if r["name"] == "flac")
    assert fetch(cat, flac)[0] == 200


def test_the_band_and_guests_in_scope_see_unreleased_work_others_do_not(catalog):
    import datetime as dt

    from companion.band.tokens import create_token

    cat = catalog
    # The leader invites a mixer to one unreleased track through the API (as `scripthammer tokens` does).
    made = cat.client.post("/api/tokens", json={"role": "guest", "label": "mixer", "expires_in_minutes": 60,
                                                "scopes": {"tracks": [cat.tracks[UNRELEASED]]}},
                           headers=cat.auth("ivory"))
    assert made.status_code == 201, made.get_json()
    in_scope = made.get_json()["token"]
    for bad in ({"tracks": ["1 OR 1=1"]}, {"tracks": [True]}, {"albums": [0]}, {"tracks": 5}, {"everything": [1]}):
        r = cat.client.post("/api/tokens", json={"role": "guest", "expires_in_minutes": 60, "scopes": bad},
                            headers=cat.auth("ivory"))
        assert r.status_code == 400 and r.get_json()["code"] == "bad_scopes", (bad, r.get_json())
    # A member who is not the leader cannot invite anyone.
    assert cat.client.post("/api/tokens", json={"role": "guest", "expires_in_minutes": 60,
                                                "scopes": {"tracks": [cat.tracks[UNRELEASED]]}},
                           headers=cat.auth("reed")).status_code == 403
    with cat.svc.db.session() as s:
        _, no_scope = create_token(s, role="guest", label="nobody", expires_in=dt.timedelta(hours=1), scopes={})
    guest = {"Authorization": f"Bearer {in_scope}"}
    t = cat.client.get(f"/api/tracks/{cat.tracks[UNRELEASED]}", headers=guest).get_json()
    assert t["access"]["why"] == "guest" and t["hls_url"] and "lid=g." in t["hls_url"]
    assert fetch(cat, t["hls_url"])[0] == 200
    assert cat.client.get(f"/api/tracks/{cat.tracks[DRAFT]}", headers=guest).status_code == 404
    assert cat.client.get(f"/api/tracks/{cat.tracks[UNRELEASED]}",
                          headers={"Authorization": f"Bearer {no_scope}"}).status_code == 404
    titles = [x["title"] for x in cat.client.get("/api/tracks", headers=guest).get_json()]
    assert UNRELEASED in titles and DRAFT not in titles
    band = cat.client.get(f"/api/tracks/{cat.tracks[DRAFT]}", headers=cat.auth("reed")).get_json()
    assert band["access"]["why"] == "band" and {"master-wav", "master-flac"} <= {r["name"] for r in band["renditions"]}
    # The band's own token opens a private object by header too (scripts, the studio).
    key = cat.private_keys(DRAFT)["manifest"]
    assert cat.client.get(f"/media/{key}", headers=cat.auth("reed")).status_code in (200, 302)
    assert cat.client.get(f"/media/{key}", headers=guest).status_code == 404


def test_public_objects_stay_public(catalog):
    cat = catalog
    for name in (PUBLIC, PREMIUM):
        t = cat.client.get(f"/api/tracks/{cat.tracks[name]}").get_json()
        urls = [t["preview_url"], *[p["url"] for p in t["peaks"]]]
        if name == PUBLIC:
            urls += [t["hls_url"], *[r["url"] for r in t["renditions"]]]
        for url in urls:
            assert "sig=" not in url
            status, _ = fetch(cat, url)
            assert status == 200, url
    pub = cat.client.get(f"/api/tracks/{cat.tracks[PUBLIC]}").get_json()
    master = cat.client.get(media_path(pub["hls_url"]))
    assert master.headers["Cache-Control"] == "public, max-age=3600" and b"sig=" not in master.data
    # ...while its masters are the band's (the WAV and FLAC downloads are the same bytes).
    assert "master-wav" not in {r["name"] for r in pub["renditions"]}


def test_state_changes_take_effect_on_the_next_request(catalog):
    cat = catalog
    pub = cat.client.get(f"/api/tracks/{cat.tracks[PUBLIC]}").get_json()
    mp3 = next(r["url"] for r in pub["renditions"] if r["name"] == "mp3-320")
    h = cat.auth("ivory")
    assert cat.client.patch(f"/api/tracks/{cat.tracks[PUBLIC]}", json={"release_state": "premium"},
                            headers=h).status_code == 200
    try:
        assert cat.client.get(media_path(mp3)).status_code == 404
        assert cat.client.get(media_path(pub["hls_url"])).status_code == 404
        assert fetch(cat, pub["preview_url"])[0] == 200
    finally:
        cat.client.patch(f"/api/tracks/{cat.tracks[PUBLIC]}", json={"release_state": "public"}, headers=h)
    assert fetch(cat, mp3)[0] == 200


def test_a_change_made_elsewhere_is_seen_within_the_public_key_window(catalog, monkeypatch):
    """A /media process remembers a public key public_key_cache_seconds (no database round trip per
    segment); a change made by another process (here: straight in the database, no session of this
    one) is seen once that window passes, and a key found private is never remembered."""
    import sqlalchemy as sa

    from companion.access.delivery import PUBLIC_KEYS

    cat = catalog
    now = [1000.0]
    monkeypatch.setattr(PUBLIC_KEYS, "clock", lambda: now[0])
    PUBLIC_KEYS.forget_all()
    pub = cat.client.get(f"/api/tracks/{cat.tracks[PUBLIC]}").get_json()
    mp3 = media_path(next(r["url"] for r in pub["renditions"] if r["name"] == "mp3-320"))
    window = cat.config.public_key_cache_seconds
    served = 302 if cat.store_kind == "s3" else 200  # S3: a redirect to a presigned URL
    assert window > 0
    other = sa.create_engine(cat.config.database_url)  # another process's connection
    set_state = sa.text("UPDATE tracks SET release_state = :s WHERE id = :id")
    try:
        assert cat.client.get(mp3).status_code == served
        with other.begin() as conn:
            conn.execute(set_state, {"s": "premium", "id": cat.tracks[PUBLIC]})
        now[0] += window / 2
        assert cat.client.get(mp3).status_code == served  # still inside the window
        now[0] += window
        assert cat.client.get(mp3).status_code == 404  # the window passed: the catalog is asked again
        now[0] += window / 2
        assert cat.client.get(mp3).status_code == 404  # ...and "private" was not remembered as anything
        with other.begin() as conn:
            conn.execute(set_state, {"s": "public", "id": cat.tracks[PUBLIC]})
        assert cat.client.get(mp3).status_code == served  # public again: served at once
    finally:
        with other.begin() as conn:
            conn.execute(set_state, {"s": "public", "id": cat.tracks[PUBLIC]})
        other.dispose()
        PUBLIC_KEYS.forget_all()


@pytest.mark.parametrize("catalog", ["s3"], indirect=True)
def test_s3_presigned_redirects_are_made_per_request_and_expire_with_the_signature(catalog, fan_with_purchase):
    cat = catalog
    t = entitled_track(cat)
    flac = next(r["url"] for r in t["renditions"] if r["name"] == "flac")
    exp = int(parse_qs(urlsplit(flac).query)["exp"][0])
    r = cat.client.get(media_path(flac))
    assert r.status_code == 302 and r.headers["Cache-Control"] == "private, no-store"
    loc = r.headers["Location"]
    expires = int(parse_qs(urlsplit(loc).query)["X-Amz-Expires"][0])
    assert 0 < expires <= exp - time.time() + 2
    got = requests.get(loc, headers={"Range": "bytes=0-3"}, timeout=10)
    assert got.status_code == 206 and got.content == b"fLaC"
    assert requests.get(loc.split("?")[0], timeout=10).status_code == 403  # the bucket itself is private


@pytest.mark.parametrize("catalog", ["local"], indirect=True)  # on S3 the bucket answers ranges after the redirect
def test_a_range_past_the_end_is_416_with_the_size(catalog):
    cat = catalog
    pub = cat.client.get(f"/api/tracks/{cat.tracks[PUBLIC]}").get_json()
    mp3 = next(r for r in pub["renditions"] if r["name"] == "mp3-320")
    r = cat.client.get(media_path(mp3["url"]), headers={"Range": f"bytes={mp3['size'] + 10}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{mp3['size']}"
    body = r.get_json()
    assert body["code"] == "range_not_satisfiable" and body["details"]["size"] == mp3["size"]
    ok = cat.client.get(media_path(mp3["url"]), headers={"Range": f"bytes={mp3['size'] - 4}-"})
    assert ok.status_code == 206 and len(ok.data) == 4


def test_nothing_public_names_a_private_key_anywhere(catalog):
    """One sweep over every public response shape, as anonymous and as a fan without rights."""
    cat = catalog
    paths = ["/api/tracks", "/api/albums", f"/api/albums/{cat.album_id}", f"/embed/album/{cat.album_id}",
             f"/oembed?url=http://localhost/embed/album/{cat.album_id}"]
    paths += [f"/api/tracks/{i}" for i in cat.tracks.values()] + [f"/embed/track/{i}" for i in cat.tracks.values()]
    pub = cat.client.get(f"/api/tracks/{cat.tracks[PUBLIC]}").get_json()
    paths += [media_path(pub["hls_url"])] + [media_path(p["url"]) for p in pub["peaks"]]
    texts = []
    for headers in ({}, cat.listener(OTHER_FAN)):
        for p in paths:
            r = cat.client.get(p, headers=headers)
            if r.status_code == 200:
                texts.append(r.get_data(as_text=True))
    blob = "\n".join(texts)
    assert len(texts) >= 2 * (len(paths) - 4)  # the drafts' and unreleased tracks' pages are 404s
    for name in (PREMIUM, UNRELEASED, DRAFT):
        assert leaks(blob, cat, name) == [], name


def test_anonymous_track_views_are_remembered_briefly_and_never_given_to_anyone_else(catalog, fan_with_purchase,
                                                                                      monkeypatch):
    """An anonymous caller's track JSON (and embed page) of a released track is remembered by the process for
    public_key_cache_seconds; a change flushed by this process is seen at once, one made by another process
    once the window passes; a signed-in fan never gets the anonymous view (their signed URLs are theirs)."""
    import sqlalchemy as sa

    from companion.access.delivery import PUBLIC_VIEWS

    cat = catalog
    now = [5000.0]
    monkeypatch.setattr(PUBLIC_VIEWS, "clock", lambda: now[0])
    PUBLIC_VIEWS.forget_all()
    window = cat.config.public_key_cache_seconds
    tid = cat.tracks[PREMIUM]
    url = f"/api/tracks/{tid}"
    other = sa.create_engine(cat.config.database_url)  # another process's connection
    set_desc = sa.text("UPDATE tracks SET description = :t WHERE id = :id")
    before = cat.client.get(url, headers=cat.auth("ivory")).get_json()["description"]
    try:
        anon = cat.client.get(url).get_json()
        assert anon["access"]["stream"] == "preview" and anon["hls_url"] is None
        # the entitled fan, right after: their own full view, signed for them, not the remembered one
        fan = entitled_track(cat)
        assert fan["hls_url"] and "sig=" in fan["hls_url"] and fan["access"]["why"] == "entitled"
        assert cat.client.get(url).get_json() == anon
        with other.begin() as conn:
            conn.execute(set_desc, {"t": "Changed elsewhere", "id": tid})
        now[0] += window / 2
        assert cat.client.get(url).get_json()["description"] == before  # inside the window
        assert entitled_track(cat)["description"] == "Changed elsewhere"  # the fan asks the catalog
        now[0] += window
        assert cat.client.get(url).get_json()["description"] == "Changed elsewhere"  # the window passed
        # a change made here (the band's PATCH) is seen at once
        page = cat.client.get(f"/embed/track/{tid}").get_data(as_text=True)
        assert "Changed elsewhere" in page
        r = cat.client.patch(url, json={"description": "Changed here"}, headers=cat.auth("ivory"))
        assert r.status_code == 200
        assert cat.client.get(url).get_json()["description"] == "Changed here"
        assert "Changed here" in cat.client.get(f"/embed/track/{tid}").get_data(as_text=True)
        # unreleased: not found at once for anonymous callers, and not found is never remembered
        assert cat.client.patch(url, json={"release_state": "draft"}, headers=cat.auth("ivory")).status_code == 200
        assert cat.client.get(url).status_code == 404
        assert cat.client.get(f"/embed/track/{tid}").status_code == 404
    finally:
        with other.begin() as conn:
            conn.execute(set_desc, {"t": before, "id": tid})
        cat.client.patch(url, json={"release_state": "premium"}, headers=cat.auth("ivory"))
        other.dispose()
        PUBLIC_VIEWS.forget_all()
