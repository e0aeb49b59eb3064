"""Other rooms' private objects (the render room's quick previews): signed for the band member asking."""
from __future__ import annotations

from urllib.parse import urlsplit

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
seg_00000.m4s
#EXTINF:2.5,
seg_00001.m4s
#EXT-X-ENDLIST
"""


def test_a_private_preview_playlist_is_signed_for_the_band_member_and_refused_to_others(app, client, auth):
    from flask import g

    from companion.access.delivery import caller_media_url

    store = app.extensions["scripthammer"].store
    prefix = "previews/ab/" + "ab" * 32
    store.put_bytes(f"{prefix}/preview.m3u8", PLAYLIST.encode())
    for name in ("init.mp4", "seg_00000.m4s", "seg_00001.m4s"):
        store.put_bytes(f"{prefix}/{name}", name.encode() * 10)
    with app.test_request_context("/api/render/preview", headers=auth("reed")):
        url = caller_media_url(f"{prefix}/preview.m3u8")
    with app.test_request_context("/api/render/preview"):
        g.pop("identity", None)
        assert caller_media_url(f"{prefix}/preview.m3u8") is None  # anonymous: no URL at all
    assert "lid=m.reed" in url and "sig=" in url
    parts = urlsplit(url)
    text = client.get(f"{parts.path}?{parts.query}").get_data(as_text=True)
    uris = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(uris) == 2 and 'URI="init.mp4?exp=' in text
    for uri in uris:
        r = client.get(f"/media/{prefix}/{uri}")
        assert r.status_code == 200 and r.data.startswith(b"seg_")
    for name in ("preview.m3u8", "init.mp4", "seg_00000.m4s"):
        assert client.get(f"/media/{prefix}/{name}").status_code == 404
