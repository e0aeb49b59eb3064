"""A live companion with released tracks, and Debian's Chromium driven by Playwright.

One companion per session (SQLite, its own Redis queue and object store) serves the embed pages,
the player bundle, media and beacons on a free localhost port; tracks go through the real
release pipeline (upload -> RQ job -> renditions, HLS ladder, peaks).
"""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import build_config, free_port, make_audio, prepare, serving

ROOT = Path(__file__).resolve().parents[2]
PLAYER_DIR = ROOT / "player"


def build_player() -> Path:
    """npm ci (when node_modules is missing) and npm run build; the dist folder."""
    if not (PLAYER_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PLAYER_DIR, check=True)
    dist = PLAYER_DIR / "dist" / "player.js"
    sources = list((PLAYER_DIR / "src").glob("*")) + [PLAYER_DIR / "build.mjs", PLAYER_DIR / "package-lock.json"]
    if not dist.exists() or max(p.stat().st_mtime for p in sources) > dist.stat().st_mtime:
        subprocess.run(["npm", "run", "build", "--silent"], cwd=PLAYER_DIR, check=True, capture_output=True)
    return dist.parent


class LiveCompanion:
    def __init__(self, app, url, tokens, tracks, album):
        self.app, self.url, self.tokens, self.tracks, self.album = app, url, tokens, tracks, album

    def auth(self, who="ivory"):
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def events(self, **filters):
        import sqlalchemy as sa

        from companion.analytics.ingest import drain
        from companion.analytics.models import PlaybackEvent

        svc = self.app.extensions["scripthammer"]
        drain(svc)  # what the stream's consumers would have written by now
        with svc.db.session() as s:
            q = sa.select(PlaybackEvent).order_by(PlaybackEvent.received_at, PlaybackEvent.event_uid)
            for k, v in filters.items():
                q = q.where(getattr(PlaybackEvent, k) == v)
            return list(s.scalars(q))


def release_tracks(app, tokens, config, specs, album_title="Live Album"):
    """Create an album and one public track per (title, seconds, volume_db) spec; release each through the pipeline."""
    from rq import SimpleWorker

    from jobs import context

    client = app.test_client()
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    album = client.post("/api/albums", json={"title": album_title, "release_state": "public", "year": 2026},
                        headers=h).get_json()
    ids = []
    work = config.var_dir / "recordings"
    work.mkdir(parents=True, exist_ok=True)
    for n, (title, seconds, vol) in enumerate(specs, start=1):
        t = client.post("/api/tracks", json={"title": title, "release_state": "public", "album_id": album["id"],
                                             "track_number": n, "year": 2026}, headers=h).get_json()
        wav = make_audio(work / f"take{n}.wav", seconds=seconds, volume_db=vol)
        with open(wav, "rb") as fh:
            r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, wav.name)}, headers=h,
                            content_type="multipart/form-data")
        assert r.status_code == 202, r.get_json()
        ids.append(t["id"])
    context.configure(config)
    svc = app.extensions["scripthammer"]
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    tracks = [client.get(f"/api/tracks/{i}").get_json() for i in ids]
    for t in tracks:
        assert t["status"] == "ready", t
    return tracks, client.get(f"/api/albums/{album['id']}").get_json()


@pytest.fixture(scope="session")
def live(tmp_path_factory, redis_url):
    """The companion on a free port, with an album of three released tracks (20 s, 8 s, 8 s)."""
    from companion import create_app

    build_player()
    tmp = tmp_path_factory.mktemp("live")
    config = build_config(tmp, f"sqlite:///{tmp / 'companion.db'}", redis_url)
    tokens = prepare(config)
    application = create_app(config)
    tracks, album = release_tracks(application, tokens, config,
                                   [("Opening Riff", 20.0, -16), ("Second Wind", 8.0, -18), ("Coda", 8.0, -18)])
    with serving(application) as url:
        yield LiveCompanion(application, url, tokens, tracks, album)
    application.extensions["scripthammer"].close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1024, "height": 720})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright (tests/player)")


class HostSite:
    """Another origin on this machine (a stand-in for the band's WordPress site) serving given pages."""

    def __init__(self):
        from werkzeug.serving import make_server

        self.pages: dict[str, str] = {}
        self.posts: list[dict] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _wsgi(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.posts.append({"path": path, "body": environ["wsgi.input"].read(length).decode()})
            start_response("200 OK", [("Content-Type", "text/html")])
            return [b"<p>added to cart</p>"]
        body = self.pages.get(path)
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    def close(self):
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture(scope="session")
def host_site():
    site = HostSite()
    yield site
    site.close()
