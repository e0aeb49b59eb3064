"""A released catalog to attack: premium, public, unreleased and draft tracks through the real pipeline.

One companion per module and store ("local" folder and a real S3 API server), with an album
holding a premium track (with an SHF download attached the way the render room attaches it), a
public track, an unreleased and a draft track, all released through the real pipeline on RQ.
"""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from tests.conftest import build_config, make_audio, prepare


class Catalog:
    """The released catalog of one companion, and helpers to act as its callers."""

    def __init__(self, app, config, tokens, album_id, tracks):
        self.app, self.config, self.tokens, self.album_id, self.tracks = app, config, tokens, album_id, tracks
        self.client = app.test_client()
        self.svc = app.extensions["scripthammer"]

    def auth(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def listener(self, wp_user_id: int, name: str = "") -> dict:
        """Headers carrying a fresh listener token for WordPress user ``wp_user_id``."""
        from companion.access.tokens import make_listener_token

        return {"Authorization": f"Bearer {make_listener_token(self.config.wp_shared_secret, wp_user_id, display_name=name)}"}

    def entitle(self, wp_user_id: int, scope: str, ref: str | None = None, source: str = "purchase") -> str:
        """Give a fan an entitlement (as commerce does); returns its source reference."""
        from companion.access import service

        ref = ref or f"wc-order:{uuid.uuid4().hex[:8]}"
        with self.svc.db.session() as s:
            fan = service.listener_for(s, wp_user_id)
            service.upsert(s, listener=fan, source=source, source_ref=ref, scope=scope, granted_by="test")
        return ref

    def revoke(self, ref: str, source: str = "purchase") -> None:
        from companion.access import service

        with self.svc.db.session() as s:
            service.revoke(s, source=source, source_ref=ref, reason="refunded")

    def row(self, name: str):
        """The track row (renditions loaded) of one of the catalog's tracks."""
        from companion.catalog.models import Track

        with self.svc.db.session() as s:
            t = s.get(Track, self.tracks[name])
            t.renditions  # noqa: B018 - load them
            return t

    def private_keys(self, name: str) -> dict[str, str]:
        """label -> key of every object of a track that is not public: what must never be reachable."""
        t = self.row(name)
        store = self.svc.store
        keys = {f"rendition:{r.name}": r.key for r in t.renditions if r.kind != "preview"}
        ladder = t.hls_key.rsplit("/", 1)[0]
        for k in store.list(ladder + "/"):
            base = k.rsplit("/", 1)[1]
            if base.endswith(".m3u8") or base.endswith("_init.mp4") or base.endswith("_00000.m4s"):
                keys[f"hls:{base}"] = k
        if t.ab_hls_key:  # a premium track's A/B variants: playlists, init, both variants of a segment
            doc = json.loads(store.get_bytes(t.ab_hls_key.rsplit("/", 1)[0] + "/ab.json"))
            keys["ab:master"] = doc["master_key"]
            for v in doc["variants"]:
                keys[f"ab:{v['playlist_key'].rsplit('/', 1)[1]}"] = v["playlist_key"]
                keys[f"ab:{v['init']}"] = v["init_key"]
                a, b = v["segments"][0]
                keys[f"ab:{v['bitrate']}:a0"], keys[f"ab:{v['bitrate']}:b0"] = f"{doc['prefix']}/{a}", f"{doc['prefix']}/{b}"
            keys["ab:description"] = t.ab_hls_key.rsplit("/", 1)[0] + "/ab.json"
        keys["source"] = t.source_key
        # The release manifest names every key of the release (the job does not record its key on the track).
        keys["manifest"] = next(k for k in store.list("manifests/") if t.hls_key.encode() in store.get_bytes(k))
        return keys


def _release(app, tokens, config, album_id, specs):
    """Create tracks (title, state, seconds) in the album and release each through the pipeline on RQ."""
    from rq import SimpleWorker

    from jobs import context

    client = app.test_client()
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    ids = {}
    work = config.var_dir / "recordings"
    work.mkdir(parents=True, exist_ok=True)
    for n, (title, state, seconds) in enumerate(specs, start=1):
        t = client.post("/api/tracks", json={"title": title, "release_state": state, "album_id": album_id,
                                             "track_number": n}, headers=h).get_json()
        wav = make_audio(work / f"take{n}.wav", seconds=seconds, volume_db=-6 - n)
        with open(wav, "rb") as fh:
            r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, wav.name)}, headers=h,
                            content_type="multipart/form-data")
        assert r.status_code == 202, r.get_json()
        ids[title] = t["id"]
    context.configure(config)
    svc = app.extensions["scripthammer"]
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    for title, tid in ids.items():
        got = client.get(f"/api/tracks/{tid}", headers=h).get_json()
        assert got["status"] == "ready", got
    return ids


def _attach_shf(app, track_id: int) -> str:
    """An SHF download on the track, attached as the render room does (companion/render/publish.py)."""
    from companion.render.publish import attach_shf
    from companion.storage.base import content_key

    svc = app.extensions["scripthammer"]
    data = b"PK\x03\x04 a stand-in bundle for the delivery tests " + uuid.uuid4().bytes
    sha = hashlib.sha256(data).hexdigest()
    key = content_key("shf", sha, "locked-groove.shf")
    svc.store.put_bytes(key, data, "application/vnd.scripthammer.shf+zip")
    with svc.db.session() as s:
        attach_shf(s, track_id, key, len(data), sha, 6.0)
    return key


@pytest.fixture(scope="module", params=["local", "s3"])
def catalog(request, tmp_path_factory, redis_url):
    from companion import create_app
    from jobs import context

    extra = {}
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        extra = dict(storage="s3", s3_endpoint_url=endpoint, s3_bucket=f"shm-{uuid.uuid4().hex[:10]}",
                     s3_access_key_id="testing", s3_secret_access_key="testing", s3_region="us-east-1")
    tmp = tmp_path_factory.mktemp(f"access-{request.param}")
    config = build_config(tmp, f"sqlite:///{tmp / 'companion.db'}", redis_url, **extra)
    tokens = prepare(config)
    app = create_app(config)
    client = app.test_client()
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    album = client.post("/api/albums", json={"title": "Vault", "release_state": "public"}, headers=h).get_json()
    ids = _release(app, tokens, config, album["id"], [("Locked Groove", "premium", 6.0), ("Open Air", "public", 5.0),
                                                      ("Backroom", "unreleased", 5.0), ("Sketch", "draft", 5.0)])
    _attach_shf(app, ids["Locked Groove"])
    _attach_shf(app, ids["Sketch"])
    cat = Catalog(app, config, tokens, album["id"], ids)
    cat.store_kind = request.param
    yield cat
    context.configure(None)
    app.extensions["scripthammer"].close()
