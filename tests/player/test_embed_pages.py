"""Embed pages, oEmbed and the player bundle, through the Flask test client (no browser)."""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re

import pytest

from companion.embed.api import DIST_DIR, TRACK_HEIGHT, album_height


@pytest.fixture
def catalog(client, auth):
    h = auth("ivory")
    album = client.post("/api/albums", json={"title": "Night Drive", "release_state": "public"}, headers=h).get_json()
    ids = {}
    for n, (title, state) in enumerate([("Headlights", "public"), ("Toll Road", "premium"), ("Sketch", "draft")], 1):
        t = client.post("/api/tracks", json={"title": title, "release_state": state, "album_id": album["id"],
                                             "track_number": n}, headers=h).get_json()
        ids[title] = t["id"]
    return {"album": album["id"], **ids}


def config_of(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="scripthammer-config">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_track_page_has_the_player_inline_track_and_oembed_discovery(client, catalog):
    r = client.get(f"/embed/track/{catalog['Headlights']}", base_url="http://music.example")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    link = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html)
    assert link and "/oembed?url=http%3A%2F%2Fmusic.example%2Fembed%2Ftrack%2F" in link.group(1)
    assert 'rel="alternate"; type="application/json+oembed"' in r.headers["Link"]
    # boot.js (the fast start; inline when built, allowed by its hash) loads the bundle, which the page preloads.
    # The bundle's URLs carry its content hash when built (served immutable).
    main = re.search(r'data-main="(http://music\.example/player/player\.js(\?v=[0-9a-f]{16})?)" '
                     r'data-config="scripthammer-config"', html)
    assert main and (main.group(2) or not (DIST_DIR / "manifest.json").exists())
    assert f'<link rel="preload" href="{main.group(1)}" as="script">' in html
    boot = re.search(r'<script data-main="[^"]+" data-config="scripthammer-config">(.*?)</script>', html, re.S)
    if boot:
        digest = base64.b64encode(hashlib.sha256(boot.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in r.headers["Content-Security-Policy"]
        assert "ScriptHammerBoot" in boot.group(1)
    else:
        assert 'src="http://music.example/player/boot.js' in html
    cfg = config_of(html)
    assert cfg["track"]["id"] == catalog["Headlights"] and cfg["track"]["title"] == "Headlights"
    assert cfg["beaconUrl"] == "http://music.example/api/beacons" and cfg["keyboard"] == "document"
    assert "tip" not in cfg  # no WooCommerce tip product configured: no tip jar
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors *" in csp
    assert "X-Frame-Options" not in r.headers
    assert f"min-height: {TRACK_HEIGHT}px" in html


def test_inline_json_cannot_close_the_script_tag(client, auth, catalog):
    client.patch(f"/api/tracks/{catalog['Headlights']}", json={"title": "</script><script>alert(1)</script>"},
                 headers=auth("ivory"))
    html = client.get(f"/embed/track/{catalog['Headlights']}").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert config_of(html)["track"]["title"] == "</script><script>alert(1)</script>"
    assert "&lt;/script&gt;" in html  # in <title>, escaped


def test_tip_product_and_query_options_reach_the_player(app, client, catalog):
    cfg = app.config["SCRIPTHAMMER"]
    cfg.tip_url, cfg.tip_product_id, cfg.tip_presets, cfg.tip_currency = "https://band.example/tip/", "77", "2,5", "EUR"
    html = client.get(f"/embed/track/{catalog['Headlights']}?autoplay=1&vis=off&t=12").get_data(as_text=True)
    opts = config_of(html)
    assert opts["tip"] == {"url": "https://band.example/tip/", "productId": "77", "currency": "EUR", "presets": [2.0, 5.0]}
    assert opts["autoplay"] is True and opts["visualizer"] == "off" and opts["startAt"] == 12


def test_drafts_and_unknown_tracks_are_not_embedded_for_fans(client, catalog):
    for path in (f"/embed/track/{catalog['Sketch']}", "/embed/track/9999", "/embed/album/9999"):
        r = client.get(path)
        assert r.status_code == 404 and r.get_json()["code"] in {"track_not_found", "album_not_found"}


def test_album_page_lists_public_tracks_in_order(client, catalog):
    html = client.get(f"/embed/album/{catalog['album']}?track={catalog['Toll Road']}").get_data(as_text=True)
    cfg = config_of(html)
    assert [t["title"] for t in cfg["album"]["tracks"]] == ["Headlights", "Toll Road"]
    assert cfg["startTrack"] == catalog["Toll Road"]
    premium = cfg["album"]["tracks"][1]
    assert all(r["url"] is None for r in premium["renditions"] if r["kind"] != "preview")
    assert f"min-height: {album_height(2)}px" in html


@pytest.mark.parametrize("path", ["/embed/track/{id}", "/track/{id}", "/api/tracks/{id}"])
def test_oembed_for_a_track_url(client, catalog, path):
    url = "http://localhost" + path.format(id=catalog["Headlights"])
    r = client.get("/oembed", query_string={"url": url, "format": "json"})
    assert r.status_code == 200, r.get_json()
    o = r.get_json()
    assert o["version"] == "1.0" and o["type"] == "rich" and o["provider_name"] == "ScriptHammer"
    assert o["title"] == "Headlights" and o["author_name"] == "ScriptHammer"
    assert o["height"] == TRACK_HEIGHT and isinstance(o["width"], int)
    assert o["html"].startswith("<iframe ") and f'src="http://localhost/embed/track/{catalog["Headlights"]}"' in o["html"]


def test_oembed_for_an_album_with_size_limits(client, catalog):
    url = f"http://localhost/embed/album/{catalog['album']}"
    o = client.get("/oembed", query_string={"url": url, "maxwidth": 500, "maxheight": 300}).get_json()
    assert o["title"] == "Night Drive" and o["width"] == 500 and o["height"] == 300
    assert 'width="500" height="300"' in o["html"]


def test_oembed_refusals(client, catalog):
    track = f"http://localhost/embed/track/{catalog['Headlights']}"
    r = client.get("/oembed", query_string={"url": track, "format": "xml"})
    assert r.status_code == 501 and r.get_json()["code"] == "format_not_implemented"
    for url in ("https://elsewhere.example/embed/track/1", "http://localhost/somewhere/else",
                f"http://localhost/embed/track/{catalog['Sketch']}", "javascript:alert(1)"):
        r = client.get("/oembed", query_string={"url": url})
        assert r.status_code == 404, url
        assert r.get_json()["code"] in {"oembed_unknown_url", "track_not_found"}
    r = client.get("/oembed")
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_input"


@pytest.mark.skipif(not (DIST_DIR / "player.js").exists(), reason="player not built (npm run build in player/)")
def test_the_bundle_is_served_gzipped_when_accepted(client):
    plain = client.get("/player/player.js")
    assert plain.status_code == 200 and plain.mimetype == "text/javascript"
    assert plain.headers.get("Content-Encoding") is None and b"ScriptHammer" in plain.data
    zipped = client.get("/player/player.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["Vary"] == "Accept-Encoding" and zipped.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/player/player.css").mimetype == "text/css"
    assert "immutable" not in plain.headers["Cache-Control"]
    sha = json.loads((DIST_DIR / "manifest.json").read_text())["player.js"]["sha256"]
    versioned = client.get(f"/player/player.js?v={sha[:16]}")
    assert versioned.data == plain.data and "immutable" in versioned.headers["Cache-Control"]
    assert "immutable" not in client.get("/player/player.js?v=0123456789abcdef").headers["Cache-Control"]
    assert client.get("/player/embed-api.js").status_code == 200
    for bad in ("/player/../pyproject.toml", "/player/nope.js", "/player/.hidden.js", "/player/x.py"):
        assert client.get(bad).status_code == 404, bad
